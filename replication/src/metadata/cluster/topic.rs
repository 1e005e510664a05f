//! Topics in the cluster: create (with replica placement), delete, grow,
//! reconfigure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::placement::{check_replication_factor, Load};
use super::replication_config::parse_topic_config;
use super::{Change, ClusterError, ClusterMetadata, PartitionAssignment, ReplicationConfig, TopicId};
use crate::metadata::{validate_topic_name, MetadataError, TopicConfig};
use corelog_protocol::limits::MAX_PARTITIONS_PER_TOPIC;

/// A topic with its replicated partitions. Part of the metadata (controller
/// core, and snapshots on every core).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterTopic {
    pub name: String,
    pub topic_id: TopicId,
    pub config: TopicConfig,
    pub replication: ReplicationConfig,
    /// Index = partition id.
    pub partitions: Vec<PartitionAssignment>,
}

fn check_partition_count(n: u32) -> Result<(), MetadataError> {
    if n == 0 || n > MAX_PARTITIONS_PER_TOPIC {
        return Err(MetadataError::InvalidPartitions(format!(
            "partition count {n} must be in [1, {MAX_PARTITIONS_PER_TOPIC}]"
        )));
    }
    Ok(())
}

fn partition_changed(topic: &ClusterTopic, from: usize) -> Vec<Change> {
    (from..topic.partitions.len())
        .map(|p| Change::PartitionChanged {
            topic: topic.name.clone(),
            partition: p as u32,
            assignment: topic.partitions[p].clone(),
        })
        .collect()
}

impl ClusterMetadata {
    pub(super) fn create_topic(
        &mut self,
        name: String,
        topic_id: TopicId,
        partitions: u32,
        replication_factor: u32,
        config: &BTreeMap<String, String>,
    ) -> Result<Vec<Change>, ClusterError> {
        validate_topic_name(&name)?;
        if self.topics.contains_key(&name) {
            return Err(MetadataError::TopicExists(name).into());
        }
        let existing = self.topics.values().find(|t| t.topic_id == topic_id).map(|t| t.name.clone());
        if topic_id == TopicId::ZERO || existing.is_some() {
            return Err(ClusterError::InvalidTopicId { id: topic_id.to_string(), existing });
        }
        check_partition_count(partitions)?;
        check_replication_factor(&self.brokers, replication_factor)?;
        let (config, replication) =
            parse_topic_config(&TopicConfig::default(), &ReplicationConfig::defaults(replication_factor), config)?;
        let mut load = Load::of(self);
        let partitions =
            (0..partitions).map(|_| load.place(&self.brokers, replication_factor)).collect::<Result<Vec<_>, _>>()?;
        let topic = ClusterTopic { name: name.clone(), topic_id, config, replication, partitions };
        let changes = partition_changed(&topic, 0);
        self.topics.insert(name, topic);
        Ok(changes)
    }

    pub(super) fn delete_topic(&mut self, name: &str) -> Result<Vec<Change>, ClusterError> {
        let topic = self.topics.remove(name).ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))?;
        Ok(topic
            .partitions
            .into_iter()
            .enumerate()
            .map(|(p, a)| Change::PartitionRemoved {
                topic: name.to_string(),
                partition: p as u32,
                core: a.core,
                replicas: a.replicas,
            })
            .collect())
    }

    /// Grows a topic to `total` partitions, placed like a create with the
    /// topic's replication factor.
    pub(super) fn create_partitions(&mut self, name: &str, total: u32) -> Result<Vec<Change>, ClusterError> {
        let topic = self.topic(name)?;
        let current = topic.partitions.len() as u32;
        if total <= current {
            return Err(MetadataError::InvalidPartitions(format!(
                "topic {name:?} has {current} partitions; the new count must be larger"
            ))
            .into());
        }
        check_partition_count(total)?;
        let replication_factor = topic.replication.replication_factor;
        check_replication_factor(&self.brokers, replication_factor)?;
        let mut load = Load::of(self);
        let added =
            (current..total).map(|_| load.place(&self.brokers, replication_factor)).collect::<Result<Vec<_>, _>>()?;
        let topic = self.topics.get_mut(name).expect("checked above");
        topic.partitions.extend(added);
        Ok(partition_changed(topic, current as usize))
    }

    /// Sets the given keys (log and replication ones), all or nothing; the
    /// same values again are no change.
    pub(super) fn alter_config(
        &mut self,
        name: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<Vec<Change>, ClusterError> {
        let topic = self.topic(name)?;
        let (config, replication) = parse_topic_config(&topic.config, &topic.replication, entries)?;
        if config == topic.config && replication == topic.replication {
            return Ok(Vec::new());
        }
        let topic = self.topics.get_mut(name).expect("checked above");
        topic.config = config;
        topic.replication = replication;
        Ok(vec![Change::TopicConfigChanged { topic: name.to_string() }])
    }
}
