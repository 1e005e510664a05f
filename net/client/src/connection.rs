//! [`Connection`]: one pipelined TCP connection to one broker endpoint (one
//! core of one node).
//!
//! Requests get increasing correlation ids and are queued to a writer task,
//! which writes each frame's head and then each data chunk as they are (the
//! record batches are never copied into a send buffer). A reader task cuts
//! response frames out of the stream and hands each to the request waiting
//! for its correlation id. At most [`ClientConfig::max_in_flight`] requests
//! are outstanding; more wait for a slot. A produce with
//! [`Acks::None`](corelog_protocol::Acks::None) gets no response: its request
//! completes once its frame is written.
//!
//! Any I/O or framing error closes the connection and fails every queued and
//! in-flight request with that (retriable) error; the [`Cluster`] pool then
//! opens a new connection on next use. A request that times out is
//! forgotten (a late response to it is dropped) without closing the
//! connection.
//!
//! Lives on: the core that created it (`!Send`); its tasks run there too.
//!
//! [`Cluster`]: super::Cluster

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use corelog_runtime::{Task, TcpStream};
use futures::channel::{mpsc, oneshot};
use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};

use super::config::ClientConfig;
use super::error::{ClientError, ClientResult};
use crate::limits::READ_BUFFER_BYTES;
use corelog_protocol::{
    decode_response, encode_request, ApiKey, ApiVersionsRequest, ApiVersionsResponse, EncodedFrame, Frame,
    FrameDecoder, ProduceResponse, Request, Response,
};
use corelog_runtime::sync::Semaphore;

/// A pipelined connection to one endpoint. Cheap to clone (shared handle);
/// closed when the last clone is dropped or [`Connection::close`] is called.
///
/// ```no_run
/// use corelog_client::{ClientConfig, Connection};
/// use corelog_protocol::{MetadataRequest, Request, Response};
///
/// # async fn demo() -> Result<(), corelog_client::ClientError> {
/// let conn = Connection::connect("127.0.0.1:9192".parse().unwrap(), &ClientConfig::default()).await?;
/// let Response::Metadata(meta) = conn.request(&Request::Metadata(MetadataRequest { topics: None })).await? else {
///     unreachable!("a metadata request is answered by a metadata response")
/// };
/// println!("{} topics", meta.topics.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    inner: Rc<Inner>,
}

struct Inner {
    shared: Rc<Shared>,
    request_timeout: Duration,
    versions: OnceCell<ApiVersionsResponse>,
    /// Reader and writer tasks; dropping them cancels them.
    tasks: RefCell<Vec<Task<()>>>,
}

/// What the request side and the two tasks share.
struct Shared {
    addr: SocketAddr,
    slots: Semaphore,
    state: RefCell<State>,
}

struct State {
    next_id: u32,
    pending: HashMap<u32, oneshot::Sender<ClientResult<Frame>>>,
    outgoing: Option<mpsc::UnboundedSender<Outgoing>>,
    closed: Option<ClientError>,
}

/// A frame queued for the writer; `written` is signalled once it is on the
/// wire (used for requests that get no response).
struct Outgoing {
    frame: EncodedFrame,
    written: Option<oneshot::Sender<()>>,
}

impl Shared {
    fn closed_error(&self) -> ClientError {
        self.state.borrow().closed.clone().unwrap_or(ClientError::Disconnected(self.addr))
    }

    fn check_open(&self) -> ClientResult<()> {
        match &self.state.borrow().closed {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    /// Closes the connection: every pending request fails with `err`, queued
    /// frames are dropped unwritten.
    fn fail(&self, err: ClientError) {
        let pending = {
            let mut state = self.state.borrow_mut();
            if state.closed.is_none() {
                tracing::debug!(addr = %self.addr, error = %err, "connection closed");
                state.closed = Some(err.clone());
            }
            state.outgoing = None;
            std::mem::take(&mut state.pending)
        };
        for (_, tx) in pending {
            let _ = tx.send(Err(err.clone()));
        }
    }

    fn deliver(&self, frame: Frame) {
        let id = frame.header.correlation_id();
        let waiter = self.state.borrow_mut().pending.remove(&id);
        match waiter {
            Some(tx) => {
                let _ = tx.send(Ok(frame));
            }
            None => tracing::debug!(addr = %self.addr, id, "dropping response to an abandoned request"),
        }
    }
}

/// Removes a pending entry if its request is abandoned (timeout, cancel).
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: u32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.state.borrow_mut().pending.remove(&self.id);
    }
}

