//! Describe and alter topic configs (retention, segment size and age, flush
//! policy, max batch size, min.insync.replicas, unclean leader election).

use std::collections::BTreeMap;

use crate::shard::{AdminError, Shard};
use corelog_replication::metadata::cluster::{ClusterTopic, Command, ReplicationConfig};
use corelog_replication::metadata::{MetadataError, TopicConfig};

use super::admin::{result, run};
use crate::errors::cluster_error_code;

/// Every key of `topic` with its value: the log's and the replication's.
fn current(topic: &ClusterTopic) -> BTreeMap<String, String> {
    let mut map = topic.config.to_map();
    map.extend(topic.replication.to_map());
    map
}

/// Every key's default for a topic with `replication_factor` replicas.
fn defaults(replication_factor: u32) -> BTreeMap<String, String> {
    let mut map = TopicConfig::default().to_map();
    map.extend(ReplicationConfig::defaults(replication_factor).to_map());
    map
}
use corelog_protocol::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse, DescribedConfig,
    ErrorCode, TopicConfigs,
};

pub fn describe(request: DescribeConfigsRequest, shard: &Shard) -> DescribeConfigsResponse {
    let snapshot = shard.metadata();
    let topics = request
        .topics
        .into_iter()
        .map(|name| match snapshot.topic(&name) {
            Ok(topic) => TopicConfigs {
                configs: current(topic)
                    .into_iter()
                    .map(|(key, value)| {
                        let is_default = defaults(topic.replication.replication_factor).get(&key) == Some(&value);
                        DescribedConfig { is_default, key, value }
                    })
                    .collect(),
                name,
                error: ErrorCode::None,
                error_message: None,
            },
            Err(e) => TopicConfigs {
                name,
                error: cluster_error_code(&e),
                error_message: Some(e.to_string()),
                configs: Vec::new(),
            },
        })
        .collect();
    DescribeConfigsResponse { error: ErrorCode::None, error_message: None, topics }
}

pub async fn alter(request: AlterConfigsRequest, shard: &Shard) -> AlterConfigsResponse {
    let snapshot = shard.metadata();
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let replication_factor = snapshot.topics.get(&t.name).map_or(1, |t| t.replication.replication_factor);
        let defaults = defaults(replication_factor);
        // An op without a value resets the key to its default.
        let entries: Result<BTreeMap<String, String>, MetadataError> = t
            .ops
            .into_iter()
            .map(|op| match op.value {
                Some(v) => Ok((op.key, v)),
                None => defaults
                    .get(&op.key)
                    .map(|d| (op.key.clone(), d.clone()))
                    .ok_or_else(|| MetadataError::InvalidConfig(format!("unknown config key {:?}", op.key))),
            })
            .collect();
        let outcome = match entries {
            Ok(entries) => {
                run(shard, t.name.clone(), Command::AlterConfig { name: t.name, entries }, request.validate_only).await
            }
            Err(e) => result(t.name, Err(AdminError::from(e))),
        };
        topics.push(outcome);
    }
    AlterConfigsResponse { error: ErrorCode::None, error_message: None, topics }
}
