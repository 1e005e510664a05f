//! ApiVersions, Metadata and DescribeCluster for Kafka clients: answered by
//! any core from its metadata snapshot, every core advertised as its own
//! broker (see `brokers`).
//!
//! Topic ids are the ids the controller gave each topic at creation (stored
//! with the topic in the cluster metadata), so they are stable across
//! restarts and the same on every broker. The cluster id is derived from the
//! controller quorum (voter ids, hosts and ports), so every broker of a
//! cluster reports the same one without storing anything new.

use super::brokers::{all_brokers, broker_id, kafka_broker};
use crate::context::ServerContext;
use crate::groups::topic::is_internal_topic;
use crate::shard::Shard;
use corelog_kafka_protocol::api_versions_response::ApiVersion;
use corelog_kafka_protocol::describe_cluster_response::DescribeClusterBroker;
use corelog_kafka_protocol::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use corelog_kafka_protocol::{
    error_code, supported_api_versions, ApiVersionsResponse, DescribeClusterResponse, MetadataRequest,
    MetadataResponse, Uuid,
};
use corelog_replication::metadata::cluster::topic::ClusterTopic;
use corelog_replication::metadata::cluster::ClusterMetadata;

/// The apis and versions this listener serves: every one the codec has.
/// Produce is advertised although it is refused for now (see `produce`):
/// librdkafka needs it advertised to fetch at all.
pub fn served_api_versions() -> Vec<ApiVersion> {
    supported_api_versions()
}

pub fn api_versions() -> ApiVersionsResponse {
    ApiVersionsResponse { error_code: error_code::NONE, api_keys: served_api_versions(), ..Default::default() }
}

/// The cluster id every broker of this cluster reports: a hash of the
/// controller quorum (FNV-1a; a one-node cluster hashes its node id).
pub fn cluster_id(context: &ServerContext) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    if context.config.controllers.is_empty() {
        eat(b"single");
        eat(&context.config.node_id.to_be_bytes());
    }
    for c in &context.config.controllers {
        eat(&c.node_id.to_be_bytes());
        eat(c.host.as_bytes());
        eat(&c.port.to_be_bytes());
    }
    format!("corelog-{hash:016x}")
}

/// The controller as a Kafka broker id (its core 0), -1 when unknown.
pub fn controller_id(context: &ServerContext) -> i32 {
    context.controller_id().map_or(-1, |node| broker_id(node, 0))
}

pub fn metadata(request: MetadataRequest, shard: &Shard, context: &ServerContext) -> MetadataResponse {
    let snapshot = shard.metadata();
    let topics = match request.topics {
        None => snapshot.topics.values().map(|t| topic_metadata(&snapshot, context, t)).collect(),
        Some(wanted) => wanted
            .into_iter()
            .map(|w| {
                let found = match &w.name {
                    Some(name) => snapshot.topics.get(name),
                    None => snapshot.topics.values().find(|t| t.topic_id.0 == w.topic_id.0),
                };
                match found {
                    Some(topic) => topic_metadata(&snapshot, context, topic),
                    None => MetadataResponseTopic {
                        error_code: if w.name.is_some() {
                            error_code::UNKNOWN_TOPIC_OR_PARTITION
                        } else {
                            error_code::UNKNOWN_TOPIC_ID
                        },
                        name: w.name,
                        topic_id: w.topic_id,
                        ..Default::default()
                    },
                }
            })
            .collect(),
    };
    let brokers = all_brokers(&snapshot, context)
        .into_iter()
        .map(|b| MetadataResponseBroker { node_id: b.id, host: b.host, port: b.port, rack: None })
        .collect();
    MetadataResponse {
        brokers,
        cluster_id: Some(cluster_id(context)),
        controller_id: controller_id(context),
        topics,
        ..Default::default()
    }
}

fn topic_metadata(snapshot: &ClusterMetadata, context: &ServerContext, topic: &ClusterTopic) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(p, assignment)| {
            let core = assignment.core;
            let leader = assignment.leader.and_then(|node| kafka_broker(snapshot, context, node, core));
            let ids = |nodes: &[u32]| nodes.iter().map(|&n| broker_id(n, core)).collect::<Vec<_>>();
            MetadataResponsePartition {
                error_code: if leader.is_some() { error_code::NONE } else { error_code::LEADER_NOT_AVAILABLE },
                partition_index: p as i32,
                leader_id: leader.map_or(-1, |l| l.id),
                leader_epoch: i32::try_from(assignment.leader_epoch).unwrap_or(i32::MAX),
                replica_nodes: ids(&assignment.replicas),
                isr_nodes: ids(&assignment.isr),
                offline_replicas: Vec::new(),
            }
        })
        .collect();
    MetadataResponseTopic {
        error_code: error_code::NONE,
        name: Some(topic.name.clone()),
        topic_id: Uuid(topic.topic_id.0),
        is_internal: is_internal_topic(&topic.name),
        partitions,
        // Kafka's "not requested" value for authorized operations.
        topic_authorized_operations: i32::MIN,
    }
}

pub fn describe_cluster(shard: &Shard, context: &ServerContext) -> DescribeClusterResponse {
    let snapshot = shard.metadata();
    DescribeClusterResponse {
        error_code: error_code::NONE,
        cluster_id: cluster_id(context),
        controller_id: controller_id(context),
        brokers: all_brokers(&snapshot, context)
            .into_iter()
            .map(|b| DescribeClusterBroker { broker_id: b.id, host: b.host, port: b.port, rack: None })
            .collect(),
        cluster_authorized_operations: i32::MIN,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_is_advertised_produce_from_0() {
        use corelog_kafka_protocol::ApiKey;
        let served = served_api_versions();
        // librdkafka fetches record batch v2 only if Produce >= 3 is advertised.
        assert!(served
            .iter()
            .any(|v| v.api_key == ApiKey::Produce.as_i16() && v.min_version == 0 && v.max_version >= 3));
        assert!(served
            .iter()
            .any(|v| v.api_key == ApiKey::Fetch.as_i16() && v.min_version == 4 && v.max_version == 12));
        assert_eq!(served.len(), corelog_kafka_protocol::SUPPORTED_APIS.len());
    }
}
