//! Broker metadata: topics, partitions, configs and the partition -> core
//! assignment; an I/O-free state machine ([`model`]) plus its atomic file
//! ([`store`]). Owned by the controller core (core 0); every other core holds
//! a read-only snapshot.
//!
//! [`cluster`] is the cluster-shaped model (brokers, replicas, ISR, leaders
//! and epochs, Kafka KRaft's controller state machine) with its
//! format-version-2 file; the single-node [`model`] and its version-1
//! [`store`] stay as they are until the broker moves over.

pub mod cluster;
pub mod config;
pub mod model;
pub mod store;

pub use cluster::{ClusterError, ClusterMetadata};
pub use config::TopicConfig;
pub use model::{validate_topic_name, Metadata, Topic};
pub use store::MetadataStore;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("topic {0:?} already exists")]
    TopicExists(String),
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("invalid topic name {0}")]
    InvalidTopicName(String),
    #[error("invalid partitions: {0}")]
    InvalidPartitions(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("metadata storage: {0}")]
    Storage(String),
    /// A partition of a topic being created (or grown) could not be opened
    /// on its core, e.g. out of file descriptors: nothing of the command was
    /// kept.
    #[error("cannot open partition {topic}/{partition}: {reason}")]
    CannotOpenPartition { topic: String, partition: u32, reason: String },
}
