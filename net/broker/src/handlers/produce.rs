//! Produce: append each partition's batches to its log on this core.

use std::time::Instant;

use bytes::BytesMut;
use futures::future::join_all;

use crate::shard::Shard;
use corelog_format::{iter_batches, validate_records, BatchError, BatchHeader};

use super::local_partition;
use crate::context::ServerContext;
use crate::errors::log_error_code;
use crate::groups::is_internal_topic;
use corelog_protocol::{
    Acks, ErrorCode, ProducePartition, ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopicResponse,
};

/// Appends every partition's batches (partitions concurrently, so they share
/// group commits); None for acks=0, which gets no response.
///
/// Appends are never abandoned halfway, so `timeout_ms` does not cut them
/// short: on one node an append ends when the disk answers. (It will bound
/// the wait for in-sync replicas once replication exists.)
pub async fn handle(request: ProduceRequest, shard: &Shard, context: &ServerContext) -> Option<ProduceResponse> {
    let started = Instant::now();
    let acks = request.acks;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name;
        let partitions = join_all(topic.partitions.into_iter().map(|p| {
            let name = &name;
            async move { append(name, p, shard, context).await }
        }))
        .await;
        topics.push(ProduceTopicResponse { name, partitions });
    }
    let errors = topics.iter().flat_map(|t| &t.partitions).filter(|p| p.error != ErrorCode::None).count();
    context.metrics.produced(started.elapsed(), errors);
    (acks != Acks::None).then_some(ProduceResponse { error: ErrorCode::None, error_message: None, topics })
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

/// Validates every batch of the partition first (all or nothing: a request
/// with one bad batch appends none), then appends them in order.
async fn append(topic: &str, p: ProducePartition, shard: &Shard, context: &ServerContext) -> ProducePartitionResponse {
    let id = p.partition;
    if is_internal_topic(topic) {
        return failed(
            id,
            ErrorCode::InvalidRequest,
            format!("{topic} is an internal topic: only the broker writes it"),
            None,
        );
    }
    let partition = match local_partition(shard, context, topic, id) {
        Ok(partition) => partition,
        Err((code, owner, message)) => return failed(id, code, message, owner),
    };
    let max = partition.log.config().max_batch_bytes;
    let bytes = p.records.to_bytes();
    let mut batches = Vec::new();
    for batch in iter_batches(&bytes, max) {
        // iter_batches checked framing and CRC; only the records remain.
        let checked = batch.and_then(|b| {
            let header = BatchHeader::parse(b).ok_or(BatchError::TooShort { len: b.len() })?;
            validate_records(b, header).map(|_| b)
        });
        match checked {
            Ok(b) => batches.push(b),
            Err(e) => {
                let code = match e {
                    BatchError::LengthOverMax { .. } | BatchError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
                    _ => ErrorCode::CorruptBatch,
                };
                return failed(id, code, format!("{topic}/{id}: {e}"), None);
            }
        }
    }
    if batches.is_empty() {
        return failed(id, ErrorCode::CorruptBatch, format!("{topic}/{id}: no record batch in the request"), None);
    }
    let bytes_in: usize = batches.iter().map(|b| b.len()).sum();
    let records_in: u32 = batches.iter().filter_map(|b| BatchHeader::parse(b)).map(BatchHeader::record_count).sum();
    // One copy, into buffers the log may patch (base offset, epoch) and keep
    // in its tail cache; appended back to back, so every batch's offsets
    // follow from the first. The CRC was checked above, not again.
    let owned: Vec<BytesMut> = batches.into_iter().map(BytesMut::from).collect();
    let base_offset = match partition.log.append_validated(owned).await {
        Ok(info) => {
            context.metrics.appended(bytes_in, records_in);
            Some(info.base_offset)
        }
        Err(e) => return failed(id, log_error_code(&e), format!("{topic}/{id}: {e}"), None),
    };
    ProducePartitionResponse {
        partition: id,
        error: ErrorCode::None,
        error_message: None,
        base_offset: base_offset.unwrap_or(0),
        log_append_time: None,
        log_start_offset: partition.log.log_start_offset(),
        current_owner: None,
    }
}
