//! One client connection: frames in, responses out, in request order.
//!
//! A reader decodes frames and starts a handler task per request, so many
//! requests of one connection are in flight together (and their appends share
//! group commits); a writer awaits the handlers in arrival order and writes
//! each response: the header and body, then every record chunk as it is
//! (cache buffers, disk read buffers), never copying payloads.
//!
//! A framing error (garbage, a bad length, an oversized frame) closes the
//! connection after the responses already due are written; a request that
//! frames correctly but doesn't decode gets an error response and the
//! connection goes on.

use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use futures::channel::{mpsc, oneshot};
use futures::io::ReadHalf;
use futures::{AsyncReadExt, AsyncWriteExt, SinkExt, StreamExt};

use crate::shard::Shard;
use corelog_runtime::TcpStream;

use super::context::ServerContext;
use super::handlers;
use super::metrics::ConnectionGuard;
use crate::limits::{
    MAX_IDLE_BUFFER_BYTES, MAX_IN_FLIGHT_PER_CONNECTION, MAX_READ_BYTES, MIN_READ_BYTES, READ_GROWTH,
    ZERO_COPY_MIN_FRAME_BYTES,
};
use corelog_protocol::{
    decode_request, encode_response, EncodedFrame, ErrorCode, ErrorResponse, FrameDecoder, Response,
};

/// Serves one connection until the client goes away, a framing error, or the
/// shard stops (then the socket is closed at once).
/// `_open` counts the connection from its accept (so a burst of accepts
/// cannot overshoot `max_connections_per_core` before their tasks run)
/// until it closes.
pub async fn serve(stream: TcpStream, shard: Rc<Shard>, context: Rc<ServerContext>, _open: ConnectionGuard) {
    let stopping = shard.clone();
    let stopped = std::pin::pin!(stopping.stopped());
    let session = std::pin::pin!(session(stream, shard, context));
    futures::future::select(session, stopped).await;
}

async fn session(stream: TcpStream, shard: Rc<Shard>, context: Rc<ServerContext>) {
    let peer_addr = stream.peer_addr().ok();
    let peer = peer_addr.map(|a| a.to_string()).unwrap_or_default();
    // The client's address as group descriptions show it.
    let client_host: Rc<str> = peer_addr.map(|a| a.ip().to_string()).unwrap_or_default().into();
    let (mut reader, mut writer) = stream.split();
    let (tx, mut rx) = mpsc::channel::<oneshot::Receiver<Option<EncodedFrame>>>(MAX_IN_FLIGHT_PER_CONNECTION);

    let writing = corelog_runtime::spawn(async move {
        while let Some(response) = rx.next().await {
            let Ok(Some(frame)) = response.await else { continue };
            if write_frame(&mut writer, &frame).await.is_err() {
                return;
            }
        }
        let _ = writer.close().await;
    });

    let mut decoder = FrameDecoder::with_max_frame_len(context.config.max_frame_bytes);
    let mut tx = tx;
    // The bytes of this connection's receive buffer, reserved from the core's
    // request memory before they are read (see `read_size`).
    let mut held = context.request_memory.empty_permit();
    // When the first byte of the request now arriving came in.
    let mut request_started: Option<Instant> = None;
    'read: loop {
        let want = read_size(decoder.buffered_len(), decoder.bytes_needed());
        let (deadline, waiting_for) = read_deadline(&context, request_started);
        // Back-pressure: with the core's request memory spent, this socket is
        // not read until handled requests give some back.
        let Some(grant) = reserve(&context, want, deadline, &peer, waiting_for).await else { break };
        held.merge(grant);
        let n = read_within(&mut reader, decoder.buffer_mut(), want, deadline, &peer, waiting_for).await;
        held.shrink_to(decoder.buffered_len());
        if n == 0 {
            break;
        }
        request_started.get_or_insert_with(Instant::now);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    // The frame's bytes stay reserved until its handler is
                    // done with them.
                    let reserved = held.split(frame.header.frame_len());
                    request_started = (decoder.buffered_len() > 0).then(Instant::now);
                    // Detached: a request runs to the end even if the client
                    // leaves (an append is never abandoned halfway).
                    let (shard, context, host) = (shard.clone(), context.clone(), client_host.clone());
                    let (done, response) = oneshot::channel();
                    corelog_runtime::spawn_detached(async move {
                        let response = handle(frame, &shard, &context, &host).await;
                        drop(reserved);
                        let _ = done.send(response);
                    });
                    if tx.send(response).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "framing error; closing the connection");
                    break 'read;
                }
            }
        }
        // Between requests a connection keeps a small buffer, not the
        // largest one it ever needed.
        let buf = decoder.buffer_mut();
        if buf.is_empty() && buf.capacity() > MAX_IDLE_BUFFER_BYTES {
            *buf = bytes::BytesMut::new();
        }
    }
    drop(tx);
    writing.join().await;
}

/// When the read a connection waits for must be done, and what it waits
/// for (for the log): the rest of a request whose first bytes came in at
/// `request_started` (`request_receive_timeout`), or the next request
/// (`connection_idle_timeout`). Shared by the native and Kafka loops.
pub(crate) fn read_deadline(context: &ServerContext, request_started: Option<Instant>) -> (Instant, &'static str) {
    match request_started {
        Some(at) => (at + context.config.request_receive_timeout, "the rest of a request"),
        None => (Instant::now() + context.config.connection_idle_timeout, "a request"),
    }
}

