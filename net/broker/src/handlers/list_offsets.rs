//! ListOffsets: earliest, latest (the high watermark: what a consumer can
//! read) or the first offset at or after a timestamp.

use crate::shard::Shard;

use super::local_partition;
use crate::context::ServerContext;
use crate::errors::log_error_code;
use corelog_protocol::{
    ErrorCode, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
    OffsetSpec,
};
use corelog_storage::LogError;

pub async fn handle(request: ListOffsetsRequest, shard: &Shard, context: &ServerContext) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut out = ListOffsetsPartitionResponse {
                partition: p.partition,
                error: ErrorCode::None,
                offset: None,
                timestamp: None,
                current_owner: None,
            };
            match local_partition(shard, &topic.name, p.partition) {
                Err((code, owner, _)) => {
                    out.error = code;
                    out.current_owner = owner;
                }
                Ok(partition) => match p.spec {
                    OffsetSpec::Earliest => out.offset = Some(partition.log.log_start_offset()),
                    OffsetSpec::Latest => out.offset = Some(partition.log.high_watermark()),
                    OffsetSpec::Timestamp(ts) => match partition.log.offset_for_timestamp(ts).await {
                        Ok(Some((offset, timestamp))) => {
                            out.offset = Some(offset);
                            out.timestamp = Some(timestamp);
                        }
                        Ok(None) => {}
                        Err(e @ LogError::CorruptBatch { .. }) => {
                            context.damaged.report(&context.metrics, &topic.name, p.partition, &e);
                            out.error = log_error_code(&e);
                        }
                        Err(e) => {
                            tracing::warn!(topic = %topic.name, partition = p.partition, error = %e, "timestamp lookup failed");
                            out.error = log_error_code(&e);
                        }
                    },
                },
            }
            partitions.push(out);
        }
        topics.push(ListOffsetsTopicResponse { name: topic.name, partitions });
    }
    ListOffsetsResponse { error: ErrorCode::None, error_message: None, topics }
}
