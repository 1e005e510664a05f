//! The Ready loop of docs/controller.md: one task owns the `QuorumNode` and
//! the `LogStore`, feeds it the events the other tasks send (ticks, peer
//! messages, proposals, transport outcomes) and carries out its actions in
//! order, each finished before the next (Persist and Compact on the
//! blocking pool). After a tick the active controller does its duties:
//! fence expired sessions, restore preferred leaders.
//!
//! Lives on: core 0 of a controller node (one task).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::channel::mpsc;
use futures::StreamExt;

use corelog_protocol::ErrorCode;
use corelog_replication::controller::{Action, Event, LogStore, QuorumNode, Rejection};
use corelog_replication::metadata::cluster::{decode, encode, Command, ElectionKind};

use super::config::node_id;
use super::peer_link::PeerLinks;
use super::state::{ControllerState, WriteError, INTERNAL_TOKEN};
use crate::errors::cluster_error_code;

pub(super) struct Driver {
    pub node: QuorumNode,
    pub store: Arc<Mutex<LogStore>>,
    pub state: Rc<RefCell<ControllerState>>,
    pub links: PeerLinks,
}

impl Driver {
    /// Carries out `first` (from `QuorumNode::start`), then serves events
    /// until the channel closes or an action fails (then the service stops
    /// serving: `failed` says why).
    pub async fn run(mut self, first: Vec<Action>, mut events: mpsc::UnboundedReceiver<Event>) {
        let mut result = self.carry_out(first).await;
        while result.is_ok() {
            let Some(event) = events.next().await else { return };
            let tick = matches!(event, Event::Tick);
            let actions = self.node.handle(event);
            result = self.carry_out(actions).await;
            if tick && result.is_ok() {
                self.duties();
            }
        }
        if let Err(e) = result {
            tracing::error!(error = %e, "controller stopped: the quorum node cannot go on");
            let mut st = self.state.borrow_mut();
            st.failed = Some(e);
            st.is_leader = false;
            st.leader = None;
            st.changed();
        }
    }

    async fn carry_out(&mut self, actions: Vec<Action>) -> Result<(), String> {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Persist(write) => {
                    let store = self.store.clone();
                    corelog_runtime::blocking(move || {
                        store
                            .lock()
                            .map_err(|_| "log store poisoned".to_string())?
                            .persist(&write)
                            .map_err(|e| e.to_string())
                    })
                    .await?;
                }
                Action::Compact(snapshot) => {
                    let store = self.store.clone();
                    corelog_runtime::blocking(move || {
                        store
                            .lock()
                            .map_err(|_| "log store poisoned".to_string())?
                            .compact(&snapshot)
                            .map_err(|e| e.to_string())
                    })
                    .await?;
                }
                Action::Send(messages) => {
                    for m in messages {
                        self.links.send(m);
                    }
                }
                Action::RoleChanged { leader, term, is_leader } => {
                    let mut st = self.state.borrow_mut();
                    let leader = leader.and_then(node_id);
                    tracing::info!(node = st.settings.node_id, ?leader, term, is_leader, "controller role changed");
                    if is_leader && !st.is_leader {
                        // Every broker gets a full session from now on.
                        let now = st.now_ms();
                        st.sessions.reset(now);
                        st.last_election_check = Instant::now();
                    }
                    st.leader = leader;
                    st.is_leader = is_leader;
                    st.changed();
                }
                Action::RestoreSnapshot { index, data } => {
                    let metadata =
                        decode(&data, &format!("controller snapshot at index {index}")).map_err(|e| e.to_string())?;
                    let mut st = self.state.borrow_mut();
                    st.metadata = Arc::new(metadata);
                    st.changed();
                }
                Action::Apply { index, data, token } => self.apply(index, &data, token),
                Action::Rejected { token, leader, reason } => {
                    let (code, message) = match reason {
                        Rejection::NotLeader => (ErrorCode::NotController, "this controller is not the leader"),
                        Rejection::TooLarge => (ErrorCode::InvalidRequest, "the command is over the size limit"),
                        Rejection::Dropped => (ErrorCode::RequestTimedOut, "the leader dropped the proposal; retry"),
                    };
                    if token != INTERNAL_TOKEN {
                        let error = WriteError { code, message: message.into(), leader: leader.and_then(node_id) };
                        self.state.borrow_mut().answer(token, Err(error));
                    }
                }
                Action::TakeSnapshot { index } => {
                    let data = encode(&self.state.borrow().metadata);
                    let more = self.node.snapshot_taken(index, data).map_err(|e| e.to_string())?;
                    for action in more.into_iter().rev() {
                        queue.push_front(action);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies one committed command and answers its proposer, if waiting.
    fn apply(&mut self, index: u64, data: &[u8], token: Option<u64>) {
        let mut st = self.state.borrow_mut();
        let command: Command = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(e) => {
                // Every controller skips the same entry, so the copies stay equal.
                tracing::error!(index, error = %e, "committed entry is not a command; skipped");
                if let Some(token) = token {
                    let error = WriteError { code: ErrorCode::InvalidRequest, message: e.to_string(), leader: None };
                    st.answer(token, Err(error));
                }
                return;
            }
        };
        let registered = match &command {
            Command::RegisterBroker { node_id, .. } => Some(*node_id),
            _ => None,
        };
        let outcome = Arc::make_mut(&mut st.metadata).apply(command);
        let version = st.metadata.version;
        let outcome = match outcome {
            Ok(changes) => {
                if !changes.is_empty() {
                    st.changed();
                }
                if let (true, Some(node)) = (st.is_leader, registered) {
                    // A registration starts the broker's session.
                    let epoch = st.metadata.brokers[&node].broker_epoch;
                    let now = st.now_ms();
                    st.sessions.heartbeat(node, epoch, now);
                }
                Ok(version)
            }
            Err(e) => Err(WriteError { code: cluster_error_code(&e), message: e.to_string(), leader: None }),
        };
        if let Some(token) = token {
            st.answer(token, outcome);
        }
    }

    /// The active controller's periodic work.
    fn duties(&mut self) {
        let mut st = self.state.borrow_mut();
        if !st.is_leader {
            return;
        }
        let timeout = st.settings.session_timeout.as_millis() as u64;
        let now = st.now_ms();
        for (node_id, broker_epoch) in st.sessions.expired(&st.metadata, now, timeout) {
            tracing::info!(node_id, broker_epoch, "broker session expired; fencing it");
            st.propose_internal(&Command::FenceBroker { node_id, broker_epoch });
        }
        if st.last_election_check.elapsed() >= st.settings.preferred_election_interval {
            st.last_election_check = Instant::now();
            let md = st.metadata.clone();
            let imbalanced =
                md.partitions().any(|p| md.election_for(&p.topic.name, p.partition, ElectionKind::Preferred).is_ok());
            if imbalanced {
                st.propose_internal(&Command::ElectLeaders { partitions: None, kind: ElectionKind::Preferred });
            }
        }
    }
}
