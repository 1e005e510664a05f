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

use crate::shard::Shard;
use corelog_runtime::TcpStream;

use super::context::ServerContext;
use super::handlers;
use crate::limits::MAX_IN_FLIGHT_PER_CONNECTION;
use crate::limits::MAX_READ_BYTES;
use crate::limits::MIN_READ_BYTES;
use corelog_protocol::{
    decode_request, encode_response, EncodedFrame, ErrorCode, ErrorResponse, FrameDecoder, Response,
};

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
        // Sized to the frame being read, within bounds: the buffer is
        // zero-filled before the read, so reads never grow it far past the data.
        let want = decoder.bytes_needed().unwrap_or(0).clamp(MIN_READ_BYTES, MAX_READ_BYTES);
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
            handlers::handle(request, shard, context, client_host).await?
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
