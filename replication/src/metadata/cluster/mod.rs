//! The cluster's metadata (Kafka KRaft's controller model) as an I/O-free,
//! deterministic state machine: broker registrations, topics, and per
//! partition the replicas, ISR, leader and epochs, with the controller's
//! decisions (placement, fencing, elections, ISR changes) as its rules.
//!
//! The controller quorum replicates [`Command`]s through Raft and every
//! controller node applies each committed one with [`ClusterMetadata::apply`]:
//! the same commands in the same order give the same state and the same
//! [`Change`]s on every node. So `apply` uses no clock, no randomness and no
//! hash-map order: what is random or timed (topic ids, incarnations, session
//! expiry) is decided by the proposer and carried in the command.
//!
//! Files: `command` (the log entries and changes), `broker`, `topic`,
//! `partition`, `placement`, `election`, `alter_partition`,
//! `replication_config`, `invariants`, `queries`, `sessions` (the active
//! controller's heartbeat clock, not replicated), `file` (the
//! format-version-2 file and the version-1 migration).

mod alter_partition;
pub mod broker;
pub mod command;
mod election;
pub mod error;
pub mod file;
mod invariants;
pub mod partition;
mod placement;
pub mod queries;
pub mod replication_config;
pub mod sessions;
pub mod topic;
pub mod topic_id;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use broker::{BrokerRegistration, KafkaListener};
pub use command::{Change, Command, ElectionKind};
pub use error::ClusterError;
pub use file::{decode, encode, migrate_v1, ClusterStore, CLUSTER_FORMAT_VERSION};
pub use partition::PartitionAssignment;
pub use queries::{BrokerLoad, PartitionRef};
pub use replication_config::{ReplicationConfig, MIN_INSYNC_REPLICAS, UNCLEAN_LEADER_ELECTION_ENABLE};
pub use sessions::BrokerSessions;
pub use topic::ClusterTopic;
pub use topic_id::TopicId;

use super::MetadataError;

/// The replicated metadata. The active controller's copy lives on its core 0
/// and is the one commands are applied to; every controller node has its own
/// identical copy; brokers get read-only snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMetadata {
    /// Bumped by every command that changed something (never by one that
    /// changed nothing or was refused).
    pub version: u64,
    pub brokers: BTreeMap<u32, BrokerRegistration>,
    pub topics: BTreeMap<String, ClusterTopic>,
}

impl ClusterMetadata {
    /// Validates and applies one command. A refused command changes nothing
    /// (every rule is checked before the first write). An accepted one
    /// returns what changed (a broker's own change first, then partitions in
    /// topic-name then partition order); an empty
    /// list means the command was a no-op (a retried registration, an
    /// election nobody needed, the same ISR again) and the version stays.
    pub fn apply(&mut self, command: Command) -> Result<Vec<Change>, ClusterError> {
        let changes = match command {
            Command::RegisterBroker { node_id, incarnation, host, base_port, cores, kafka } => {
                self.register_broker(node_id, incarnation, host, base_port, cores, kafka)?
            }
            Command::UnfenceBroker { node_id, broker_epoch } => self.unfence_broker(node_id, broker_epoch)?,
            Command::FenceBroker { node_id, broker_epoch } => self.fence_broker(node_id, broker_epoch)?,
            Command::CreateTopic { name, topic_id, partitions, replication_factor, config } => {
                self.create_topic(name, topic_id, partitions, replication_factor, &config)?
            }
            Command::DeleteTopic { name } => self.delete_topic(&name)?,
            Command::CreatePartitions { name, total } => self.create_partitions(&name, total)?,
            Command::AlterConfig { name, entries } => self.alter_config(&name, &entries)?,
            Command::AlterPartition { topic, partition, leader, leader_epoch, partition_epoch, new_isr } => self
                .alter_partition(alter_partition::AlterPartition {
                    topic,
                    partition,
                    leader,
                    leader_epoch,
                    partition_epoch,
                    new_isr,
                })?,
            Command::ElectLeaders { partitions, kind } => self.elect_leaders(partitions, kind)?,
        };
        if !changes.is_empty() {
            self.version += 1;
        }
        Ok(changes)
    }

    pub fn topic(&self, name: &str) -> Result<&ClusterTopic, ClusterError> {
        self.topics.get(name).ok_or_else(|| MetadataError::UnknownTopic(name.to_string()).into())
    }

    pub fn partition(&self, topic: &str, partition: u32) -> Result<&PartitionAssignment, ClusterError> {
        self.topic(topic)?
            .partitions
            .get(partition as usize)
            .ok_or_else(|| ClusterError::UnknownPartition { topic: topic.to_string(), partition })
    }

    pub fn broker(&self, node_id: u32) -> Result<&BrokerRegistration, ClusterError> {
        self.brokers.get(&node_id).ok_or(ClusterError::UnknownBroker(node_id))
    }
}
