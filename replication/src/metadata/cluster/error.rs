//! Why the cluster metadata refused a command.

use super::super::MetadataError;

/// A refused command; the state is unchanged. The topic and config errors of
/// the single-node model are reused as they are ([`ClusterError::Metadata`]);
/// the rest name the cluster rule that was broken, one variant per Kafka error
/// code the handlers will answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("unknown partition {topic}/{partition}")]
    UnknownPartition { topic: String, partition: u32 },
    #[error("invalid replication factor: {0}")]
    InvalidReplicationFactor(String),
    #[error("invalid broker registration: {0}")]
    InvalidRegistration(String),
    #[error("unknown broker {0}")]
    UnknownBroker(u32),
    /// The request carries the epoch of an older registration of the broker.
    #[error("stale broker epoch {requested} for broker {node_id}: the current registration has epoch {current}")]
    StaleBrokerEpoch { node_id: u32, current: u64, requested: u64 },
    /// The sender's leader epoch is not the partition's current one.
    #[error("fenced leader epoch {requested} for {topic}/{partition}: the current leader epoch is {current}")]
    FencedLeaderEpoch { topic: String, partition: u32, current: u32, requested: u32 },
    /// The sender's partition epoch is not the current one: its view of the
    /// ISR is out of date (Kafka's INVALID_UPDATE_VERSION).
    #[error("partition epoch {requested} for {topic}/{partition} is not the current {current}")]
    InvalidUpdateVersion { topic: String, partition: u32, current: u32, requested: u32 },
    #[error("broker {requested} is not the leader of {topic}/{partition} (leader: {leader:?})")]
    NotLeader { topic: String, partition: u32, leader: Option<u32>, requested: u32 },
    /// A new ISR would add a broker that may not join it (fenced or not
    /// registered), KIP-841.
    #[error("broker {node_id} may not join the ISR of {topic}/{partition}: it is fenced or not registered")]
    IneligibleReplica { topic: String, partition: u32, node_id: u32 },
    #[error("invalid ISR for {topic}/{partition}: {reason}")]
    InvalidIsr { topic: String, partition: u32, reason: String },
    #[error("topic id {id} is invalid or already used by topic {existing:?}")]
    InvalidTopicId { id: String, existing: Option<String> },
    /// What [`super::ClusterMetadata::election_for`] says about a partition
    /// that needs no election of the asked kind.
    #[error("{topic}/{partition} needs no election: its leader is already the one the election would pick")]
    ElectionNotNeeded { topic: String, partition: u32 },
    #[error("the preferred leader of {topic}/{partition} is fenced or not in the ISR")]
    PreferredLeaderNotAvailable { topic: String, partition: u32 },
    #[error("no live replica of {topic}/{partition} may lead it")]
    EligibleLeadersNotAvailable { topic: String, partition: u32 },
}
