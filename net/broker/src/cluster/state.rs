//! What the controller's tasks share: the applied metadata, the known
//! leader, the active controller's broker sessions, and the callers waiting
//! for a proposal or for the next metadata change.
//!
//! Lives on: core 0 of a controller node, in an `Rc<RefCell<_>>`; no borrow
//! is held across an await.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use futures::channel::{mpsc, oneshot};

use corelog_protocol::ErrorCode;
use corelog_replication::controller::Event;
use corelog_replication::metadata::cluster::{encode, BrokerSessions, ClusterMetadata, Command};

use super::config::ClusterSettings;
use crate::limits::INTERNAL_PROPOSAL_RETRY;

/// Why a ControllerWrite was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub code: ErrorCode,
    pub message: String,
    /// With NotController: the leader's node id, if known.
    pub leader: Option<u32>,
}

pub(super) type WriteOutcome = Result<u64, WriteError>;

/// Token of the active controller's own proposals, which nobody waits for.
pub(super) const INTERNAL_TOKEN: u64 = 0;

pub(super) struct ControllerState {
    pub settings: ClusterSettings,
    pub metadata: Arc<ClusterMetadata>,
    /// The encoded image of `metadata`, made on the first MetadataUpdate
    /// that needs it and kept until the next change.
    image: Option<(u64, Rc<Vec<u8>>)>,
    /// The leader's node id (not its raft id).
    pub leader: Option<u32>,
    pub is_leader: bool,
    pub sessions: BrokerSessions,
    started: Instant,
    pending: HashMap<u64, oneshot::Sender<WriteOutcome>>,
    next_token: u64,
    watchers: Vec<oneshot::Sender<()>>,
    /// The active controller's own commands recently proposed (JSON -> when),
    /// so a tick or heartbeat does not propose the same one again and again
    /// while it commits.
    recent_internal: HashMap<Vec<u8>, Instant>,
    /// Set when the driver stopped (a write failed): nothing is served.
    pub failed: Option<String>,
    pub events: mpsc::UnboundedSender<Event>,
    /// When the active controller last looked for preferred elections.
    pub last_election_check: Instant,
}

impl ControllerState {
    pub fn new(settings: ClusterSettings, events: mpsc::UnboundedSender<Event>) -> ControllerState {
        let now = Instant::now();
        ControllerState {
            settings,
            metadata: Arc::new(ClusterMetadata::default()),
            image: None,
            leader: None,
            is_leader: false,
            sessions: BrokerSessions::new(0),
            started: now,
            pending: HashMap::new(),
            next_token: INTERNAL_TOKEN + 1,
            watchers: Vec::new(),
            recent_internal: HashMap::new(),
            failed: None,
            events,
            last_election_check: now,
        }
    }

    /// Milliseconds of the monotonic clock the sessions count in.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Registers a caller waiting for its proposal; the token goes into the
    /// `Event::Propose`.
    pub fn wait_for_apply(&mut self) -> (u64, oneshot::Receiver<WriteOutcome>) {
        let token = self.next_token;
        self.next_token += 1;
        let (tx, rx) = oneshot::channel();
        self.pending.insert(token, tx);
        (token, rx)
    }

    pub fn forget(&mut self, token: u64) {
        self.pending.remove(&token);
    }

    pub fn answer(&mut self, token: u64, outcome: WriteOutcome) {
        if let Some(tx) = self.pending.remove(&token) {
            let _ = tx.send(outcome);
        }
    }

    /// Resolves at the next applied change, restore or role change.
    pub fn watch(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.watchers.push(tx);
        rx
    }

    pub fn changed(&mut self) {
        self.image = None;
        for w in self.watchers.drain(..) {
            let _ = w.send(());
        }
    }

    /// The encoded image of the current metadata (format v2).
    pub fn image(&mut self) -> Rc<Vec<u8>> {
        let version = self.metadata.version;
        match &self.image {
            Some((v, bytes)) if *v == version => bytes.clone(),
            _ => {
                let bytes = Rc::new(encode(&self.metadata));
                self.image = Some((version, bytes.clone()));
                bytes
            }
        }
    }

    /// Proposes one of the active controller's own commands, unless the
    /// same one went out less than `INTERNAL_PROPOSAL_RETRY` ago.
    pub fn propose_internal(&mut self, command: &Command) {
        let data = serde_json::to_vec(command).expect("commands always serialize");
        let now = Instant::now();
        self.recent_internal.retain(|_, at| now.duration_since(*at) < INTERNAL_PROPOSAL_RETRY);
        if self.recent_internal.contains_key(&data) {
            return;
        }
        self.recent_internal.insert(data.clone(), now);
        tracing::debug!(?command, "active controller proposes");
        let _ = self.events.unbounded_send(Event::Propose { data, token: INTERNAL_TOKEN });
    }

    /// Whether a live session holds `node_id`'s registration: registered,
    /// unfenced and not expired.
    pub fn session_live(&self, node_id: u32) -> bool {
        let Some(b) = self.metadata.brokers.get(&node_id) else { return false };
        if b.fenced {
            return false;
        }
        let timeout = self.settings.session_timeout.as_millis() as u64;
        !self.sessions.expired(&self.metadata, self.now_ms(), timeout).iter().any(|(n, _)| *n == node_id)
    }
}
