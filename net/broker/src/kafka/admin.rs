//! Kafka's topic admin and config apis (CreateTopics 2–5, DeleteTopics 1–5,
//! CreatePartitions 0–3, DescribeConfigs 1–2, IncrementalAlterConfigs 0–1),
//! converted to the native requests, checked (see `native`) and served by
//! the native handlers, which hand changes to the controller. Internal
//! topics stay the broker's, as on the native listener.
//!
//! Not supported (per-topic INVALID_REQUEST): manual replica assignments,
//! DeleteTopics by topic id only, broker resources in the config apis, and
//! APPEND/SUBTRACT config operations (no list-valued topic config exists).

use super::errors::kafka_code;
use super::native::checked;
use crate::context::ServerContext;
use crate::handlers;
use crate::shard::Shard;
use corelog_kafka_protocol::create_partitions_response::CreatePartitionsTopicResult;
use corelog_kafka_protocol::create_topics_response::CreatableTopicResult;
use corelog_kafka_protocol::delete_topics_response::DeletableTopicResult;
use corelog_kafka_protocol::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult};
use corelog_kafka_protocol::incremental_alter_configs_response::AlterConfigsResourceResponse;
use corelog_kafka_protocol::{
    self as kafka, error_code, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, IncrementalAlterConfigsRequest, Uuid,
};
use corelog_protocol::{self as native, Request, Response, TopicResult};

/// Kafka's config resource type of a topic.
const TOPIC_RESOURCE: i8 = 2;
/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
/// DescribeConfigs config sources.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DEFAULT: i8 = 5;
/// Kafka's "use the broker's default" for partitions and replication factor.
const BROKER_DEFAULT: i32 = -1;
/// corelog's default partition count for a CreateTopics asking for the
/// broker's default (Kafka's `num.partitions`).
const DEFAULT_PARTITIONS: u32 = 1;

