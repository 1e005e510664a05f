//! Kafka Produce: each partition's RecordBatch v2 blob is stored as it came
//! (checked, never re-encoded: `ValidBatches::from_kafka_network`), through
//! the native produce path (acks 0/1/all, replication wait, idempotent
//! producers' sequence checks), so Kafka and native producers share one
//! partition log. The answer maps corelog's error codes with `errors.rs`;
//! acks=0 gets no response, as in Kafka.

use corelog_kafka_protocol::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use corelog_kafka_protocol::{error_code, ProduceRequest, ProduceResponse};
use corelog_protocol::{Acks, ProducePartition, ProduceRequest as NativeProduce, ProduceTopic, Records};

use super::errors::kafka_code;
use crate::context::ServerContext;
use crate::handlers::produce::{self as native, RecordsFormat};
use crate::shard::Shard;

/// The answer to `request`; None for acks=0 (Kafka sends no response).
pub async fn handle(
    request: ProduceRequest,
    frame_len: usize,
    shard: &Shard,
    context: &ServerContext,
) -> Option<ProduceResponse> {
    let acks = match request.acks {
        0 => Acks::None,
        1 => Acks::Leader,
        -1 => Acks::All,
        _ => return Some(refuse_all(request, error_code::INVALID_REQUIRED_ACKS, "acks must be 0, 1 or -1")),
    };
    if request.transactional_id.is_some() {
        return Some(refuse_all(request, error_code::INVALID_REQUEST, "transactions are not supported"));
    }
    let native = NativeProduce {
        acks,
        timeout_ms: u32::try_from(request.timeout_ms).unwrap_or(0),
        topics: request
            .topic_data
            .into_iter()
            .map(|t| ProduceTopic {
                name: t.name,
                partitions: t
                    .partition_data
                    .into_iter()
                    .map(|p| ProducePartition {
                        partition: u32::try_from(p.index).unwrap_or(u32::MAX),
                        records: Records::from_bytes(p.records.map(|r| r.to_bytes()).unwrap_or_default()),
                    })
                    .collect(),
            })
            .collect(),
    };
    let answer = native::handle(native, RecordsFormat::Kafka, frame_len, shard, context).await?;
    let responses = answer
        .topics
        .into_iter()
        .map(|t| TopicProduceResponse {
            name: t.name,
            partition_responses: t
                .partitions
                .into_iter()
                .map(|p| {
                    let ok = p.error.is_ok();
                    PartitionProduceResponse {
                        index: p.partition as i32,
                        error_code: kafka_code(p.error),
                        base_offset: if ok { p.base_offset as i64 } else { -1 },
                        log_append_time_ms: p.log_append_time.unwrap_or(-1),
                        log_start_offset: if ok { p.log_start_offset as i64 } else { -1 },
                        error_message: p.error_message,
                        ..Default::default()
                    }
                })
                .collect(),
        })
        .collect();
    Some(ProduceResponse { responses, ..Default::default() })
}

/// Every partition refused with `code` (a request-level problem).
fn refuse_all(request: ProduceRequest, code: i16, message: &str) -> ProduceResponse {
    let responses = request
        .topic_data
        .into_iter()
        .map(|t| TopicProduceResponse {
            name: t.name,
            partition_responses: t
                .partition_data
                .into_iter()
                .map(|p| PartitionProduceResponse {
                    index: p.index,
                    error_code: code,
                    base_offset: -1,
                    log_append_time_ms: -1,
                    log_start_offset: -1,
                    error_message: Some(message.into()),
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    ProduceResponse { responses, ..Default::default() }
}
