//! The single-node metadata of format version 1 (topics, their partitions'
//! owning cores, configs), as `metadata.json` held it before the cluster:
//! read only to be migrated (`cluster::file::migrate_v1`), and the topic-name
//! rule both layouts share. The state machine is `cluster::ClusterMetadata`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MetadataError, TopicConfig};
use corelog_protocol::limits::MAX_TOPIC_NAME_LEN;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    pub config: TopicConfig,
    /// Owning core of each partition; the index is the partition id.
    pub partitions: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Bumped by every change; clients compare versions.
    pub version: u64,
    pub topics: BTreeMap<String, Topic>,
}

/// Kafka's topic-name rule: 1..=249 of `[a-zA-Z0-9._-]`, not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), MetadataError> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if name.is_empty() || name.len() > MAX_TOPIC_NAME_LEN || !ok_chars || name == "." || name == ".." {
        return Err(MetadataError::InvalidTopicName(format!(
            "{name:?}: 1 to {MAX_TOPIC_NAME_LEN} characters of [a-zA-Z0-9._-], not \".\" or \"..\""
        )));
    }
    Ok(())
}

impl Metadata {
    pub fn topic(&self, name: &str) -> Result<&Topic, MetadataError> {
        self.topics.get(name).ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))
    }
}
