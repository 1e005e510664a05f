//! The controller apis, answered from the controller's shared state:
//! RaftMessage (any controller), ControllerWrite, BrokerHeartbeat and
//! MetadataUpdate (the leader only; the others answer NotController with the
//! leader they know), and ApiVersions for the clients' handshake.
//!
//! Lives on: core 0 of a controller node (one task per request).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corelog_protocol::limits::MAX_METADATA_IMAGE_BYTES;
use corelog_protocol::{
    supported_api_versions, ApiVersionsResponse, BrokerHeartbeatRequest, BrokerHeartbeatResponse,
    ControllerWriteRequest, ControllerWriteResponse, ErrorCode, MetadataUpdateRequest, MetadataUpdateResponse,
    RaftMessageRequest, RaftMessageResponse, Request, Response,
};
use corelog_replication::controller::{codec, Event};
use corelog_replication::metadata::cluster::Command;

use super::config::raft_id;
use super::state::{ControllerState, WriteError};
use crate::limits::{MAX_METADATA_POLL_WAIT, PROPOSAL_TIMEOUT};

pub(super) struct RequestHandler {
    pub state: Rc<RefCell<ControllerState>>,
}

/// Forgets a waiting proposal when its request ends without an answer
/// (timeout, connection closed).
struct PendingGuard<'a> {
    state: &'a RefCell<ControllerState>,
    token: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.state.borrow_mut().forget(self.token);
    }
}

fn not_controller(st: &ControllerState) -> WriteError {
    let message = match (&st.failed, st.leader) {
        (Some(failed), _) => format!("controller {} stopped: {failed}", st.settings.node_id),
        (None, Some(leader)) => format!("controller {} is not the leader; {leader} is", st.settings.node_id),
        (None, None) => format!("controller {} is not the leader and knows no leader yet", st.settings.node_id),
    };
    WriteError { code: ErrorCode::NotController, message, leader: st.leader }
}

impl RequestHandler {
    pub async fn handle(&self, request: Request) -> Response {
        match request {
            Request::ApiVersions(_) => Response::ApiVersions(ApiVersionsResponse {
                error: ErrorCode::None,
                error_message: None,
                node_id: self.state.borrow().settings.node_id,
                api_versions: supported_api_versions(),
            }),
            Request::RaftMessage(r) => Response::RaftMessage(self.raft_message(r)),
            Request::ControllerWrite(r) => Response::ControllerWrite(match self.write(r).await {
                Ok(version) => ControllerWriteResponse { version, ..Default::default() },
                Err(e) => ControllerWriteResponse {
                    error: e.code,
                    error_message: Some(e.message),
                    version: 0,
                    leader: e.leader,
                },
            }),
            Request::BrokerHeartbeat(r) => Response::BrokerHeartbeat(self.heartbeat(r)),
            Request::MetadataUpdate(r) => Response::MetadataUpdate(self.metadata_update(r).await),
            other => {
                other.error_response(ErrorCode::UnsupportedApi, "the controller port serves only the controller apis")
            }
        }
    }

    fn raft_message(&self, r: RaftMessageRequest) -> RaftMessageResponse {
        let refuse = |message: String| RaftMessageResponse {
            error: ErrorCode::InvalidRequest,
            error_message: Some(corelog_protocol::truncate_message(message)),
        };
        let message = match codec::decode(&r.message) {
            Ok(m) => m,
            Err(e) => return refuse(e.to_string()),
        };
        let st = self.state.borrow();
        let own = raft_id(st.settings.node_id);
        if message.to != own {
            return refuse(format!("raft message for raft id {}, but this is raft id {own}", message.to));
        }
        let _ = st.events.unbounded_send(Event::Message(message));
        RaftMessageResponse::default()
    }

