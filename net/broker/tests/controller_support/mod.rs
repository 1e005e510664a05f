//! Controller nodes, controller clients and broker agents, each on a thread
//! of its own with its own executor, driven from the test thread over
//! channels; plus a blocking wire client for raw frames.

#![allow(dead_code)]

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use corelog_broker::cluster::{
    BrokerAgent, BrokerEndpoint, ClusterSettings, ControllerClient, ControllerPeer, ControllerService,
};
use corelog_protocol::{
    decode_response, encode_request, BrokerHeartbeatResponse, ErrorCode, FrameDecoder, Request, Response,
};
use corelog_replication::metadata::cluster::{ClusterMetadata, Command};

pub use corelog_testkit::free_port;

pub fn controllers(ids: &[u32]) -> Vec<ControllerPeer> {
    ids.iter().map(|&node_id| ControllerPeer { node_id, host: "127.0.0.1".into(), port: free_port() }).collect()
}

/// Short times, so the tests run in seconds.
pub fn settings(node_id: u32, controllers: &[ControllerPeer]) -> ClusterSettings {
    ClusterSettings {
        session_timeout: Duration::from_millis(1500),
        heartbeat_interval: Duration::from_millis(200),
        metadata_poll_wait: Duration::from_millis(500),
        preferred_election_interval: Duration::from_secs(1),
        bind_retry: Duration::from_secs(5),
        ..ClusterSettings::new(node_id, controllers.to_vec())
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub is_leader: bool,
    pub leader: Option<u32>,
    pub metadata: ClusterMetadata,
    pub failure: Option<String>,
}

/// One controller node on its own thread.
pub struct ControllerNode {
    pub node_id: u32,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    control: flume::Sender<flume::Sender<NodeStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl ControllerNode {
    pub fn start(settings: ClusterSettings, dir: &Path) -> ControllerNode {
        let (ready_tx, ready_rx) = flume::bounded(1);
        let (control, requests) = flume::unbounded::<flume::Sender<NodeStatus>>();
        let (node_id, data_dir) = (settings.node_id, dir.to_path_buf());
        let thread = std::thread::spawn(move || {
            corelog_runtime::run_local(async move {
                let service = match ControllerService::start(settings, &data_dir).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(service.local_addr()));
                // Until the handle is dropped (the sender closes).
                while let Ok(reply) = requests.recv_async().await {
                    let _ = reply.send(NodeStatus {
                        is_leader: service.is_leader(),
                        leader: service.leader(),
                        metadata: (*service.metadata()).clone(),
                        failure: service.failure(),
                    });
                }
            })
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(20)).expect("controller thread died").expect("start");
        ControllerNode { node_id, addr, dir: dir.to_path_buf(), control, thread: Some(thread) }
    }

    pub fn status(&self) -> NodeStatus {
        let (tx, rx) = flume::bounded(1);
        self.control.send(tx).unwrap();
        rx.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    /// Stops the node: its executor and every task and socket of it go.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        let (tx, _) = flume::unbounded();
        self.control = tx;
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for ControllerNode {
    fn drop(&mut self) {
        self.shut();
    }
}

/// The one leader all `nodes` agree on, once they do.
pub fn agreed_leader(nodes: &[&ControllerNode], timeout: Duration) -> u32 {
    let mut leader = None;
    wait_until("one agreed leader", timeout, || {
        let statuses: Vec<NodeStatus> = nodes.iter().map(|n| n.status()).collect();
        let leaders: Vec<u32> =
            nodes.iter().zip(&statuses).filter(|(_, s)| s.is_leader).map(|(n, _)| n.node_id).collect();
        if leaders.len() == 1 && statuses.iter().all(|s| s.leader == Some(leaders[0])) {
            leader = Some(leaders[0]);
            true
        } else {
            false
        }
    });
    leader.unwrap()
}

type Image = Option<(u64, ClusterMetadata)>;

enum ClientOp {
    Write(Command, flume::Sender<Result<u64, (ErrorCode, String)>>),
    Heartbeat(u32, u64, u64, flume::Sender<Result<BrokerHeartbeatResponse, (ErrorCode, String)>>),
    MetadataUpdate(u64, Duration, flume::Sender<Result<Image, (ErrorCode, String)>>),
}

/// A `ControllerClient` on its own thread; each call blocks the test thread.
pub struct ClientThread {
    ops: Option<flume::Sender<ClientOp>>,
    thread: Option<JoinHandle<()>>,
}

const CALL_DEADLINE: Duration = Duration::from_secs(15);

impl ClientThread {
    pub fn start(controllers: Vec<ControllerPeer>) -> ClientThread {
        let (ops, rx) = flume::unbounded::<ClientOp>();
        let thread = std::thread::spawn(move || {
            corelog_runtime::run_local(async move {
                let client = ControllerClient::new(99, controllers);
                while let Ok(op) = rx.recv_async().await {
                    let deadline = Instant::now() + CALL_DEADLINE;
                    match op {
                        ClientOp::Write(c, reply) => {
                            let _ = reply.send(client.write(&c, deadline).await);
                        }
                        ClientOp::Heartbeat(n, e, v, reply) => {
                            let _ = reply.send(client.heartbeat(n, e, v, deadline).await);
                        }
                        ClientOp::MetadataUpdate(have, wait, reply) => {
                            let _ = reply.send(client.metadata_update(have, wait, deadline).await);
                        }
                    }
                }
            })
        });
        ClientThread { ops: Some(ops), thread: Some(thread) }
    }

    pub fn write(&self, command: Command) -> Result<u64, (ErrorCode, String)> {
        let (tx, rx) = flume::bounded(1);
        self.ops.as_ref().unwrap().send(ClientOp::Write(command, tx)).unwrap();
        rx.recv_timeout(CALL_DEADLINE + Duration::from_secs(5)).unwrap()
    }

    pub fn heartbeat(
        &self,
        node: u32,
        epoch: u64,
        applied: u64,
    ) -> Result<BrokerHeartbeatResponse, (ErrorCode, String)> {
        let (tx, rx) = flume::bounded(1);
        self.ops.as_ref().unwrap().send(ClientOp::Heartbeat(node, epoch, applied, tx)).unwrap();
        rx.recv_timeout(CALL_DEADLINE + Duration::from_secs(5)).unwrap()
    }

    pub fn metadata_update(&self, have: u64, wait: Duration) -> Result<Image, (ErrorCode, String)> {
        let (tx, rx) = flume::bounded(1);
        self.ops.as_ref().unwrap().send(ClientOp::MetadataUpdate(have, wait, tx)).unwrap();
        rx.recv_timeout(CALL_DEADLINE + Duration::from_secs(5)).unwrap()
    }
}

impl Drop for ClientThread {
    fn drop(&mut self) {
        self.ops.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `BrokerAgent` on its own thread; every image it hands over comes out
/// of `images`, and the agent "applies" it at once (sets the applied version).
pub struct AgentThread {
    pub images: flume::Receiver<Arc<ClusterMetadata>>,
    stop: Option<flume::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl AgentThread {
    pub fn start(settings: ClusterSettings, endpoint: BrokerEndpoint) -> AgentThread {
        let (images_tx, images) = flume::unbounded();
        let (stop, stopped) = flume::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            corelog_runtime::run_local(async move {
                let applied = Rc::new(Cell::new(0u64));
                let seen = applied.clone();
                let _agent = BrokerAgent::start(settings, endpoint, applied, move |image: Arc<ClusterMetadata>| {
                    seen.set(image.version);
                    let _ = images_tx.send(image);
                });
                let _ = stopped.recv_async().await;
            })
        });
        AgentThread { images, stop: Some(stop), thread: Some(thread) }
    }

    /// Stops the agent: its executor goes, it heartbeats no more.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AgentThread {
    fn drop(&mut self) {
        self.shut();
    }
}

/// A blocking client for raw frames and bytes.
pub struct WireClient {
    pub stream: TcpStream,
    decoder: FrameDecoder,
    next_id: u32,
}

impl WireClient {
    pub fn connect(addr: SocketAddr) -> WireClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        WireClient { stream, decoder: FrameDecoder::with_max_frame_len(1 << 30), next_id: 1 }
    }

    pub fn call(&mut self, request: &Request) -> Response {
        self.next_id += 1;
        let frame = encode_request(self.next_id, request).unwrap();
        self.stream.write_all(&frame.to_contiguous()).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(frame) = self.decoder.next_frame().unwrap() {
                assert_eq!(frame.header.correlation_id(), self.next_id);
                return decode_response(&frame).unwrap();
            }
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed");
            self.decoder.feed(&buf[..n]);
        }
    }

    /// Whether the server closed the connection (EOF or reset) within the
    /// read timeout.
    pub fn closed_by_peer(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                    return false
                }
                Err(_) => return true,
            }
        }
    }
}
