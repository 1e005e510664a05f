//! Describe and alter topic configs (retention, segment size and age, flush
//! policy, max batch size).

use std::collections::BTreeMap;

use crate::shard::Shard;
use corelog_replication::metadata::{Command, MetadataError, TopicConfig};

use super::admin::{result, run};
use crate::errors::metadata_error_code;
use corelog_protocol::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse, DescribedConfig,
    ErrorCode, TopicConfigs,
};

pub fn describe(request: DescribeConfigsRequest, shard: &Shard) -> DescribeConfigsResponse {
    let snapshot = shard.metadata();
    let defaults = TopicConfig::default().to_map();
    let topics = request
        .topics
        .into_iter()
        .map(|name| match snapshot.topic(&name) {
            Ok(topic) => TopicConfigs {
                configs: topic
                    .config
                    .to_map()
                    .into_iter()
                    .map(|(key, value)| DescribedConfig { is_default: defaults.get(&key) == Some(&value), key, value })
                    .collect(),
                name,
                error: ErrorCode::None,
                error_message: None,
            },
            Err(e) => TopicConfigs {
                name,
                error: metadata_error_code(&e),
                error_message: Some(e.to_string()),
                configs: Vec::new(),
            },
        })
        .collect();
    DescribeConfigsResponse { error: ErrorCode::None, error_message: None, topics }
}

pub async fn alter(request: AlterConfigsRequest, shard: &Shard) -> AlterConfigsResponse {
    let defaults = TopicConfig::default().to_map();
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in request.topics {
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
            Err(e) => result(t.name, Err(e)),
        };
        topics.push(outcome);
    }
    AlterConfigsResponse { error: ErrorCode::None, error_message: None, topics }
}
