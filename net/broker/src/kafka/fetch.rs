//! Kafka Fetch (v4–12): committed batches of this core's partitions, up to
//! the high watermark, with long-poll (`max_wait_ms`, `min_bytes`) and the
//! byte limits (`max_bytes`, `partition_max_bytes`), as the native fetch.
//!
//! Each stored batch goes out as a Kafka v2 batch:
//! - a stored Kafka batch (magic 2 at byte 16, see `StoredBatch`) is sent as
//!   its wire bytes, the padding cut off by slicing, with no byte copied:
//!   from the tail cache as slices of the appended buffer, from a segment
//!   read as ranges of the core-local DMA buffer (`Piece::Local`);
//! - a stored native batch is converted with `native_to_kafka` at the edge.
//!
//! No fetch sessions: the response's session id is 0, so clients send full
//! fetches. A partition this core does not own gets NOT_LEADER_OR_FOLLOWER
//! and, from v12, the owner in `current_leader`.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::select_all;

use super::brokers::broker_id;
use super::errors::kafka_code;
use crate::context::ServerContext;
use crate::errors::log_error_code;
use crate::handlers::local_partition;
use crate::limits::MAX_FETCH_WAIT;
use crate::shard::Shard;
use corelog_format::kafka::native_to_kafka;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::StoredBatch;
use corelog_kafka_protocol::fetch_response::{FetchableTopicResponse, LeaderIdAndEpoch, PartitionData};
use corelog_kafka_protocol::{error_code, FetchRequest, FetchResponse, Piece, RecordsData};
use corelog_protocol::ErrorCode;
use corelog_runtime::ReadBuf;
use corelog_storage::BatchSlice;

pub async fn handle(request: FetchRequest, shard: &Shard, context: &ServerContext) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_FETCH_WAIT);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let deadline = Instant::now() + wait;
    loop {
        // Subscribe before reading so a commit between the read and the wait
        // still wakes us.
        let mut wakeups = Vec::new();
        let (response, bytes, settled) = read_once(&request, shard, context, &mut wakeups).await;
        let now = Instant::now();
        if bytes >= min_bytes || settled || now >= deadline || wakeups.is_empty() {
            return response;
        }
        if corelog_runtime::timeout(deadline - now, select_all(wakeups)).await.is_none() {
            return read_once(&request, shard, context, &mut Vec::new()).await.0;
        }
    }
}

/// One pass over the requested partitions: the response, its record bytes,
/// and whether an error makes waiting pointless.
async fn read_once(
    request: &FetchRequest,
    shard: &Shard,
    context: &ServerContext,
    wakeups: &mut Vec<futures::channel::oneshot::Receiver<()>>,
) -> (FetchResponse, usize, bool) {
    let mut budget = usize::try_from(request.max_bytes).unwrap_or(0);
    let (mut total, mut settled) = (0usize, false);
    let mut responses = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let mut out = PartitionData {
                partition_index: p.partition,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                aborted_transactions: Some(Vec::new()),
                ..Default::default()
            };
            let located = match u32::try_from(p.partition) {
                Ok(id) => local_partition(shard, &topic.topic, id).map(|part| (id, part)),
                Err(_) => Err((ErrorCode::UnknownPartition, None, String::new())),
            };
            let (id, partition) = match located {
                Ok(found) => found,
                Err((code, owner, _)) => {
                    out.error_code = kafka_code(code);
                    if let Some(owner) = owner {
                        out.current_leader = LeaderIdAndEpoch {
                            leader_id: broker_id(owner.node_id, u32::from(owner.core_id)),
                            leader_epoch: -1,
                        };
                    }
                    settled = true;
                    partitions.push(out);
                    continue;
                }
            };
            let log = &partition.log;
            wakeups.push(log.committed_changed());
            let high_watermark = log.consumer_high_watermark();
            let Ok(from) = u64::try_from(p.fetch_offset) else {
                out.error_code = error_code::OFFSET_OUT_OF_RANGE;
                settled = true;
                partitions.push(out);
                continue;
            };
            let max = usize::try_from(p.partition_max_bytes).unwrap_or(0).min(budget);
            // A zero budget still returns one batch to the first partition
            // with data, so a large batch cannot stall a consumer.
            let result = if budget == 0 && total > 0 {
                Ok(None)
            } else {
                log.read_bounded(from, max.max(1), high_watermark).await.map(Some)
            };
            out.high_watermark = i64::try_from(high_watermark).unwrap_or(i64::MAX);
            out.last_stable_offset = out.high_watermark;
            out.log_start_offset = i64::try_from(log.log_start_offset()).unwrap_or(i64::MAX);
            match result {
                Ok(Some(fetched)) => match to_kafka_records(fetched.slices) {
                    Ok(records) => {
                        total += records.len();
                        budget = budget.saturating_sub(records.len());
                        out.records = Some(records);
                    }
                    Err(e) => {
                        tracing::warn!(topic = %topic.topic, partition = id, error = %e, "cannot send a stored batch to a Kafka client");
                        out.error_code = kafka_code(ErrorCode::CorruptBatch);
                        settled = true;
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    context.damaged.report(&context.metrics, &topic.topic, id, &e);
                    out.error_code = kafka_code(log_error_code(&e));
                    settled = true;
                }
            }
            partitions.push(out);
        }
        responses.push(FetchableTopicResponse { topic: topic.topic.clone(), partitions, ..Default::default() });
    }
    (FetchResponse { error_code: error_code::NONE, session_id: 0, responses, ..Default::default() }, total, settled)
}