/// Serves a native request built from a Kafka one: the native answer, or
/// why the request was refused before it.
async fn serve(
    request: Request,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> Result<Response, String> {
    let request = checked(request)?;
    handlers::handle(request, 0, shard, context, client_host).await.ok_or_else(|| "no answer".to_owned())
}

/// Results by topic name, in request order; a missing one is `refused`.
fn results_for(names: &[String], answer: Result<Vec<TopicResult>, String>) -> Vec<(i16, Option<String>)> {
    match answer {
        Ok(results) => names
            .iter()
            .map(|name| match results.iter().find(|r| &r.name == name) {
                Some(r) => (kafka_code(r.error), r.error_message.clone()),
                None => (error_code::UNKNOWN_SERVER_ERROR, Some("no result for this topic".into())),
            })
            .collect(),
        Err(message) => names.iter().map(|_| (error_code::INVALID_REQUEST, Some(message.clone()))).collect(),
    }
}

pub async fn create_topics(
    request: CreateTopicsRequest,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> kafka::CreateTopicsResponse {
    let mut refused: Vec<(String, String)> = Vec::new();
    let mut topics = Vec::new();
    for t in &request.topics {
        let partitions = match t.num_partitions {
            BROKER_DEFAULT => Ok(DEFAULT_PARTITIONS),
            n => u32::try_from(n).map_err(|_| format!("partition count {n} is invalid")),
        };
        // -1 is the broker's default, which the native request spells 0.
        let replication = match t.replication_factor {
            -1 => Ok(0),
            n => u16::try_from(n).map_err(|_| format!("replication factor {n} is invalid")),
        };
        let unsupported =
            (!t.assignments.is_empty()).then(|| "manual replica assignments are not supported".to_owned());
        match (partitions, replication, unsupported) {
            (Ok(partitions), Ok(replication_factor), None) => topics.push(native::CreatableTopic {
                name: t.name.clone(),
                partitions,
                replication_factor,
                configs: t
                    .configs
                    .iter()
                    .map(|c| native::ConfigEntry { key: c.name.clone(), value: c.value.clone().unwrap_or_default() })
                    .collect(),
            }),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Some(e)) => refused.push((t.name.clone(), e)),
        }
    }
    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    let native_request = Request::CreateTopics(native::CreateTopicsRequest {
        topics,
        timeout_ms: u32::try_from(request.timeout_ms).unwrap_or(0),
        validate_only: request.validate_only,
    });
    let answer = match serve(native_request, shard, context, client_host).await {
        Ok(Response::CreateTopics(r)) => Ok(r.topics),
        Ok(_) => Err("unexpected answer".into()),
        Err(e) => Err(e),
    };
    let snapshot = shard.metadata();
    let mut out: Vec<CreatableTopicResult> = names
        .iter()
        .zip(results_for(&names, answer))
        .map(|(name, (code, message))| {
            let created = snapshot.topics.get(name).filter(|_| code == error_code::NONE);
            CreatableTopicResult {
                name: name.clone(),
                topic_id: created.map_or(Uuid::ZERO, |t| Uuid(t.topic_id.0)),
                error_code: code,
                error_message: message,
                num_partitions: created.map_or(-1, |t| t.partitions.len() as i32),
                replication_factor: created.map_or(-1, |t| t.replication.replication_factor as i16),
                configs: None,
                ..Default::default()
            }
        })
        .collect();
    out.extend(refused.into_iter().map(|(name, e)| CreatableTopicResult {
        name,
        error_code: error_code::INVALID_REQUEST,
        error_message: Some(e),
        num_partitions: -1,
        replication_factor: -1,
        ..Default::default()
    }));
    kafka::CreateTopicsResponse { topics: out, ..Default::default() }
}

pub async fn delete_topics(
    request: DeleteTopicsRequest,
    version: i16,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> kafka::DeleteTopicsResponse {
    // v0-5 name topics in `topic_names`; v6+ (not served) in `topics`.
    let names: Vec<String> = if version < 6 {
        request.topic_names.clone()
    } else {
        request.topics.iter().filter_map(|t| t.name.clone()).collect()
    };
    let snapshot = shard.metadata();
    let native_request = Request::DeleteTopics(native::DeleteTopicsRequest {
        topics: names.clone(),
        timeout_ms: u32::try_from(request.timeout_ms).unwrap_or(0),
    });
    let answer = match serve(native_request, shard, context, client_host).await {
        Ok(Response::DeleteTopics(r)) => Ok(r.topics),
        Ok(_) => Err("unexpected answer".into()),
        Err(e) => Err(e),
    };
    let responses = names
        .iter()
        .zip(results_for(&names, answer))
        .map(|(name, (code, message))| DeletableTopicResult {
            topic_id: snapshot.topics.get(name).map_or(Uuid::ZERO, |t| Uuid(t.topic_id.0)),
            name: Some(name.clone()),
            error_code: code,
            error_message: message,
        })
        .collect();
    kafka::DeleteTopicsResponse { responses, ..Default::default() }
}

pub async fn create_partitions(
    request: CreatePartitionsRequest,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> kafka::CreatePartitionsResponse {
    let mut refused = Vec::new();
    let mut topics = Vec::new();
    for t in &request.topics {
        match (u32::try_from(t.count), &t.assignments) {
            (Ok(new_total), None) => topics.push(native::CreatePartitionsTopic { name: t.name.clone(), new_total }),
            (Err(_), _) => refused.push((t.name.clone(), format!("partition count {} is invalid", t.count))),
            (_, Some(_)) => refused.push((t.name.clone(), "manual replica assignments are not supported".into())),
        }
    }
    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    let native_request = Request::CreatePartitions(native::CreatePartitionsRequest {
        topics,
        timeout_ms: u32::try_from(request.timeout_ms).unwrap_or(0),
        validate_only: request.validate_only,
    });
    let answer = match serve(native_request, shard, context, client_host).await {
        Ok(Response::CreatePartitions(r)) => Ok(r.topics),
        Ok(_) => Err("unexpected answer".into()),
        Err(e) => Err(e),
    };
    let mut results: Vec<CreatePartitionsTopicResult> = names
        .iter()
        .zip(results_for(&names, answer))
        .map(|(name, (error_code, error_message))| CreatePartitionsTopicResult {
            name: name.clone(),
            error_code,
            error_message,
        })
        .collect();
    results.extend(refused.into_iter().map(|(name, e)| CreatePartitionsTopicResult {
        name,
        error_code: error_code::INVALID_REQUEST,
        error_message: Some(e),
    }));
    kafka::CreatePartitionsResponse { results, ..Default::default() }
}

pub async fn describe_configs(
    request: DescribeConfigsRequest,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> kafka::DescribeConfigsResponse {
    let topics: Vec<String> = request
        .resources
        .iter()
        .filter(|r| r.resource_type == TOPIC_RESOURCE)
        .map(|r| r.resource_name.clone())
        .collect();
    let answer =
        match serve(Request::DescribeConfigs(native::DescribeConfigsRequest { topics }), shard, context, client_host)
            .await
        {
            Ok(Response::DescribeConfigs(r)) => Ok(r.topics),
            Ok(_) => Err("unexpected answer".to_owned()),
            Err(e) => Err(e),
        };
    let results = request
        .resources
        .iter()
        .map(|resource| {
            let mut result = DescribeConfigsResult {
                resource_type: resource.resource_type,
                resource_name: resource.resource_name.clone(),
                ..Default::default()
            };
            if resource.resource_type != TOPIC_RESOURCE {
                result.error_code = error_code::INVALID_REQUEST;
                result.error_message = Some("only topic configs are served".into());
                return result;
            }
            match &answer {
                Err(e) => {
                    result.error_code = error_code::INVALID_REQUEST;
                    result.error_message = Some(e.clone());
                }
                Ok(topics) => match topics.iter().find(|t| t.name == resource.resource_name) {
                    None => result.error_code = error_code::UNKNOWN_TOPIC_OR_PARTITION,
                    Some(t) => {
                        result.error_code = kafka_code(t.error);
                        result.error_message = t.error_message.clone();
                        let wanted = |key: &str| {
                            resource.configuration_keys.as_ref().is_none_or(|keys| keys.iter().any(|k| k == key))
                        };
                        result.configs = t
                            .configs
                            .iter()
                            .filter(|c| wanted(&c.key))
                            .map(|c| DescribeConfigsResourceResult {
                                name: c.key.clone(),
                                value: Some(c.value.clone()),
                                read_only: false,
                                is_default: c.is_default,
                                config_source: if c.is_default { SOURCE_DEFAULT } else { SOURCE_TOPIC },
                                is_sensitive: false,
                                ..Default::default()
                            })
                            .collect();
                    }
                },
            }
            result
        })
        .collect();
    kafka::DescribeConfigsResponse { results, ..Default::default() }
}

pub async fn incremental_alter_configs(
    request: IncrementalAlterConfigsRequest,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> kafka::IncrementalAlterConfigsResponse {
    let mut refused: Vec<(i8, String, String)> = Vec::new();
    let mut topics = Vec::new();
    for r in &request.resources {
        if r.resource_type != TOPIC_RESOURCE {
            refused.push((r.resource_type, r.resource_name.clone(), "only topic configs are served".into()));
            continue;
        }
        let ops: Result<Vec<native::AlterConfigOp>, String> = r
            .configs
            .iter()
            .map(|c| match c.config_operation {
                OP_SET => {
                    Ok(native::AlterConfigOp { key: c.name.clone(), value: Some(c.value.clone().unwrap_or_default()) })
                }
                OP_DELETE => Ok(native::AlterConfigOp { key: c.name.clone(), value: None }),
                op => Err(format!("config operation {op} on {:?} is not supported (no list-valued configs)", c.name)),
            })
            .collect();
        match ops {
            Ok(ops) => topics.push(native::AlterTopicConfigs { name: r.resource_name.clone(), ops }),
            Err(e) => refused.push((r.resource_type, r.resource_name.clone(), e)),
        }
    }
    let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
    let native_request =
        Request::AlterConfigs(native::AlterConfigsRequest { topics, validate_only: request.validate_only });
    let answer = match serve(native_request, shard, context, client_host).await {
        Ok(Response::AlterConfigs(r)) => Ok(r.topics),
        Ok(_) => Err("unexpected answer".into()),
        Err(e) => Err(e),
    };
    let mut responses: Vec<AlterConfigsResourceResponse> = names
        .iter()
        .zip(results_for(&names, answer))
        .map(|(name, (error_code, error_message))| AlterConfigsResourceResponse {
            error_code,
            error_message,
            resource_type: TOPIC_RESOURCE,
            resource_name: name.clone(),
        })
        .collect();
    responses.extend(refused.into_iter().map(|(resource_type, resource_name, e)| AlterConfigsResourceResponse {
        error_code: error_code::INVALID_REQUEST,
        error_message: Some(e),
        resource_type,
        resource_name,
    }));
    kafka::IncrementalAlterConfigsResponse { responses, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_protocol::ErrorCode;

    #[test]
    fn results_follow_the_request_order_and_a_refused_request_fails_every_topic() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let results = vec![
            TopicResult {
                name: "b".into(),
                error: ErrorCode::TopicAlreadyExists,
                error_message: Some("exists".into()),
            },
            TopicResult { name: "a".into(), error: ErrorCode::None, error_message: None },
        ];
        assert_eq!(
            results_for(&names, Ok(results)),
            vec![(error_code::NONE, None), (error_code::TOPIC_ALREADY_EXISTS, Some("exists".into()))]
        );
        let refused = results_for(&names, Err("too long".into()));
        assert!(refused.iter().all(|(c, m)| *c == error_code::INVALID_REQUEST && m.as_deref() == Some("too long")));
    }
}
