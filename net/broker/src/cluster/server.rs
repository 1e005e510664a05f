//! The controller port: accepts connections (at most
//! `MAX_CONTROLLER_CONNECTIONS`), cuts frames out of each (none larger than
//! `MAX_CONTROLLER_FRAME_BYTES`), handles up to
//! `MAX_CONTROLLER_IN_FLIGHT_PER_CONNECTION` requests of a connection at
//! once and answers them in order. A framing error (garbage, an oversized
//! length) closes the connection; a frame whose body does not decode gets
//! an error response and the connection goes on.
//!
//! Lives on: core 0 of a controller node (the accept task and one task per
//! connection, plus one per request).

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::future::{select, Either, Shared};
use futures::{AsyncReadExt, AsyncWriteExt, SinkExt, StreamExt};

use corelog_protocol::{
    decode_request, encode_response, EncodedFrame, ErrorCode, ErrorResponse, FrameDecoder, Response,
};
use corelog_runtime::{Task, TcpListener, TcpStream};

use super::requests::RequestHandler;
use crate::limits::{
    BIND_RETRY_PAUSE, CONTROLLER_READ_BYTES, MAX_CONTROLLER_CONNECTIONS, MAX_CONTROLLER_FRAME_BYTES,
    MAX_CONTROLLER_IN_FLIGHT_PER_CONNECTION,
};

/// Resolves when the service is dropped.
pub(super) type Shutdown = Shared<futures::channel::oneshot::Receiver<()>>;

/// Binds `addr`, retrying for `retry_for` while it is in use (a previous
/// process may still hold it).
pub(super) async fn bind(addr: SocketAddr, retry_for: Duration) -> std::io::Result<TcpListener> {
    let started = Instant::now();
    loop {
        match TcpListener::bind(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && started.elapsed() < retry_for => {
                corelog_runtime::sleep(BIND_RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

pub(super) async fn accept_loop(listener: TcpListener, handler: Rc<RequestHandler>, shutdown: Shutdown) {
    let open = Rc::new(Cell::new(0usize));
    loop {
        let accepted = match select(std::pin::pin!(listener.accept()), shutdown.clone()).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => return,
        };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "controller port: accept failed");
                corelog_runtime::sleep(BIND_RETRY_PAUSE).await;
                continue;
            }
        };
        if open.get() >= MAX_CONTROLLER_CONNECTIONS {
            tracing::warn!("controller port: {MAX_CONTROLLER_CONNECTIONS} connections open; closing a new one");
            continue;
        }
        open.set(open.get() + 1);
        let (open, handler, shutdown) = (open.clone(), handler.clone(), shutdown.clone());
        corelog_runtime::spawn_detached(async move {
            select(std::pin::pin!(session(stream, handler)), shutdown).await;
            open.set(open.get() - 1);
        });
    }
}

async fn session(stream: TcpStream, handler: Rc<RequestHandler>) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let (mut reader, mut writer) = stream.split();
    // The channel holds one more than its capacity per sender.
    let (mut tx, mut rx) = mpsc::channel::<Task<Option<EncodedFrame>>>(MAX_CONTROLLER_IN_FLIGHT_PER_CONNECTION - 1);
    let writing = corelog_runtime::spawn(async move {
        while let Some(task) = rx.next().await {
            let Some(frame) = task.join().await else { continue };
            let written = async {
                writer.write_all(&frame.head).await?;
                for chunk in &frame.data {
                    writer.write_all(chunk).await?;
                }
                writer.flush().await
            };
            if written.await.is_err() {
                return;
            }
        }
        let _ = writer.close().await;
    });
    let mut decoder = FrameDecoder::with_max_frame_len(MAX_CONTROLLER_FRAME_BYTES);
    let mut buf = vec![0u8; CONTROLLER_READ_BYTES];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "controller port: read failed");
                0
            }
        };
        if n == 0 {
            break;
        }
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let handler = handler.clone();
                    let task = corelog_runtime::spawn(async move { handle(frame, &handler).await });
                    if tx.send(task).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "controller port: framing error; closing the connection");
                    break 'read;
                }
            }
        }
    }
    drop(tx);
    writing.join().await;
}

async fn handle(frame: corelog_protocol::Frame, handler: &RequestHandler) -> Option<EncodedFrame> {
    let header = frame.header;
    let response = match decode_request(&frame) {
        Ok(request) => {
            drop(frame);
            handler.handle(request).await
        }
        Err(e) => {
            tracing::debug!(error = %e, "controller port: undecodable request");
            Response::Error(ErrorResponse::for_request(&header, &e))
        }
    };
    match encode_response(header.correlation_id(), &response) {
        Ok(frame) => Some(frame),
        Err(e) => {
            tracing::error!(error = %e, "controller port: cannot encode a response");
            let fallback = Response::Error(ErrorResponse {
                api_key: header.api_key_raw(),
                api_version: header.api_version(),
                error: ErrorCode::UnknownServerError,
                message: Some(format!("cannot encode the response: {e}")),
            });
            encode_response(header.correlation_id(), &fallback).ok()
        }
    }
}