/// Reserves `want` bytes of the core's request memory by `deadline`; None
/// (logged): close the connection.
pub(crate) async fn reserve(
    context: &ServerContext,
    want: usize,
    deadline: Instant,
    peer: &str,
    waiting_for: &str,
) -> Option<corelog_runtime::sync::Permit> {
    let grant = corelog_runtime::timeout_at(deadline, context.request_memory.acquire_many(want)).await;
    if grant.is_none() {
        tracing::debug!(%peer, "no request memory within the deadline for {waiting_for}; closing");
    }
    grant
}

/// Reads at most `want` bytes onto the end of `buf` by `deadline`: the bytes
/// read, 0 at the end of the stream, on an error or past the deadline
/// (logged): close the connection.
pub(crate) async fn read_within(
    reader: &mut ReadHalf<TcpStream>,
    buf: &mut BytesMut,
    want: usize,
    deadline: Instant,
    peer: &str,
    waiting_for: &str,
) -> usize {
    match corelog_runtime::timeout_at(deadline, corelog_runtime::read_appending(reader, buf, want)).await {
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            tracing::debug!(%peer, error = %e, "read failed");
            0
        }
        None => {
            tracing::debug!(%peer, "waited too long for {waiting_for}; closing");
            0
        }
    }
}

/// How much to read next, given the bytes of the frame being received so far
/// and how many more it needs (if its length has arrived).
///
/// - Never more than [`READ_GROWTH`] times the bytes already buffered (at
///   least [`MIN_READ_BYTES`]): the buffer grows with bytes that actually
///   arrived, not with a length a header announces.
/// - A frame of at least [`ZERO_COPY_MIN_FRAME_BYTES`] is read exactly to its
///   end, so it ends its receive buffer and shares it with no later frame:
///   produce keeps slices of such frames in the tail cache, and a slice keeps
///   its whole buffer alive.
/// - Smaller frames are read at least [`MIN_READ_BYTES`] at a time, so
///   pipelined small requests share reads.
pub(crate) fn read_size(buffered: usize, needed: Option<usize>) -> usize {
    let most = buffered.saturating_mul(READ_GROWTH).clamp(MIN_READ_BYTES, MAX_READ_BYTES);
    match needed {
        Some(needed) if needed > 0 && buffered + needed >= ZERO_COPY_MIN_FRAME_BYTES => needed.min(most),
        needed => needed.unwrap_or(0).clamp(MIN_READ_BYTES, most),
    }
}

/// Writes the head, then each data chunk as it is. Not one vectored write:
/// glommio 0.9's TCP stream has no vectored send (`poll_write_vectored` falls
/// back to one piece per call), so each piece is its own io_uring send.
/// Copying small chunks together would save sends at the cost of the
/// zero-copy path; large fetch responses are a few 1 MiB pieces anyway.
async fn write_frame<W: futures::AsyncWrite + Unpin>(writer: &mut W, frame: &EncodedFrame) -> std::io::Result<()> {
    writer.write_all(&frame.head).await?;
    for chunk in &frame.data {
        writer.write_all(chunk).await?;
    }
    writer.flush().await
}

/// Decodes and serves one request; None when no response is due (acks=0).
async fn handle(
    frame: corelog_protocol::Frame,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> Option<EncodedFrame> {
    let header = frame.header;
    let correlation_id = header.correlation_id();
    let response = match decode_request(&frame) {
        Ok(request) => {
            drop(frame);
            handlers::handle(request, header.frame_len(), shard, context, client_host).await?
        }
        Err(e) => {
            tracing::debug!(error = %e, "undecodable request");
            Response::Error(ErrorResponse::for_request(&header, &e))
        }
    };
    match encode_response(correlation_id, &response) {
        Ok(frame) => Some(frame),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a response");
            let fallback = Response::Error(ErrorResponse {
                api_key: header.api_key_raw(),
                api_version: header.api_version(),
                error: ErrorCode::UnknownServerError,
                message: Some(format!("response could not be encoded: {e}")),
            });
            encode_response(correlation_id, &fallback).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_frames_are_read_exactly_to_their_end() {
        assert_eq!(read_size(0, None), MIN_READ_BYTES, "a frame's start");
        assert_eq!(read_size(10, Some(100)), MIN_READ_BYTES, "small frames share reads");
        let rest = 200 * 1024 - MIN_READ_BYTES;
        assert_eq!(read_size(MIN_READ_BYTES, Some(rest)), rest);
        assert_eq!(read_size(ZERO_COPY_MIN_FRAME_BYTES - 10, Some(10)), 10, "nothing past the end of a big frame");
    }

    #[test]
    fn reads_grow_with_what_arrived_not_with_what_was_announced() {
        // A header announcing 8 MiB: 64 KiB, then READ_GROWTH x what arrived.
        let announced = 8 << 20;
        assert_eq!(read_size(32, Some(announced - 32)), MIN_READ_BYTES);
        assert_eq!(read_size(MIN_READ_BYTES / 4, Some(announced)), (MIN_READ_BYTES / 4) * READ_GROWTH);
        assert_eq!(read_size(MIN_READ_BYTES, Some(announced - MIN_READ_BYTES)), MAX_READ_BYTES);
        // Small frames: the floor, within the growth bound.
        assert_eq!(read_size(0, Some(100)), MIN_READ_BYTES);
    }
}
