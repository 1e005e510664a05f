//! [`BrokerAgent`]: a broker's side of the cluster, on core 0 of every
//! broker in cluster mode (Kafka's BrokerLifecycleManager plus its metadata
//! listener).
//!
//! - Registers (`RegisterBroker` with a random incarnation per process; the
//!   broker epoch is the version the registration was applied at), retrying
//!   with backoff while the controller refuses (a previous incarnation's
//!   session still live) or cannot be reached.
//! - Heartbeats every `heartbeat_interval` with the applied metadata version
//!   the shard code reports through the `applied_version` cell, so the
//!   controller unfences the broker once it caught up with its
//!   registration; registers again on StaleBrokerEpoch or UnknownBroker.
//! - Long-polls MetadataUpdate on a client of its own and hands every newer
//!   image to `on_metadata`.
//!
//! Lives on: core 0 of a broker; `!Send`. Dropping it stops its tasks.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corelog_protocol::ErrorCode;
use corelog_replication::metadata::cluster::{ClusterMetadata, Command};
use corelog_runtime::Task;

use super::config::ClusterSettings;
use super::controller_client::ControllerClient;
use crate::limits::{CONTROLLER_REQUEST_TIMEOUT, CONTROLLER_RETRY_BACKOFF_MAX, CONTROLLER_RETRY_BACKOFF_MIN};

/// What the broker registers: where its cores listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub host: String,
    /// Core c listens on `base_port + c`.
    pub base_port: u16,
    pub cores: u32,
    /// Its Kafka listener (advertised host, base port), if it runs one.
    pub kafka: Option<corelog_replication::metadata::cluster::KafkaListener>,
}

/// What the agent knows, for the broker's own use (and its tests).
#[derive(Default)]
struct AgentStatus {
    broker_epoch: Cell<Option<u64>>,
    fenced: Cell<Option<bool>>,
    /// The controller that answered the last heartbeat: the quorum's leader.
    controller_leader: Cell<Option<u32>>,
}

pub struct BrokerAgent {
    incarnation: u64,
    status: Rc<AgentStatus>,
    _tasks: Vec<Task<()>>,
}

impl BrokerAgent {
    /// Starts the agent's two tasks on the current core. `applied_version`
    /// is written by the broker's code once it has applied an image (the
    /// agent reports it in every heartbeat); `on_metadata` gets every image
    /// newer than the last one, in version order.
    pub fn start(
        settings: ClusterSettings,
        endpoint: BrokerEndpoint,
        applied_version: Rc<Cell<u64>>,
        on_metadata: impl Fn(Arc<ClusterMetadata>) + 'static,
    ) -> BrokerAgent {
        let incarnation = rand::random::<u64>();
        let status = Rc::new(AgentStatus::default());
        let lifecycle = lifecycle(settings.clone(), endpoint, incarnation, applied_version, status.clone());
        let tasks =
            vec![corelog_runtime::spawn(lifecycle), corelog_runtime::spawn(poll_metadata(settings, on_metadata))];
        BrokerAgent { incarnation, status, _tasks: tasks }
    }

    /// This process's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The epoch of the current registration, once registered.
    pub fn broker_epoch(&self) -> Option<u64> {
        self.status.broker_epoch.get()
    }

    /// Whether the last heartbeat said the broker is fenced.
    pub fn fenced(&self) -> Option<bool> {
        self.status.fenced.get()
    }

    /// The controller quorum's leader, as the heartbeats find it (what a
    /// broker that is not a controller knows of it).
    pub fn controller_leader(&self) -> Option<u32> {
        self.status.controller_leader.get()
    }
}

async fn lifecycle(
    settings: ClusterSettings,
    endpoint: BrokerEndpoint,
    incarnation: u64,
    applied_version: Rc<Cell<u64>>,
    status: Rc<AgentStatus>,
) {
    let client = ControllerClient::new(settings.node_id, settings.controllers.clone());
    let node_id = settings.node_id;
    let register = Command::RegisterBroker {
        node_id,
        incarnation,
        host: endpoint.host.clone(),
        base_port: endpoint.base_port,
        cores: endpoint.cores,
        kafka: endpoint.kafka.clone(),
    };
    let request_deadline = || Instant::now() + CONTROLLER_REQUEST_TIMEOUT.max(settings.heartbeat_interval);
    loop {
        let mut backoff = CONTROLLER_RETRY_BACKOFF_MIN;
        let broker_epoch = loop {
            match client.write(&register, request_deadline()).await {
                Ok(epoch) => break epoch,
                Err((code, message)) => {
                    tracing::warn!(node_id, %code, message, "broker registration refused; retrying");
                    corelog_runtime::sleep(backoff).await;
                    backoff = (backoff * 2).min(CONTROLLER_RETRY_BACKOFF_MAX.max(settings.heartbeat_interval));
                }
            }
        };
        tracing::info!(node_id, incarnation, broker_epoch, "broker registered");
        status.broker_epoch.set(Some(broker_epoch));
        status.fenced.set(Some(true));
        loop {
            let deadline = Instant::now() + settings.heartbeat_interval.max(Duration::from_millis(1));
            match client.heartbeat(node_id, broker_epoch, applied_version.get(), deadline).await {
                Ok(r) => {
                    status.fenced.set(Some(r.fenced));
                    status.controller_leader.set(client.leader());
                }
                Err((ErrorCode::StaleBrokerEpoch | ErrorCode::UnknownBroker, message)) => {
                    tracing::warn!(node_id, broker_epoch, message, "registration lost; registering again");
                    break;
                }
                Err((code, message)) => {
                    status.controller_leader.set(client.leader());
                    tracing::debug!(node_id, %code, message, "heartbeat failed")
                }
            }
            corelog_runtime::sleep(deadline.saturating_duration_since(Instant::now())).await;
        }
    }
}

async fn poll_metadata(settings: ClusterSettings, on_metadata: impl Fn(Arc<ClusterMetadata>)) {
    let client = ControllerClient::new(settings.node_id, settings.controllers.clone());
    let wait = settings.metadata_poll_wait;
    let mut have = 0u64;
    let mut backoff = CONTROLLER_RETRY_BACKOFF_MIN;
    loop {
        let deadline = Instant::now() + wait + CONTROLLER_REQUEST_TIMEOUT;
        match client.metadata_update(have, wait, deadline).await {
            Ok(Some((version, metadata))) => {
                backoff = CONTROLLER_RETRY_BACKOFF_MIN;
                // A new leader may briefly be behind what an old one sent.
                if version > have {
                    have = version;
                    on_metadata(Arc::new(metadata));
                }
            }
            Ok(None) => backoff = CONTROLLER_RETRY_BACKOFF_MIN,
            Err((code, message)) => {
                tracing::debug!(node_id = settings.node_id, %code, message, "metadata poll failed");
                corelog_runtime::sleep(backoff).await;
                backoff = (backoff * 2).min(CONTROLLER_RETRY_BACKOFF_MAX);
            }
        }
    }
}
