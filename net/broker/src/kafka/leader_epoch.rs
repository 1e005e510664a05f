//! Kafka OffsetForLeaderEpoch (v2–4): where a leader epoch ends in this
//! core's log (the log's `end_offset_for_epoch`), which librdkafka ≥ 2.1
//! and the Java consumer use to validate their position after a leader
//! change. An epoch above every cached one (or an empty log) gets Kafka's
//! UNDEFINED answer: epoch -1, offset -1.

use super::errors::kafka_code;
use crate::handlers::local_partition;
use crate::shard::Shard;
use corelog_kafka_protocol::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use corelog_kafka_protocol::{error_code, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use corelog_protocol::ErrorCode;

pub fn handle(request: OffsetForLeaderEpochRequest, shard: &Shard) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut out = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    let located = match u32::try_from(p.partition) {
                        Ok(id) => local_partition(shard, &t.topic, id),
                        Err(_) => Err((ErrorCode::UnknownPartition, None, String::new())),
                    };
                    match (located, u32::try_from(p.leader_epoch)) {
                        (Err((code, _, _)), _) => out.error_code = kafka_code(code),
                        (Ok(_), Err(_)) => out.error_code = error_code::NONE,
                        (Ok(partition), Ok(epoch)) => {
                            let current = partition.leader_epoch();
                            let asked = p.current_leader_epoch;
                            // The client's view of the current epoch must not be
                            // ahead of ours (it saw a newer leader) nor behind it.
                            if asked >= 0 && i64::from(asked) > i64::from(current) {
                                out.error_code = error_code::UNKNOWN_LEADER_EPOCH;
                            } else if asked >= 0 && i64::from(asked) < i64::from(current) {
                                out.error_code = error_code::FENCED_LEADER_EPOCH;
                            } else if let Some((found, end)) = partition.log.end_offset_for_epoch(epoch) {
                                out.leader_epoch = i32::try_from(found).unwrap_or(i32::MAX);
                                out.end_offset = i64::try_from(end).unwrap_or(i64::MAX);
                            }
                        }
                    }
                    out
                })
                .collect();
            OffsetForLeaderTopicResult { topic: t.topic, partitions }
        })
        .collect();
    OffsetForLeaderEpochResponse { topics, ..Default::default() }
}
