//! Topic administration: create, delete, add partitions. Any core accepts
//! these and hands them to the controller core, which applies them in order.

use std::collections::BTreeMap;

use crate::shard::{AdminError, Shard};
use corelog_protocol::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, ErrorCode, TopicResult,
};
use corelog_replication::metadata::cluster::{Command, TopicId};

/// Runs `command` (or only validates it against a copy of the metadata) and
/// turns the outcome into a per-topic result.
pub(super) async fn run(shard: &Shard, name: String, command: Command, validate_only: bool) -> TopicResult {
    let outcome = if validate_only {
        let mut copy = (*shard.metadata()).clone();
        copy.apply(command).map(|_| ()).map_err(AdminError::from)
    } else {
        shard.admin(command).await.map(|_| ())
    };
    result(name, outcome)
}

pub(super) fn result(name: String, outcome: Result<(), AdminError>) -> TopicResult {
    match outcome {
        Ok(()) => TopicResult { name, error: ErrorCode::None, error_message: None },
        Err(e) => TopicResult { name, error: e.code(), error_message: Some(e.to_string()) },
    }
}

/// A fresh topic id (Kafka's random UUID; never the all-zero "no id").
pub(crate) fn new_topic_id() -> TopicId {
    let mut id: [u8; 16] = rand::random();
    id[0] |= 1;
    TopicId(id)
}

/// The replication factor a CreateTopics entry asks for; 0 (Kafka's -1,
/// "the broker's default") is 1, Kafka's `default.replication.factor`.
fn replication_factor(asked: u16) -> u32 {
    u32::from(asked).max(1)
}

pub async fn create_topics(request: CreateTopicsRequest, shard: &Shard) -> CreateTopicsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let config: BTreeMap<String, String> = t.configs.into_iter().map(|c| (c.key, c.value)).collect();
        let command = Command::CreateTopic {
            name: t.name.clone(),
            topic_id: new_topic_id(),
            partitions: t.partitions,
            replication_factor: replication_factor(t.replication_factor),
            config,
        };
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
