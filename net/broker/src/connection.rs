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

use futures::channel::{mpsc, oneshot};
use futures::{AsyncReadExt, AsyncWriteExt, SinkExt, StreamExt};

use crate::limits::ZERO_COPY_MIN_FRAME_BYTES;
use crate::shard::Shard;
use corelog_runtime::TcpStream;

use super::context::ServerContext;
use super::handlers;
use corelog_protocol::{
    decode_request, encode_response, EncodedFrame, ErrorCode, ErrorResponse, FrameDecoder, Response,
};

/// Requests of one connection being handled at once; more waits (back-pressure
/// on the client through TCP).
const MAX_IN_FLIGHT_PER_CONNECTION: usize = 64;

/// Smallest read into the frame buffer.
const MIN_READ_BYTES: usize = 64 * 1024;

/// Largest single read into the frame buffer.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// Serves one connection until the client goes away, a framing error, or the
/// shard stops (then the socket is closed at once).
pub async fn serve(stream: TcpStream, shard: Rc<Shard>, context: Rc<ServerContext>) {
    let stopping = shard.clone();
    let stopped = std::pin::pin!(stopping.stopped());
    let session = std::pin::pin!(session(stream, shard, context));
    futures::future::select(session, stopped).await;
}

async fn session(stream: TcpStream, shard: Rc<Shard>, context: Rc<ServerContext>) {
    let _open = context.metrics.connection_opened();
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
    'read: loop {
        let want = read_size(decoder.buffered_len(), decoder.bytes_needed());
        let buf = decoder.buffer_mut();
        let len = buf.len();
        buf.resize(len + want, 0);
        let n = match reader.read(&mut buf[len..]).await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "read failed");
                0
            }
        };
        decoder.buffer_mut().truncate(len + n);
        if n == 0 {
            break;
        }
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    // Detached: a request runs to the end even if the client
                    // leaves (an append is never abandoned halfway).
                    let (shard, context, host) = (shard.clone(), context.clone(), client_host.clone());
                    let (done, response) = oneshot::channel();
                    corelog_runtime::spawn_detached(async move {
                        let _ = done.send(handle(frame, &shard, &context, &host).await);
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
    }
    drop(tx);
    writing.join().await;
}

/// How much to read next, given the bytes of the frame being received so far
/// and how many more it needs (if its length has arrived). Sized to the frame
/// within bounds: the buffer is zero-filled before the read, so reads never
/// grow it far past the data. A frame of at least
/// `ZERO_COPY_MIN_FRAME_BYTES` is read exactly to its end, so it ends its
/// receive buffer and shares it with no later frame: produce keeps slices of
/// such frames in the tail cache, and a slice keeps its whole buffer alive.
/// Smaller frames are read at least `MIN_READ_BYTES` at a time, so pipelined
/// small requests share reads.
fn read_size(buffered: usize, needed: Option<usize>) -> usize {
    match needed {
        Some(needed) if needed > 0 && buffered + needed >= ZERO_COPY_MIN_FRAME_BYTES => needed.min(MAX_READ_BYTES),
        needed => needed.unwrap_or(0).clamp(MIN_READ_BYTES, MAX_READ_BYTES),
    }
}

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
        let rest = 512 * 1024 - MIN_READ_BYTES;
        assert_eq!(read_size(MIN_READ_BYTES, Some(rest)), rest);
        assert_eq!(read_size(ZERO_COPY_MIN_FRAME_BYTES - 10, Some(10)), 10, "nothing past the end of a big frame");
        assert_eq!(read_size(0, Some(8 << 20)), MAX_READ_BYTES);
    }
}
