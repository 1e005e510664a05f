//! [`ControllerService`]: a controller node's quorum member, started on core
//! 0 of a node listed in `--controllers`. It opens the Raft log in
//! `<data_dir>/controller/`, starts the `QuorumNode` (voters: every
//! controller; raft id = node id + 1, since raft reserves 0), binds the
//! controller port of its own entry and runs the tick task, the Ready loop
//! (driver.rs), one peer link per other controller (peer_link.rs) and the
//! port's server (server.rs, requests.rs).
//!
//! Lives on: core 0 of a controller node; `!Send`. Dropping it stops every
//! task and closes the port and its connections.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::channel::{mpsc, oneshot};
use futures::FutureExt;

use corelog_replication::controller::{Event, LogStore, QuorumConfig, QuorumNode};
use corelog_replication::limits::CONTROLLER_TICK;
use corelog_replication::metadata::cluster::ClusterMetadata;
use corelog_runtime::Task;

use super::config::{raft_id, ClusterSettings};
use super::driver::Driver;
use super::peer_link::PeerLinks;
use super::requests::RequestHandler;
use super::server::{accept_loop, bind};
use super::state::ControllerState;

/// A running controller (see the module docs).
pub struct ControllerService {
    state: Rc<RefCell<ControllerState>>,
    local_addr: SocketAddr,
    _tasks: Vec<Task<()>>,
    /// Dropped with the service: every connection task ends.
    _shutdown: oneshot::Sender<()>,
}

impl ControllerService {
    /// Starts the controller of `settings.node_id`, which must be one of
    /// `settings.controllers`. Returns once the port listens and the log is
    /// open; the election happens afterwards.
    pub async fn start(settings: ClusterSettings, data_dir: &Path) -> io::Result<ControllerService> {
        let own = settings.own_entry().cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("node {} is not among the controllers {:?}", settings.node_id, settings.controllers),
            )
        })?;
        let dir = data_dir.join("controller");
        let (store, recovered) = corelog_runtime::blocking(move || LogStore::open(&dir).map_err(|e| e.to_string()))
            .await
            .map_err(io::Error::other)?;
        let voters = settings.controllers.iter().map(|c| c.raft_id()).collect();
        // Differs on every start, so a token of an earlier process never
        // matches a caller of this one.
        let incarnation = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let mut config = QuorumConfig::new(raft_id(settings.node_id), voters, incarnation);
        config.snapshot_interval = settings.snapshot_interval.max(1);
        let (node, first) = QuorumNode::start(config, recovered).map_err(|e| io::Error::other(e.to_string()))?;
        let listener = bind(own.addr()?, settings.bind_retry).await?;
        let local_addr = listener.local_addr()?;

        let (events, events_rx) = mpsc::unbounded::<Event>();
        let links = PeerLinks::start(settings.node_id, &settings.controllers, events.clone());
        let state = Rc::new(RefCell::new(ControllerState::new(settings, events.clone())));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let shutdown = shutdown_rx.shared();
        let driver = Driver { node, store: Arc::new(Mutex::new(store)), state: state.clone(), links };
        let tasks = vec![
            corelog_runtime::spawn(driver.run(first, events_rx)),
            corelog_runtime::spawn(async move {
                loop {
                    corelog_runtime::sleep(CONTROLLER_TICK).await;
                    if events.unbounded_send(Event::Tick).is_err() {
                        return;
                    }
                }
            }),
            corelog_runtime::spawn(accept_loop(listener, Rc::new(RequestHandler { state: state.clone() }), shutdown)),
        ];
        tracing::info!(node = own.node_id, %local_addr, "controller started");
        Ok(ControllerService { state, local_addr, _tasks: tasks, _shutdown: shutdown_tx })
    }

    /// The controller port's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether this node is the quorum's leader (the active controller).
    pub fn is_leader(&self) -> bool {
        self.state.borrow().is_leader
    }

    /// The leader's node id, as this node knows it.
    pub fn leader(&self) -> Option<u32> {
        self.state.borrow().leader
    }

    /// This node's applied copy of the metadata.
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.state.borrow().metadata.clone()
    }

    /// Why the controller stopped serving (a write of its log failed), if it did.
    pub fn failure(&self) -> Option<String> {
        self.state.borrow().failed.clone()
    }
}