    async fn write(&self, r: ControllerWriteRequest) -> Result<u64, WriteError> {
        let invalid = |message: String| WriteError { code: ErrorCode::InvalidRequest, message, leader: None };
        let command: Command =
            serde_json::from_slice(&r.command).map_err(|e| invalid(format!("the command is not valid: {e}")))?;
        let (token, answer) = {
            let mut st = self.state.borrow_mut();
            if !st.is_leader || st.failed.is_some() {
                return Err(not_controller(&st));
            }
            if let Command::RegisterBroker { node_id, incarnation, .. } = &command {
                let other = st.metadata.brokers.get(node_id).filter(|b| b.incarnation != *incarnation);
                if let Some(b) = other {
                    if st.session_live(*node_id) {
                        // Kafka's DUPLICATE_BROKER_REGISTRATION.
                        return Err(invalid(format!(
                            "duplicate broker registration: broker {node_id} is registered by incarnation {} whose \
                             session is live; retry once it expires",
                            b.incarnation
                        )));
                    }
                }
            }
            let data = serde_json::to_vec(&command).expect("commands always serialize");
            let (token, answer) = st.wait_for_apply();
            let _ = st.events.unbounded_send(Event::Propose { data, token });
            (token, answer)
        };
        let _guard = PendingGuard { state: &self.state, token };
        match corelog_runtime::timeout(PROPOSAL_TIMEOUT, answer).await {
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) | None => Err(WriteError {
                code: ErrorCode::RequestTimedOut,
                message: format!(
                    "the command was not applied within {PROPOSAL_TIMEOUT:?} (leadership may have changed; it may \
                     or may not be applied later)"
                ),
                leader: None,
            }),
        }
    }

    fn heartbeat(&self, r: BrokerHeartbeatRequest) -> BrokerHeartbeatResponse {
        let mut st = self.state.borrow_mut();
        let refuse = |code, message: String, leader| BrokerHeartbeatResponse {
            error: code,
            error_message: Some(message),
            fenced: true,
            leader,
        };
        if !st.is_leader || st.failed.is_some() {
            let e = not_controller(&st);
            return refuse(e.code, e.message, e.leader);
        }
        let Some(b) = st.metadata.brokers.get(&r.node_id).cloned() else {
            return refuse(ErrorCode::UnknownBroker, format!("broker {} is not registered", r.node_id), None);
        };
        if b.broker_epoch != r.broker_epoch {
            let message = format!(
                "broker {} heartbeats with epoch {}, but its registration has epoch {}: register again",
                r.node_id, r.broker_epoch, b.broker_epoch
            );
            return refuse(ErrorCode::StaleBrokerEpoch, message, None);
        }
        let now = st.now_ms();
        st.sessions.heartbeat(r.node_id, r.broker_epoch, now);
        if b.fenced && r.applied_version >= b.broker_epoch {
            st.propose_internal(&Command::UnfenceBroker { node_id: r.node_id, broker_epoch: r.broker_epoch });
        }
        BrokerHeartbeatResponse { error: ErrorCode::None, error_message: None, fenced: b.fenced, leader: None }
    }

    async fn metadata_update(&self, r: MetadataUpdateRequest) -> MetadataUpdateResponse {
        let wait = Duration::from_millis(u64::from(r.max_wait_ms)).min(MAX_METADATA_POLL_WAIT);
        let deadline = Instant::now() + wait;
        loop {
            let changed = {
                let mut st = self.state.borrow_mut();
                if !st.is_leader || st.failed.is_some() {
                    let e = not_controller(&st);
                    return MetadataUpdateResponse {
                        error: e.code,
                        error_message: Some(e.message),
                        leader: e.leader,
                        ..Default::default()
                    };
                }
                let version = st.metadata.version;
                if version > r.have_version {
                    let image = st.image();
                    if image.len() > MAX_METADATA_IMAGE_BYTES {
                        return MetadataUpdateResponse {
                            error: ErrorCode::UnknownServerError,
                            error_message: Some(format!(
                                "the metadata image is {} bytes, over the {MAX_METADATA_IMAGE_BYTES}-byte limit",
                                image.len()
                            )),
                            ..Default::default()
                        };
                    }
                    return MetadataUpdateResponse { version, image: image.to_vec(), ..Default::default() };
                }
                if Instant::now() >= deadline {
                    return MetadataUpdateResponse { version, ..Default::default() };
                }
                st.watch()
            };
            let _ = corelog_runtime::timeout_at(deadline, changed).await;
        }
    }
}
