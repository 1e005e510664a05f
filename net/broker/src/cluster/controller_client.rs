//! [`ControllerClient`]: the way to the active controller from any core.
//!
//! It keeps one connection (a `corelog_client::Connection`) to the
//! controller it believes leads, follows NotController hints, and tries the
//! others in turn when there is no hint or the controller is unreachable,
//! pausing with a doubling backoff, until the caller's deadline. Requests on
//! one client are answered in order, so a long poll holds back whatever is
//! sent after it: use one client for MetadataUpdate and another for the rest.
//!
//! A write retried after a lost connection may have been applied already: a
//! registration is idempotent, a topic creation answers TopicAlreadyExists.
//!
//! Lives on: the core that made it (`!Send`); one per core.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use corelog_client::{ClientConfig, ClientError, Connection};
use corelog_protocol::{
    BrokerHeartbeatRequest, BrokerHeartbeatResponse, ControllerWriteRequest, ErrorCode, MetadataUpdateRequest, Request,
    Response,
};
use corelog_replication::metadata::cluster::{decode, ClusterMetadata, Command};

use super::config::ControllerPeer;
use crate::limits::{
    CONTROLLER_CONNECT_TIMEOUT, CONTROLLER_REQUEST_TIMEOUT, CONTROLLER_RETRY_BACKOFF_MAX, CONTROLLER_RETRY_BACKOFF_MIN,
    MAX_CONTROLLER_FRAME_BYTES, MAX_CONTROLLER_IN_FLIGHT_PER_CONNECTION, MAX_METADATA_POLL_WAIT,
};

/// An error code with its detail (RequestTimedOut when the deadline passed
/// without an answer).
pub type ControllerResult<T> = Result<T, (ErrorCode, String)>;

enum Answer<T> {
    Done(T),
    NotController(Option<u32>, String),
    Failed(ErrorCode, String),
}

pub struct ControllerClient {
    /// Who asks (sent in MetadataUpdate, for the controller's logs).
    node_id: u32,
    controllers: Vec<ControllerPeer>,
    config: ClientConfig,
    /// Index into `controllers` of the one to ask next.
    target: Cell<usize>,
    /// The controller that last answered a request (only the quorum's
    /// leader does; the others say NotController).
    answered_by: Cell<Option<u32>>,
    connection: RefCell<Option<(usize, Connection)>>,
}

impl ControllerClient {
    pub fn new(node_id: u32, controllers: Vec<ControllerPeer>) -> ControllerClient {
        assert!(!controllers.is_empty(), "a controller client needs at least one controller");
        let config = ClientConfig {
            client_id: format!("broker-{node_id}"),
            connect_timeout: CONTROLLER_CONNECT_TIMEOUT,
            request_timeout: CONTROLLER_REQUEST_TIMEOUT,
            max_in_flight: MAX_CONTROLLER_IN_FLIGHT_PER_CONNECTION,
            max_frame_bytes: MAX_CONTROLLER_FRAME_BYTES,
            ..ClientConfig::default()
        };
        ControllerClient {
            node_id,
            controllers,
            config,
            target: Cell::new(0),
            answered_by: Cell::new(None),
            connection: RefCell::new(None),
        }
    }

    /// The controller quorum's leader as this client last met it.
    pub fn leader(&self) -> Option<u32> {
        self.answered_by.get()
    }

    /// Proposes `command`; the metadata version once it is applied.
    pub async fn write(&self, command: &Command, deadline: Instant) -> ControllerResult<u64> {
        let command = serde_json::to_vec(command).expect("commands always serialize");
        let request = Request::ControllerWrite(ControllerWriteRequest { command });
        self.call(&request, CONTROLLER_REQUEST_TIMEOUT, deadline, |response| match response {
            Response::ControllerWrite(r) => match r.error {
                ErrorCode::None => Answer::Done(r.version),
                ErrorCode::NotController => Answer::NotController(r.leader, r.error_message.unwrap_or_default()),
                code => Answer::Failed(code, r.error_message.unwrap_or_default()),
            },
            other => Answer::Failed(ErrorCode::UnknownServerError, format!("unexpected answer {other:?}")),
        })
        .await
    }

    /// One heartbeat; the answer says whether the broker is fenced.
    /// StaleBrokerEpoch and UnknownBroker come back as errors: register again.
    pub async fn heartbeat(
        &self,
        node_id: u32,
        broker_epoch: u64,
        applied_version: u64,
        deadline: Instant,
    ) -> ControllerResult<BrokerHeartbeatResponse> {
        let request = Request::BrokerHeartbeat(BrokerHeartbeatRequest { node_id, broker_epoch, applied_version });
        self.call(&request, CONTROLLER_REQUEST_TIMEOUT, deadline, |response| match response {
            Response::BrokerHeartbeat(r) => match r.error {
                ErrorCode::None => Answer::Done(r),
                ErrorCode::NotController => Answer::NotController(r.leader, r.error_message.unwrap_or_default()),
                code => Answer::Failed(code, r.error_message.unwrap_or_default()),
            },
            other => Answer::Failed(ErrorCode::UnknownServerError, format!("unexpected answer {other:?}")),
        })
        .await
    }

