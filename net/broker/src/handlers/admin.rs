//! Topic administration: create, delete, add partitions. Any core accepts
//! these and hands them to the controller core, which applies them in order.

use std::collections::BTreeMap;

use crate::shard::Shard;
use corelog_replication::metadata::{Command, MetadataError};

use crate::errors::metadata_error_code;
use corelog_protocol::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, ErrorCode, TopicResult,
};

/// Runs `command` (or only validates it against a copy of the metadata) and
/// turns the outcome into a per-topic result.
pub(super) async fn run(shard: &Shard, name: String, command: Command, validate_only: bool) -> TopicResult {
    let outcome = if validate_only {
        let mut copy = (*shard.metadata()).clone();
        copy.apply(command, shard.cores).map(|_| ())
    } else {
        shard.admin(command).await.map(|_| ())
    };
    result(name, outcome)
}

pub(super) fn result(name: String, outcome: Result<(), MetadataError>) -> TopicResult {
    match outcome {
        Ok(()) => TopicResult { name, error: ErrorCode::None, error_message: None },
        Err(e) => TopicResult { name, error: metadata_error_code(&e), error_message: Some(e.to_string()) },
    }
}

pub async fn create_topics(request: CreateTopicsRequest, shard: &Shard) -> CreateTopicsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        if t.replication_factor > 1 {
            topics.push(TopicResult {
                name: t.name,
                error: ErrorCode::NotEnoughReplicas,
                error_message: Some(format!(
                    "replication factor {} needs a cluster; this broker is single-node",
                    t.replication_factor
                )),
            });
            continue;
        }
        let config: BTreeMap<String, String> = t.configs.into_iter().map(|c| (c.key, c.value)).collect();
        let command = Command::CreateTopic { name: t.name.clone(), partitions: t.partitions, config };
        topics.push(run(shard, t.name, command, request.validate_only).await);
    }
    CreateTopicsResponse { error: ErrorCode::None, error_message: None, topics }
}

pub async fn delete_topics(request: DeleteTopicsRequest, shard: &Shard) -> DeleteTopicsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for name in request.topics {
        topics.push(run(shard, name.clone(), Command::DeleteTopic { name }, false).await);
    }
    DeleteTopicsResponse { error: ErrorCode::None, error_message: None, topics }
}

pub async fn create_partitions(request: CreatePartitionsRequest, shard: &Shard) -> CreatePartitionsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let command = Command::CreatePartitions { name: t.name.clone(), total: t.new_total };
        topics.push(run(shard, t.name, command, request.validate_only).await);
    }
    CreatePartitionsResponse { error: ErrorCode::None, error_message: None, topics }
}
