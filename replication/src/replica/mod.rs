//! One partition's replication, Kafka's in-sync-replica protocol, as I/O-free
//! state machines: the leader's ([`LeaderState`]) and a follower's
//! ([`FollowerState`]). Both live on the partition's core of their broker and
//! are driven by `handle(now_ms, event) -> commands`; the runtime does the I/O
//! the commands ask for (log reads, appends, truncations, network sends) and
//! feeds the outcomes back as events. Time is passed in, never read.
//!
//! The rules are Kafka's: followers pull (KIP-392's fetcher shape), the
//! leader checks each fetch for divergence against its epoch history
//! (KIP-101/279, inline as Fetch v12+ does per KIP-320/595), the high
//! watermark is the minimum over the ISR, the ISR changes through the
//! controller one AlterPartition at a time (KIP-497, KIP-841), and a new
//! follower truncates only by the divergence check, never to its own high
//! watermark.

mod epoch_history;
mod fetch;
mod follower;
mod isr;
mod leader;
mod produce_waiters;
mod progress;

#[cfg(test)]
mod follower_tests;
#[cfg(test)]
mod leader_tests;

pub use epoch_history::{EpochEndOffset, EpochEntry, EpochHistory};
pub use fetch::{BatchMeta, FetchError, FetchReply, FetchRequest, FetchResponse};
pub use follower::{BecomeFollower, FollowerCommand, FollowerEvent, FollowerState};
pub use isr::{AlterPartitionAnswer, AlterPartitionError, PartitionChange};
pub use leader::{BecomeLeader, LeaderCommand, LeaderEvent, LeaderState};
pub use produce_waiters::{ProduceError, ProduceId};

use crate::limits;

/// A broker's id: replicas of a partition are named by the brokers holding
/// them.
pub type ReplicaId = u32;

/// The timing knobs of the protocol (Kafka's broker settings); the defaults
/// are the `limits` constants. Tests and simulations shrink them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaConfig {
    pub replica_lag_time_max_ms: u64,
    pub fetch_backoff_ms: u64,
    pub fetch_timeout_ms: u64,
    pub alter_partition_retry_ms: u64,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            replica_lag_time_max_ms: limits::REPLICA_LAG_TIME_MAX_MS,
            fetch_backoff_ms: limits::REPLICA_FETCH_BACKOFF_MS,
            fetch_timeout_ms: limits::REPLICA_FETCH_TIMEOUT_MS,
            alter_partition_retry_ms: limits::ALTER_PARTITION_RETRY_MS,
        }
    }
}

/// A partition state handed to [`LeaderState::become_leader`] or
/// [`FollowerState::become_follower`] that cannot be right: the metadata
/// mapping or the log is inconsistent, so the replica refuses it rather than
/// replicate from a wrong premise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    #[error("invalid partition state: {0}")]
    InvalidPartitionState(String),
    #[error("invalid epoch history: {0}")]
    InvalidEpochHistory(String),
}
