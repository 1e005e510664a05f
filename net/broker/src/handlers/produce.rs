//! Produce: append each partition's batches to its log on this core.
//!
//! Every partition's batches are checked first, all of them, into
//! `ValidBatches` (framing, CRC, records), which the log appends without
//! checking or parsing them again. The batches are the slices of the
//! received frame they arrived in: the log copies each once, into the
//! segment's staging buffer, and its tail cache keeps the slices. Since a
//! slice keeps the whole frame alive, a frame that is small or mostly not
//! stored (other cores' partitions, rejected batches) is not kept: its
//! batches are copied into buffers of their own first (see
//! [`ZERO_COPY_MIN_FRAME_BYTES`]).

use std::rc::Rc;
use std::time::Instant;

use futures::future::join_all;

use crate::limits::ZERO_COPY_MIN_FRAME_BYTES;
use crate::replica::{self, Replicated};
use crate::shard::{Partition, Shard};
use corelog_format::{BatchError, ValidBatches};
use corelog_storage::{AppendInfo, LogError};

use super::local_partition;
use crate::context::ServerContext;
use crate::errors::log_error_code;
use crate::groups::is_internal_topic;
use corelog_protocol::{
    Acks, ErrorCode, ProducePartition, ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopicResponse,
};

/// A partition's batches ready to append, or its answer if they can't be.
type Checked = Result<(Rc<Partition>, ValidBatches), ProducePartitionResponse>;

/// How a produce request's records are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordsFormat {
    /// The native protocol's: stored batches (native, or Kafka ones padded).
    Stored,
    /// A Kafka client's: RecordBatch v2 back to back, as on Kafka's wire.
    Kafka,
}

/// Appends every partition's batches (partitions concurrently, so they share
/// group commits); None for acks=0, which gets no response. `frame_len` is
/// the size of the frame the request arrived in.
///
/// Appends are never abandoned halfway, so `timeout_ms` does not cut them
/// short: an append ends when the disk answers. It bounds the wait for the
/// in-sync replicas after it (`acks=all` on a replicated partition), which
/// then answers `RequestTimedOut`: the batch is in the leader's log and may
/// still be replicated, as in Kafka.
pub async fn handle(
    request: ProduceRequest,
    format: RecordsFormat,
    frame_len: usize,
    shard: &Shard,
    context: &ServerContext,
) -> Option<ProduceResponse> {
    let started = Instant::now();
    let acks = request.acks;
    let timeout = std::time::Duration::from_millis(u64::from(request.timeout_ms));
    let mut checked: Vec<(String, Vec<Checked>)> = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic.partitions.into_iter().map(|p| check(&topic.name, p, format, shard)).collect();
            (topic.name, partitions)
        })
        .collect();
    let stored: usize = checked.iter().flat_map(|(_, ps)| ps.iter().flatten()).map(|(_, b)| b.byte_len()).sum();
    if !keeps_frame(frame_len, stored) {
        for (_, batches) in checked.iter_mut().flat_map(|(_, ps)| ps.iter_mut().flatten()) {
            *batches = batches.compacted();
        }
    }
    let mut topics = Vec::with_capacity(checked.len());
    for (name, partitions) in checked {
        let partitions = join_all(partitions.into_iter().map(|p| {
            let name = &name;
            async move {
                match p {
                    Ok((partition, batches)) => append(name, &partition, batches, acks, timeout, context).await,
                    Err(failed) => failed,
                }
            }
        }))
        .await;
        topics.push(ProduceTopicResponse { name, partitions });
    }
    let errors = topics.iter().flat_map(|t| &t.partitions).filter(|p| p.error != ErrorCode::None).count();
    context.metrics.produced(started.elapsed(), errors);
    (acks != Acks::None).then_some(ProduceResponse { error: ErrorCode::None, error_message: None, topics })
}

/// Whether the batches may stay in the received frame: it has a buffer of
/// its own (big enough) and the batches stored are most of it.
fn keeps_frame(frame_len: usize, stored: usize) -> bool {
    frame_len >= ZERO_COPY_MIN_FRAME_BYTES && stored.saturating_mul(2) >= frame_len
}

fn failed(
    partition: u32,
    error: ErrorCode,
    message: String,
    owner: Option<corelog_protocol::Endpoint>,
) -> ProducePartitionResponse {
    ProducePartitionResponse {
        partition,
        error,
        error_message: Some(message),
        base_offset: 0,
        log_append_time: None,
        log_start_offset: 0,
        current_owner: owner,
    }
}