    /// The metadata newer than `have_version`, waiting up to `wait` (capped
    /// by `MAX_METADATA_POLL_WAIT`) for it; None when nothing newer came.
    pub async fn metadata_update(
        &self,
        have_version: u64,
        wait: Duration,
        deadline: Instant,
    ) -> ControllerResult<Option<(u64, ClusterMetadata)>> {
        let wait = wait.min(MAX_METADATA_POLL_WAIT);
        let request = Request::MetadataUpdate(MetadataUpdateRequest {
            node_id: self.node_id,
            have_version,
            max_wait_ms: wait.as_millis() as u32,
        });
        self.call(&request, CONTROLLER_REQUEST_TIMEOUT + wait, deadline, |response| match response {
            Response::MetadataUpdate(r) => match r.error {
                ErrorCode::None if r.image.is_empty() => Answer::Done(None),
                ErrorCode::None => match decode(&r.image, "the controller's metadata image") {
                    Ok(metadata) => Answer::Done(Some((r.version, metadata))),
                    Err(e) => Answer::Failed(ErrorCode::CorruptMessage, e.to_string()),
                },
                ErrorCode::NotController => Answer::NotController(r.leader, r.error_message.unwrap_or_default()),
                code => Answer::Failed(code, r.error_message.unwrap_or_default()),
            },
            other => Answer::Failed(ErrorCode::UnknownServerError, format!("unexpected answer {other:?}")),
        })
        .await
    }

    async fn call<T>(
        &self,
        request: &Request,
        timeout: Duration,
        deadline: Instant,
        answer: impl Fn(Response) -> Answer<T>,
    ) -> ControllerResult<T> {
        let mut backoff = CONTROLLER_RETRY_BACKOFF_MIN;
        let mut last = String::from("no controller was tried");
        // Hint hops without a pause: one, so two controllers naming each
        // other cannot spin.
        let mut free_hops = 1;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err((ErrorCode::RequestTimedOut, format!("no controller answered in time; last: {last}")));
            }
            let mut pause = true;
            // The whole connect (TCP and the ApiVersions handshake) within
            // the caller's deadline: a controller behind a dead link accepts
            // nothing and answers nothing, and a heartbeat must not wait out
            // the handshake's own timeout meanwhile.
            let connected = corelog_runtime::timeout(deadline - now, self.connection(deadline - now))
                .await
                .unwrap_or_else(|| Err(format!("controller {}: no answer to the connect in time", self.target_id())));
            match connected {
                Err(e) => {
                    last = e;
                    self.next_target();
                }
                Ok(conn) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match conn.request_with_timeout(request, timeout.min(left)).await {
                        Ok(response) => match answer(response) {
                            Answer::Done(value) => {
                                self.answered_by.set(Some(self.target_id()));
                                return Ok(value);
                            }
                            Answer::Failed(code, message) => return Err((code, message)),
                            Answer::NotController(hint, message) => {
                                self.answered_by.set(None);
                                last = message;
                                match hint.and_then(|h| self.controllers.iter().position(|c| c.node_id == h)) {
                                    Some(i) if i != self.target.get() => {
                                        self.target.set(i);
                                        if free_hops > 0 {
                                            free_hops -= 1;
                                            pause = false;
                                        }
                                    }
                                    Some(_) => {}
                                    None => self.next_target(),
                                }
                            }
                        },
                        Err(ClientError::Broker { code, message }) => return Err((code, message.unwrap_or_default())),
                        Err(e) => {
                            last = e.to_string();
                            self.next_target();
                        }
                    }
                }
            }
            if pause {
                let left = deadline.saturating_duration_since(Instant::now());
                corelog_runtime::sleep(backoff.min(left)).await;
                backoff = (backoff * 2).min(CONTROLLER_RETRY_BACKOFF_MAX);
            }
        }
    }

    fn target_id(&self) -> u32 {
        self.controllers[self.target.get()].node_id
    }

    fn next_target(&self) {
        self.target.set((self.target.get() + 1) % self.controllers.len());
    }

    /// The open connection to the target, or a new one.
    async fn connection(&self, left: Duration) -> Result<Connection, String> {
        let target = self.target.get();
        if let Some((i, conn)) = &*self.connection.borrow() {
            if *i == target && !conn.is_closed() {
                return Ok(conn.clone());
            }
        }
        self.connection.borrow_mut().take();
        let peer = &self.controllers[target];
        let addr = peer.addr().map_err(|e| format!("controller {}: {e}", peer.node_id))?;
        let config = ClientConfig { connect_timeout: self.config.connect_timeout.min(left), ..self.config.clone() };
        let conn = Connection::connect(addr, &config).await.map_err(|e| format!("controller {}: {e}", peer.node_id))?;
        *self.connection.borrow_mut() = Some((target, conn.clone()));
        Ok(conn)
    }
}
