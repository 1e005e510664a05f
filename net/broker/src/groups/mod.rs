//! The consumer-group coordinator runtime: what drives the I/O-free
//! [`GroupCoordinator`](corelog_coordinator::GroupCoordinator) on each core.
//!
//! Lives on: every core. Each core has one [`GroupRuntime`] owning the groups
//! of the `__consumer_offsets` partitions that core owns; nothing in it is
//! shared with another core (ownership comes from the shard's metadata
//! snapshot, like any partition's).
//!
//! - [`topic`]: the internal topic: created through the controller on the
//!   first group request; clients may read it but not write, create, delete
//!   or grow it.
//! - [`runtime`]: [`GroupRuntime`]: the coordinator, its held requests
//!   (request id → oneshot sender) and the execution of its commands.
//! - [`ownership`]: which partitions of the topic this core coordinates
//!   (from the metadata), and loading them: Loading → replay → Loaded.
//! - [`loader`]: replaying one partition of the topic into the coordinator.
//! - [`writer`]: one append queue per partition, so persists land in the
//!   order emitted; each is reported back as `Persisted`.
//! - [`timer`]: ticks the coordinator at its next deadline.
//! - [`handlers`]: FindCoordinator (any core) and the group requests
//!   (`NotCoordinator` unless this core owns the group's partition).
//!
//! See docs/groups.md for the whole picture.

pub mod handlers;
mod loader;
mod ownership;
pub mod runtime;
pub mod timer;
pub mod topic;
mod writer;

pub use runtime::GroupRuntime;
pub use topic::{is_internal_topic, reject_internal, restore_rejected};

use super::BrokerConfig;
use corelog_coordinator::CoordinatorConfig;

/// The group settings of a broker (from [`BrokerConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// Partitions `__consumer_offsets` is created with.
    pub offsets_partitions: u32,
    /// How long an empty group's offsets are kept.
    pub offsets_retention_ms: u64,
    /// Smallest session timeout a member may ask for.
    pub min_session_timeout_ms: u32,
    /// Largest session timeout a member may ask for.
    pub max_session_timeout_ms: u32,
    /// Wait of the first rebalance of an empty group for more members.
    pub initial_rebalance_delay_ms: u32,
}

impl GroupSettings {
    /// The group part of a broker's config.
    pub fn from_broker(config: &BrokerConfig) -> Self {
        GroupSettings {
            offsets_partitions: config.offsets_partitions.max(1),
            offsets_retention_ms: config.offsets_retention_ms,
            min_session_timeout_ms: config.group_min_session_timeout_ms,
            max_session_timeout_ms: config.group_max_session_timeout_ms.max(config.group_min_session_timeout_ms),
            initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        }
    }

    /// The coordinator's config for a topic of `partitions` partitions.
    pub fn coordinator_config(&self, partitions: u32, incarnation: u64) -> CoordinatorConfig {
        CoordinatorConfig {
            offsets_topic_partitions: partitions,
            offsets_retention_ms: self.offsets_retention_ms,
            min_session_timeout_ms: self.min_session_timeout_ms,
            max_session_timeout_ms: self.max_session_timeout_ms,
            initial_rebalance_delay_ms: self.initial_rebalance_delay_ms,
            incarnation,
            ..CoordinatorConfig::default()
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch: the coordinator's time
/// (persisted with commits, for retention across restarts).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
