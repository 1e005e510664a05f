//! One Kafka client connection: frames in, responses out, in request order.
//!
//! The same protections as the native loop (`crate::connection`): every
//! read reserves its bytes from the core's request memory first, a request
//! must arrive whole within `request_receive_timeout`, an idle connection is
//! closed after `connection_idle_timeout`, and the accept loop counts this
//! connection against `max_connections_per_core`. Kafka clients pipeline
//! requests, so each request is handled by a task of its own and a writer
//! sends the responses in arrival order.
//!
//! Unlike the native protocol, a request Kafka cannot decode gets no error
//! response (a Kafka client could not match it to anything sensible): the
//! connection is closed after the responses already due, except that an
//! ApiVersions request of a version we do not support gets the v0 error
//! reply listing what we do, as Kafka brokers answer. Bytes after the end
//! of a request's body are ignored, as Kafka ignores them (see `decode`).

use std::rc::Rc;
use std::time::Instant;

use futures::channel::{mpsc, oneshot};
use futures::{AsyncReadExt, AsyncWriteExt, SinkExt, StreamExt};

use super::dispatch::Outcome;
use crate::connection::{read_deadline, read_size, read_within, reserve};
use crate::context::ServerContext;
use crate::limits::MAX_IN_FLIGHT_PER_CONNECTION;
use crate::metrics::ConnectionGuard;
use crate::shard::Shard;
use bytes::Bytes;
use corelog_kafka_protocol::{
    decode_request, encode_response, unsupported_version_response, ApiKey, DecodeError, EncodedFrame, FrameSplitter,
    Reader, Request, RequestBody, RequestError, RequestHeader,
};
use corelog_runtime::TcpStream;

/// How much of an undecodable frame a debug log line shows.
const MAX_LOGGED_FRAME_BYTES: usize = 256;

/// What the writer does for one request, in its turn.
enum Reply {
    Frame(EncodedFrame),
    /// acks=0 produce: nothing is sent.
    Nothing,
    /// The response could not be made: close the connection here.
    Close,
}

/// Serves one Kafka connection until the client goes away, a framing or
/// decoding error, or the shard stops (then the socket is closed at once).
pub async fn serve(stream: TcpStream, shard: Rc<Shard>, context: Rc<ServerContext>, _open: ConnectionGuard) {
    let stopping = shard.clone();
    let stopped = std::pin::pin!(stopping.stopped());
    let session = std::pin::pin!(session(stream, shard, context));
    futures::future::select(session, stopped).await;
}

async fn session(stream: TcpStream, shard: Rc<Shard>, context: Rc<ServerContext>) {
    let peer_addr = stream.peer_addr().ok();
    let peer = peer_addr.map(|a| a.to_string()).unwrap_or_default();
    let client_host: Rc<str> = peer_addr.map(|a| a.ip().to_string()).unwrap_or_default().into();
    let (mut reader, mut writer) = stream.split();
    let (mut tx, mut rx) = mpsc::channel::<oneshot::Receiver<Reply>>(MAX_IN_FLIGHT_PER_CONNECTION);

    let writing = corelog_runtime::spawn(async move {
        while let Some(reply) = rx.next().await {
            match reply.await {
                Ok(Reply::Frame(frame)) => {
                    if write_frame(&mut writer, &frame).await.is_err() {
                        return;
                    }
                }
                Ok(Reply::Nothing) => {}
                Ok(Reply::Close) | Err(_) => break,
            }
        }
        let _ = writer.close().await;
    });

    let mut splitter = FrameSplitter::for_requests(context.config.max_frame_bytes);
    let mut held = context.request_memory.empty_permit();
    let mut request_started: Option<Instant> = None;
    'read: loop {
        // Read straight into the splitter's buffer, a big frame exactly to
        // its end (`read_size`), so produce can keep its batches in it.
        let want = read_size(splitter.buffered(), splitter.bytes_needed());
        let (deadline, waiting_for) = read_deadline(&context, request_started);
        let Some(grant) = reserve(&context, want, deadline, &peer, waiting_for).await else { break };
        held.merge(grant);
        let n = read_within(&mut reader, splitter.buffer_mut(), want, deadline, &peer, waiting_for).await;
        held.shrink_to(splitter.buffered());
        if n == 0 {
            break;
        }
        request_started.get_or_insert_with(Instant::now);
        loop {
            let frame = match splitter.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "Kafka framing error; closing the connection");
                    break 'read;
                }
            };
            // The frame's bytes (and its size prefix) stay reserved until its
            // handler is done with them.
            let frame_len = frame.len() + 4;
            let reserved = held.split(frame_len);
            request_started = (splitter.buffered() > 0).then(Instant::now);
            let (done, reply) = oneshot::channel();
            match decode(frame.clone()) {
                Ok(request) => {
                    let (shard, context, host) = (shard.clone(), context.clone(), client_host.clone());
                    // Detached: a request runs to the end even if the client leaves.
                    corelog_runtime::spawn_detached(async move {
                        let (correlation_id, version) = (request.header.correlation_id, request.header.api_version);
                        let api = request.body.api_key();
                        let reply = match super::dispatch::handle(request, frame_len, &shard, &context, &host).await {
                            Outcome::NoResponse => Reply::Nothing,
                            Outcome::Respond(body) => match encode_response(correlation_id, version, &body) {
                                Ok(frame) => Reply::Frame(frame),
                                Err(e) => {
                                    tracing::error!(api = api.name(), version, error = %e, "cannot encode a Kafka response");
                                    Reply::Close
                                }
                            },
                        };
                        drop(reserved);
                        let _ = done.send(reply);
                    });
                }
                Err(RequestError::UnsupportedVersion { api_key: ApiKey::ApiVersions, correlation_id, version }) => {
                    tracing::debug!(%peer, version, "unsupported ApiVersions version; answering in v0");
                    let _ = done.send(match unsupported_version_response(correlation_id) {
                        Ok(frame) => Reply::Frame(frame),
                        Err(_) => Reply::Close,
                    });
                }
                Err(e) => {
                    let (api, version) = match &e {
                        RequestError::Malformed { header: Some(h), .. } => (h.api_key, h.api_version),
                        _ => (-1, -1),
                    };
                    tracing::warn!(%peer, api, version, error = %e, "undecodable Kafka request; closing the connection");
                    tracing::debug!(%peer, frame = ?&frame[..frame.len().min(MAX_LOGGED_FRAME_BYTES)], "the undecodable frame");
                    break 'read;
                }
            }
            if tx.send(reply).await.is_err() {
                break 'read;
            }
        }
    }
    drop(tx);
    writing.join().await;
}