/// Finds the partition and checks all its batches (all or nothing: a
/// request with one bad batch appends none for that partition).
fn check(topic: &str, p: ProducePartition, format: RecordsFormat, shard: &Shard) -> Checked {
    let id = p.partition;
    if is_internal_topic(topic) {
        return Err(failed(
            id,
            ErrorCode::InvalidRequest,
            format!("{topic} is an internal topic: only the broker writes it"),
            None,
        ));
    }
    let partition = local_partition(shard, topic, id).map_err(|(code, owner, m)| failed(id, code, m, owner))?;
    let max = partition.log.config().max_batch_bytes;
    let batches = match format {
        RecordsFormat::Stored => ValidBatches::from_network(p.records.to_bytes(), max),
        RecordsFormat::Kafka => ValidBatches::from_kafka_network(p.records.to_bytes(), max),
    };
    match batches {
        Ok(batches) => Ok((partition, batches)),
        Err(e) => {
            let code = match e {
                BatchError::LengthOverMax { .. } | BatchError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
                BatchError::KafkaLengthOutOfRange { length, max, .. } if length as i64 > max as i64 => {
                    ErrorCode::BatchTooLarge
                }
                _ => ErrorCode::CorruptBatch,
            };
            let message = match e {
                BatchError::NoBatches => format!("{topic}/{id}: no record batch in the request"),
                e => format!("{topic}/{id}: {e}"),
            };
            Err(failed(id, code, message, None))
        }
    }
}

/// Appends one partition's checked batches back to back, so every batch's
/// offsets follow from the first.
async fn append(
    topic: &str,
    partition: &Partition,
    batches: ValidBatches,
    acks: Acks,
    timeout: std::time::Duration,
    context: &ServerContext,
) -> ProducePartitionResponse {
    let id = partition.id;
    // Below min.insync.replicas nothing is appended (Kafka's NOT_ENOUGH_REPLICAS).
    if acks == Acks::All {
        if let Err(code) = replica::check_produce(partition) {
            let message = format!("{topic}/{id}: {}", code.message());
            return failed(id, code, message, None);
        }
    }
    let (bytes_in, records_in) = (batches.byte_len(), batches.record_count());
    let appended = match partition.log.append_valid(batches).await {
        Ok(info) => {
            context.metrics.appended(bytes_in, records_in);
            Ok(info)
        }
        // An idempotent producer's retry: answered with where the log holds
        // it, once it is as durable as its first answer would have waited for.
        Err(LogError::DuplicateBatch { first_offset, last_offset }) => {
            match corelog_runtime::timeout(timeout, partition.log.wait_committed(last_offset + 1)).await {
                Some(Ok(())) => Ok(AppendInfo { base_offset: first_offset, last_offset }),
                Some(Err(e)) => Err(e),
                None => {
                    let message = format!("{topic}/{id}: a retried batch at {first_offset} is not yet durable");
                    return failed(id, ErrorCode::RequestTimedOut, message, None);
                }
            }
        }
        Err(e) => Err(e),
    };
    match appended {
        Ok(info) => {
            replica::note_appended(partition);
            if acks == Acks::All {
                if let Replicated::No(code) = replica::await_replication(partition, info.last_offset + 1, timeout).await
                {
                    let message = format!(
                        "{topic}/{id}: appended at {} but not acknowledged by the in-sync replicas: {}",
                        info.base_offset,
                        code.message()
                    );
                    return failed(id, code, message, None);
                }
            }
            ProducePartitionResponse {
                partition: id,
                error: ErrorCode::None,
                error_message: None,
                base_offset: info.base_offset,
                log_append_time: None,
                log_start_offset: partition.log.log_start_offset(),
                current_owner: None,
            }
        }
        Err(e) => failed(id, log_error_code(&e), format!("{topic}/{id}: {e}"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_big_frames_that_are_mostly_stored_batches() {
        let min = ZERO_COPY_MIN_FRAME_BYTES;
        assert!(keeps_frame(min, min - 100), "a big frame of batches");
        assert!(keeps_frame(8 << 20, 4 << 20), "half of it stored");
        assert!(!keeps_frame(8 << 20, (4 << 20) - 1), "most of it other partitions or rejected");
        assert!(!keeps_frame(min - 1, min - 1), "small frames share their receive buffer");
        assert!(!keeps_frame(min, 0));
    }
}