impl Connection {
    /// Connects to `addr` and performs the ApiVersions handshake.
    pub async fn connect(addr: SocketAddr, config: &ClientConfig) -> ClientResult<Connection> {
        let stream = match corelog_runtime::timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Some(Ok(stream)) => stream,
            Some(Err(e)) => return Err(ClientError::io(addr, e)),
            None => return Err(ClientError::Timeout(config.connect_timeout)),
        };
        let (rd, wr) = stream.split();
        let (tx, rx) = mpsc::unbounded();
        let shared = Rc::new(Shared {
            addr,
            slots: Semaphore::new(config.max_in_flight),
            state: RefCell::new(State { next_id: 1, pending: HashMap::new(), outgoing: Some(tx), closed: None }),
        });
        let reader = corelog_runtime::spawn(read_loop(shared.clone(), rd, config.max_frame_bytes));
        let writer = corelog_runtime::spawn(write_loop(shared.clone(), wr, rx));
        let conn = Connection {
            inner: Rc::new(Inner {
                shared,
                request_timeout: config.request_timeout,
                versions: OnceCell::new(),
                tasks: RefCell::new(vec![reader, writer]),
            }),
        };
        let hello = Request::ApiVersions(ApiVersionsRequest { client_id: config.client_id.clone() });
        let Response::ApiVersions(versions) = conn.request(&hello).await? else {
            unreachable!("request() checks the response api")
        };
        super::error::check_code(versions.error, versions.error_message.clone())?;
        for api in ApiKey::ALL {
            if versions.negotiate(api).is_none() {
                tracing::warn!(%addr, %api, "broker does not speak this api at a version this client knows");
            }
        }
        let _ = conn.inner.versions.set(versions);
        Ok(conn)
    }

    /// The endpoint this connection talks to.
    pub fn addr(&self) -> SocketAddr {
        self.inner.shared.addr
    }

    /// The broker's answer to the handshake (its node id and api versions);
    /// `None` only while [`Connection::connect`] is still running.
    pub fn api_versions(&self) -> Option<&ApiVersionsResponse> {
        self.inner.versions.get()
    }

    /// Whether the connection is closed (after an error or [`Connection::close`]).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.state.borrow().closed.is_some()
    }

    /// Requests in flight or queued.
    pub fn in_flight(&self) -> usize {
        self.inner.shared.state.borrow().pending.len()
    }

    /// Closes the connection now; pending requests fail with [`ClientError::Closed`].
    pub fn close(&self) {
        self.inner.shared.fail(ClientError::Closed);
        self.inner.tasks.borrow_mut().clear();
    }

    /// Sends `request` and waits for its response, within the configured
    /// request timeout (plus a fetch's `max_wait_ms`).
    ///
    /// A [`Response::Error`] (the broker could not decode the request) is
    /// returned as [`ClientError::Broker`]; per-topic and per-partition error
    /// codes are left in the response for the caller. A request that gets no
    /// response (produce with `Acks::None`) completes once it is written, with
    /// an empty [`ProduceResponse`].
    pub async fn request(&self, request: &Request) -> ClientResult<Response> {
        let timeout = match request {
            Request::Fetch(f) => self.inner.request_timeout + Duration::from_millis(u64::from(f.max_wait_ms)),
            _ => self.inner.request_timeout,
        };
        self.request_with_timeout(request, timeout).await
    }

    /// [`Connection::request`] with an explicit timeout.
    pub async fn request_with_timeout(&self, request: &Request, timeout: Duration) -> ClientResult<Response> {
        match corelog_runtime::timeout(timeout, self.exchange(request)).await {
            Some(result) => result,
            None => Err(ClientError::Timeout(timeout)),
        }
    }

    async fn exchange(&self, request: &Request) -> ClientResult<Response> {
        let shared = &*self.inner.shared;
        shared.check_open()?;
        let _slot = shared.slots.acquire().await;
        shared.check_open()?;
        let id = {
            let mut state = shared.state.borrow_mut();
            let mut id = state.next_id;
            while state.pending.contains_key(&id) {
                id = id.wrapping_add(1);
            }
            state.next_id = id.wrapping_add(1);
            id
        };
        let frame = encode_request(id, request)?;
        if !request.expects_response() {
            let (written_tx, written) = oneshot::channel();
            self.enqueue(Outgoing { frame, written: Some(written_tx) })?;
            written.await.map_err(|_| shared.closed_error())?;
            return Ok(Response::Produce(ProduceResponse::default()));
        }
        let (tx, rx) = oneshot::channel();
        shared.state.borrow_mut().pending.insert(id, tx);
        let _guard = PendingGuard { shared, id };
        self.enqueue(Outgoing { frame, written: None })?;
        let frame = rx.await.map_err(|_| shared.closed_error())??;
        let response = decode_response(&frame)?;
        if response.api_key_raw() != request.api_key().code() {
            return Err(ClientError::Protocol(format!(
                "response with api key {} to a {} request (correlation id {id})",
                response.api_key_raw(),
                request.api_key()
            )));
        }
        match response {
            Response::Error(e) => Err(ClientError::broker(e.error, e.message)),
            response => Ok(response),
        }
    }

    fn enqueue(&self, outgoing: Outgoing) -> ClientResult<()> {
        let shared = &*self.inner.shared;
        let sent = match &shared.state.borrow().outgoing {
            Some(tx) => tx.unbounded_send(outgoing).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(shared.closed_error())
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("addr", &self.addr()).field("closed", &self.is_closed()).finish()
    }
}