/// Decodes a request frame, tolerating bytes after the end of the body as
/// Kafka's own broker does (it never checks that a request was read to its
/// end): librdkafka 2.16 sends Metadata v12 with three such bytes. Every
/// field is still read, bounded, from the bytes there are.
fn decode(frame: Bytes) -> Result<Request, RequestError> {
    match decode_request(frame.clone()) {
        Err(RequestError::Malformed { header: Some(header), error: DecodeError::TrailingBytes(extra) }) => {
            let Some(api) = ApiKey::from_i16(header.api_key) else {
                return Err(RequestError::Malformed { header: Some(header), error: DecodeError::TrailingBytes(extra) });
            };
            let version = header.api_version;
            let mut r = Reader::new(frame);
            let malformed = |error| RequestError::Malformed { header: Some(header.clone()), error };
            let header = RequestHeader::decode(&mut r, api.request_is_flexible(version)).map_err(malformed)?;
            let body = RequestBody::decode(api, &mut r, version).map_err(malformed)?;
            tracing::debug!(api = api.name(), version, extra, "ignored bytes after the end of a Kafka request");
            Ok(Request { header, body })
        }
        other => other,
    }
}

/// Writes each chunk as it is (record chunks are shared with the log's
/// buffers); see `crate::connection` for why not one vectored write.
async fn write_frame<W: futures::AsyncWrite + Unpin>(writer: &mut W, frame: &EncodedFrame) -> std::io::Result<()> {
    for chunk in frame.chunks() {
        writer.write_all(chunk).await?;
    }
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metadata v12 for every topic as librdkafka 2.16 (confluent-kafka
    /// 2.16's list_topics) sent it, captured from the wire: three bytes more
    /// than the schema has.
    const LIBRDKAFKA_METADATA_V12: &[u8] =
        &[0, 3, 0, 12, 0, 0, 0, 4, 0, 7, b'r', b'd', b'k', b'a', b'f', b'k', b'a', 0, 0, 0, 0, 0, 1, 0, 0];

    #[test]
    fn bytes_after_a_request_are_ignored_as_kafka_ignores_them() {
        let frame = Bytes::from_static(LIBRDKAFKA_METADATA_V12);
        assert!(matches!(
            decode_request(frame.clone()),
            Err(RequestError::Malformed { error: DecodeError::TrailingBytes(3), .. })
        ));
        let request = decode(frame).expect("decoded as Kafka would");
        assert_eq!((request.header.api_key, request.header.api_version, request.header.correlation_id), (3, 12, 4));
        assert!(
            matches!(&request.body, RequestBody::Metadata(m) if m.topics.is_none() && !m.allow_auto_topic_creation)
        );
    }

    #[test]
    fn other_malformed_requests_stay_errors() {
        // The same request cut short: its body does not decode.
        let cut = Bytes::copy_from_slice(&LIBRDKAFKA_METADATA_V12[..18]);
        assert!(matches!(decode(cut), Err(RequestError::Malformed { .. })));
        let unknown = Bytes::from_static(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        assert!(matches!(decode(unknown), Err(RequestError::UnknownApi { api_key: 999, .. })));
    }
}
