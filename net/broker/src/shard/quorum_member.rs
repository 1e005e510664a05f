//! Core 0 of a broker in a cluster (started with `--controllers`): the
//! controller service when this node is one of the controllers (combined
//! mode, KRaft's `process.roles=broker,controller`), the broker agent
//! (registration, heartbeats, the metadata long poll), the adoption of each
//! metadata image by every core, and the forwarding of admin commands to the
//! controller quorum.
//!
//! Images are adopted one at a time, in version order, by one task; a newer
//! image arriving meanwhile replaces the one waiting (only the latest
//! matters: the diff is computed against what the cores have).
//!
//! Lives on: core 0.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corelog_protocol::ErrorCode;
use corelog_replication::metadata::cluster::{ClusterMetadata, Command};
use corelog_runtime::sync::Notify;

use super::controller::distribute;
use super::effects::diff;
use super::messages::AdminError;
use super::state::Shard;
use crate::cluster::{BrokerAgent, BrokerEndpoint, ClusterSettings, ControllerClient, ControllerService};
use crate::limits::{ADMIN_APPLY_POLL, CONTROLLER_WRITE_TIMEOUT};

pub struct QuorumMember {
    service: Option<ControllerService>,
    agent: BrokerAgent,
    client: ControllerClient,
    /// The metadata version every core has applied.
    applied: Rc<Cell<u64>>,
}

impl QuorumMember {
    /// Starts the controller service (on a controller node), then the agent
    /// and the adoption task.
    pub async fn start(shard: Rc<Shard>, settings: ClusterSettings, endpoint: BrokerEndpoint) -> io::Result<Self> {
        let service = if settings.is_controller() {
            Some(ControllerService::start(settings.clone(), shard.data_dir()).await?)
        } else {
            None
        };
        let applied = Rc::new(Cell::new(shard.metadata().version));
        let latest: Rc<RefCell<Option<Arc<ClusterMetadata>>>> = Rc::default();
        let arrived = Notify::default();
        let agent = {
            let (latest, arrived) = (latest.clone(), arrived.clone());
            BrokerAgent::start(settings.clone(), endpoint, applied.clone(), move |image| {
                *latest.borrow_mut() = Some(image);
                arrived.notify();
            })
        };
        corelog_runtime::spawn_detached(adopt_images(shard, latest, arrived, applied.clone()));
        let client = ControllerClient::new(settings.node_id, settings.controllers.clone());
        Ok(QuorumMember { service, agent, client, applied })
    }

    /// The controller quorum's leader, as this node's controller knows it,
    /// or on a broker that is not a controller as its heartbeats find it.
    pub fn controller_leader(&self) -> Option<u32> {
        match &self.service {
            Some(service) => service.leader(),
            None => self.agent.controller_leader(),
        }
    }

    /// Sends `command` to the controller quorum and waits until every core
    /// of this broker has applied the image it produced, so the caller's next
    /// request here sees its effect.
    pub async fn admin(&self, shard: &Shard, command: Command) -> Result<Arc<ClusterMetadata>, AdminError> {
        let deadline = Instant::now() + CONTROLLER_WRITE_TIMEOUT;
        let version = self
            .client
            .write(&command, deadline)
            .await
            .map_err(|(code, message)| AdminError::Remote { code, message })?;
        while self.applied.get() < version {
            if Instant::now() >= deadline {
                return Err(AdminError::Remote {
                    code: ErrorCode::RequestTimedOut,
                    message: format!("the controller applied it (version {version}) but this broker has not yet"),
                });
            }
            corelog_runtime::sleep(ADMIN_APPLY_POLL).await;
        }
        Ok(shard.metadata())
    }
}

/// Adopts every image the agent hands over: the cores open, close and
/// re-role their partitions (`effects::diff`), then the version counts as
/// applied (heartbeats report it; the controller unfences this broker once
/// it has caught up with its own registration).
async fn adopt_images(
    shard: Rc<Shard>,
    latest: Rc<RefCell<Option<Arc<ClusterMetadata>>>>,
    arrived: Notify,
    applied: Rc<Cell<u64>>,
) {
    loop {
        if corelog_runtime::timeout(Duration::from_secs(1), arrived.notified()).await.is_none() {
            if !shard.wait_or_stop(Duration::ZERO).await {
                return;
            }
            continue;
        }
        let Some(image) = latest.borrow_mut().take() else { continue };
        let current = shard.metadata();
        if image.version <= current.version {
            continue;
        }
        let effects = diff(&current, &image, shard.node_id());
        let version = image.version;
        if let Err(e) = distribute(&shard, image, effects).await {
            tracing::error!(version, error = %e, "applying a metadata image failed on some core");
        }
        applied.set(version);
    }
}
