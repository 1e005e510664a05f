//! What a core's handlers share: the broker config, how to name an
//! endpoint, this core's metric handles and its group coordinator runtime.
//! One per core, made at start (the metrics are atomics only this core
//! writes; the group runtime is this core's own), so nothing in it is shared
//! with another core's requests: it is `!Send`, held in an `Rc`.

use std::rc::Rc;

use super::groups::GroupRuntime;
use super::metrics::CoreMetrics;
use super::BrokerConfig;

pub struct ServerContext {
    pub config: BrokerConfig,
    /// The core this context serves.
    pub core: u32,
    /// This core's series of the broker metrics.
    pub metrics: CoreMetrics,
    /// This core's consumer-group coordinator.
    pub groups: Rc<GroupRuntime>,
    /// This core's request memory, in bytes (`request_memory_bytes_per_core`):
    /// connections reserve what they read and give it back when the request
    /// is handled.
    pub request_memory: corelog_runtime::sync::Semaphore,
    /// Damaged stored batches this core's reads ran into (counted, logged once).
    pub damaged: super::damaged::DamagedBatches,
    /// This core's JoinGroup member-id tickets (Kafka JoinGroup v4+).
    pub member_ids: super::kafka::member_ids::PendingMemberIds,
    /// The controller quorum's leader as core 0 last saw it (-1: unknown;
    /// written by core 0 only).
    pub controller_leader: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl ServerContext {
    /// The controller quorum's leader, as far as this broker knows. A broker
    /// without controllers is a one-node cluster: its own controller.
    pub fn controller_id(&self) -> Option<u32> {
        u32::try_from(self.controller_leader.load(std::sync::atomic::Ordering::Relaxed)).ok()
    }

    /// How many cores this broker runs.
    pub fn shard_cores(&self) -> u32 {
        self.groups.shard().cores
    }

    /// The controller quorum's voters.
    pub fn controllers(&self) -> Vec<u32> {
        if self.config.controllers.is_empty() {
            vec![self.config.node_id]
        } else {
            self.config.controllers.iter().map(|c| c.node_id).collect()
        }
    }
}