/// Kafka v2 `batchLength` sits at bytes 8..12 (big-endian): the wire
/// length is 12 more.
const KAFKA_LENGTH_END: usize = 12;

/// One batch from the tail cache (validated when it was appended): a Kafka
/// batch is sliced to its wire length with no copy; a native one converted.
fn push_cached(records: &mut RecordsData, header: Bytes, rest: Bytes) -> Result<(), corelog_format::BatchError> {
    if header.get(corelog_format::stored::MAGIC_OFFSET) != Some(&corelog_format::kafka::MAGIC) {
        records.push(converted(&[&header[..], &rest[..]].concat())?);
        return Ok(());
    }
    let length = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    let wire = usize::try_from(length).map_err(|_| corelog_format::BatchError::TooShort { len: 0 })? + KAFKA_LENGTH_END;
    if wire > header.len() + rest.len() {
        return Err(corelog_format::BatchError::Truncated { length: wire, available: header.len() + rest.len() });
    }
    if wire <= header.len() {
        records.push(header.slice(..wire));
    } else {
        records.push(header.clone());
        records.push(rest.slice(..wire - header.len()));
    }
    Ok(())
}

/// A stored native batch (exactly its bytes) as Kafka v2 bytes; fully
/// checked by the conversion.
fn converted(native: &[u8]) -> Result<Bytes, corelog_format::BatchError> {
    Ok(Bytes::from(native_to_kafka(native, MAX_BATCH_BYTES_CEILING)?))
}

/// The batches of a segment read, each checked: a Kafka batch goes out as
/// a range of the DMA buffer itself (its padding cut off, nothing copied);
/// a native one converted.
fn push_disk(records: &mut RecordsData, buf: ReadBuf) -> Result<(), corelog_format::BatchError> {
    let buf: Rc<dyn AsRef<[u8]>> = Rc::new(buf);
    let all = (*buf).as_ref();
    let mut at = 0;
    while at < all.len() {
        let bytes = &all[at..];
        let batch = StoredBatch::validate(bytes, MAX_BATCH_BYTES_CEILING)?;
        let (wire, stored) = (batch.wire_len(), batch.stored_len());
        match batch {
            StoredBatch::Kafka(_) => {
                let piece = Piece::local(buf.clone(), at..at + wire)
                    .ok_or(corelog_format::BatchError::Truncated { length: wire, available: bytes.len() })?;
                records.push_piece(piece);
            }
            StoredBatch::Native(_) => records.push(converted(&bytes[..stored.min(bytes.len())])?),
        }
        at += stored.max(1);
    }
    Ok(())
}

/// The stored batches of a read as Kafka v2 batches.
fn to_kafka_records(slices: Vec<BatchSlice>) -> Result<RecordsData, corelog_format::BatchError> {
    let mut records = RecordsData::default();
    for slice in slices {
        match slice {
            BatchSlice::Memory(cached) => push_cached(&mut records, cached.header, cached.rest)?,
            BatchSlice::Disk(buf) => push_disk(&mut records, buf)?,
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_format::kafka::{BatchBuilder, Compression};
    use corelog_format::stored::kafka_to_stored;

    fn kafka_batch(value: &[u8]) -> Vec<u8> {
        let mut b = BatchBuilder::new(Compression::None);
        b.push(Some(b"k"), Some(value), 1_700_000_000_000, &[]);
        b.build().unwrap()
    }

    #[test]
    fn kafka_batches_of_a_segment_read_go_out_as_ranges_of_its_buffer() {
        let (one, two) = (kafka_batch(b"first"), kafka_batch(b"second, longer"));
        let (stored_one, stored_two) = (kafka_to_stored(&one), kafka_to_stored(&two));
        assert!(stored_one.len() > one.len(), "the test needs padding to cut");
        let disk = Bytes::from([stored_one.clone(), stored_two].concat());
        let records = to_kafka_records(vec![BatchSlice::Disk(ReadBuf::Owned(disk.clone()))]).unwrap();
        assert_eq!(records.to_bytes(), Bytes::from([one.clone(), two.clone()].concat()), "padding cut");
        let pieces = records.pieces();
        assert_eq!(pieces.len(), 2);
        assert!(matches!(pieces[0], Piece::Local { .. }));
        assert_eq!(pieces[0].as_ptr(), disk.as_ptr(), "the first batch is not copied");
        assert_eq!(pieces[1].as_ptr(), disk[stored_one.len()..].as_ptr(), "the second batch is not copied");
    }

    #[test]
    fn a_damaged_batch_in_a_segment_read_is_an_error() {
        let mut stored = kafka_to_stored(&kafka_batch(b"value"));
        let last = stored.len() - 1;
        stored[last] = 1; // padding must be zero
        let read = vec![BatchSlice::Disk(ReadBuf::Owned(Bytes::from(stored)))];
        assert!(to_kafka_records(read).is_err());
    }
}