async fn read_loop(shared: Rc<Shared>, mut rd: ReadHalf<TcpStream>, max_frame_bytes: usize) {
    let mut decoder = FrameDecoder::with_max_frame_len(max_frame_bytes);
    let err = loop {
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => shared.deliver(frame),
                Ok(None) => break,
                Err(source) => {
                    let err = ClientError::Framing { addr: shared.addr, source };
                    shared.fail(err);
                    return;
                }
            }
        }
        let want = read_size(decoder.bytes_needed());
        match corelog_runtime::read_appending(&mut rd, decoder.buffer_mut(), want).await {
            Ok(0) => break ClientError::Disconnected(shared.addr),
            Ok(_) => {}
            Err(e) => break connection_error(shared.addr, e),
        }
    };
    shared.fail(err);
}

/// How much to read next onto the decoder's buffer, given how many more
/// bytes the frame being received needs (if its length has arrived).
///
/// A large frame (a replica's or a consumer's fetch answer, megabytes) is
/// received into room for all of it, reserved once: read in pieces into a
/// scratch buffer and appended, it was copied twice and its buffer grew by
/// reallocation, each step a copy into freshly faulted pages (half of a
/// follower's CPU in an RF 3 profile). Its length is the broker's claim, but
/// one the decoder has already checked against the frame limit, so a
/// connection holds at most one frame limit unread. Reading no further than
/// its end lets the frame own its buffer, so the next one starts a new
/// buffer instead of copying this one's tail.
fn read_size(needed: Option<usize>) -> usize {
    match needed {
        Some(needed) if needed >= READ_BUFFER_BYTES => needed,
        _ => READ_BUFFER_BYTES,
    }
}

/// A reset or broken pipe is the peer closing on us (often with our next
/// request still unread in its socket, which turns its FIN into an RST), so
/// callers see the same `Disconnected` as for an orderly close.
fn connection_error(addr: SocketAddr, e: std::io::Error) -> ClientError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => ClientError::Disconnected(addr),
        _ => ClientError::io(addr, e),
    }
}

async fn write_loop(shared: Rc<Shared>, mut wr: WriteHalf<TcpStream>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    while let Some(out) = rx.next().await {
        if shared.check_open().is_err() {
            break;
        }
        let written = async {
            wr.write_all(&out.frame.head).await?;
            for chunk in &out.frame.data {
                wr.write_all(chunk).await?;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Err(e) = written.await {
            shared.fail(connection_error(shared.addr, e));
            break;
        }
        if let Some(tx) = out.written {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_frame_is_read_to_its_end_and_small_ones_share_reads() {
        // Length not arrived yet, or a small rest: one read buffer's worth.
        assert_eq!(read_size(None), READ_BUFFER_BYTES);
        assert_eq!(read_size(Some(10)), READ_BUFFER_BYTES);
        // A 3 MiB fetch answer: all of its rest at once, and not a byte past it.
        assert_eq!(read_size(Some(3 << 20)), 3 << 20);
        assert_eq!(read_size(Some(READ_BUFFER_BYTES)), READ_BUFFER_BYTES);
    }
}
