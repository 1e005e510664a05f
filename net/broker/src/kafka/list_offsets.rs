//! Kafka ListOffsets (v1–7): earliest (-2), latest (-1: the high
//! watermark, what a consumer can read), max-timestamp (-3, KIP-734: the
//! committed record with the largest timestamp) or the first offset at or
//! after a timestamp, for this core's partitions.

use super::errors::kafka_code;
use crate::context::ServerContext;
use crate::errors::log_error_code;
use crate::handlers::local_partition;
use crate::shard::Shard;
use corelog_kafka_protocol::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use corelog_kafka_protocol::{error_code, ListOffsetsRequest, ListOffsetsResponse};
use corelog_protocol::ErrorCode;

/// Kafka's special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub async fn handle(request: ListOffsetsRequest, shard: &Shard, context: &ServerContext) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut out = ListOffsetsPartitionResponse {
                partition_index: p.partition_index,
                timestamp: -1,
                offset: -1,
                leader_epoch: -1,
                ..Default::default()
            };
            let located = match u32::try_from(p.partition_index) {
                Ok(id) => local_partition(shard, &topic.name, id).map(|part| (id, part)),
                Err(_) => Err((ErrorCode::UnknownPartition, None, String::new())),
            };
            match located {
                Err((code, _, _)) => out.error_code = kafka_code(code),
                Ok((id, partition)) => {
                    let log = &partition.log;
                    out.leader_epoch = i32::try_from(partition.leader_epoch()).unwrap_or(i32::MAX);
                    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                    match p.timestamp {
                        LATEST => out.offset = as_i64(log.high_watermark()),
                        EARLIEST => out.offset = as_i64(log.log_start_offset()),
                        ts if ts >= 0 || ts == MAX_TIMESTAMP => match lookup(log, ts).await {
                            Ok(Some((offset, timestamp))) => {
                                out.offset = as_i64(offset);
                                out.timestamp = timestamp;
                            }
                            Ok(None) => {}
                            Err(e) => {
                                context.damaged.report(&context.metrics, &topic.name, id, &e);
                                out.error_code = kafka_code(log_error_code(&e));
                            }
                        },
                        _ => out.error_code = error_code::INVALID_REQUEST,
                    }
                }
            }
            partitions.push(out);
        }
        topics.push(ListOffsetsTopicResponse { name: topic.name, partitions });
    }
    ListOffsetsResponse { topics, ..Default::default() }
}

async fn lookup(log: &corelog_storage::PartitionLog, timestamp: i64) -> corelog_storage::LogResult<Option<(u64, i64)>> {
    if timestamp == MAX_TIMESTAMP {
        log.offset_of_max_timestamp().await
    } else {
        log.offset_for_timestamp(timestamp).await
    }
}
