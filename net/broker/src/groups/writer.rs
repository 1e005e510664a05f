//! Appending the coordinator's persists to `__consumer_offsets`.
//!
//! One queue (and one task) per partition: persists of a partition are
//! appended one after the other, in the order the coordinator emitted them,
//! each as one `append_batches` call (its records back to back, nothing else
//! in between), durable under the topic's flush policy (`always`) before it
//! is reported back as `Persisted`. Partitions append concurrently, so their
//! appends share group commits like any other.

use std::rc::Rc;

use bytes::BytesMut;
use futures::channel::mpsc;
use futures::StreamExt;

use crate::shard::{Locate, Shard};
use corelog_format::{BatchBuilder, BatchError, Compression};

use super::now_ms;
use super::runtime::GroupRuntime;
use crate::errors::log_error_code;
use crate::limits::OFFSETS_COMMIT_TIMEOUT;
use crate::replica::{self, Replicated};
use corelog_coordinator::{Event, OffsetsRecord, Persist, OFFSETS_TOPIC};
use corelog_protocol::ErrorCode;

/// Records of one persist are cut into batches of about this size (a single
/// larger record gets a batch of its own, up to the topic's limit).
pub const PERSIST_BATCH_BYTES: usize = 1024 * 1024;

/// The queue of one partition: appends every persist sent to it, in order,
/// and reports each to the runtime. Ends when the runtime drops the sender
/// (the partition was unloaded) or the shard stops.
pub async fn run(runtime: Rc<GroupRuntime>, partition: u32, mut queue: mpsc::UnboundedReceiver<Persist>) {
    let shard = runtime.shard().clone();
    loop {
        let next = {
            let next = std::pin::pin!(queue.next());
            let stopped = std::pin::pin!(shard.stopped());
            match futures::future::select(next, stopped).await {
                futures::future::Either::Left((next, _)) => next,
                futures::future::Either::Right(_) => None,
            }
        };
        let Some(persist) = next else { return };
        debug_assert_eq!(persist.partition, partition);
        let result = append(&shard, &persist).await;
        runtime.dispatch(Event::Persisted { id: persist.id, result });
    }
}

/// Appends one persist's records to its partition, durably and, on a
/// replicated `__consumer_offsets`, on every in-sync replica (Kafka's
/// offsets.commit.required.acks=-1): a commit answered once survives the loss
/// of the coordinator's broker.
async fn append(shard: &Shard, persist: &Persist) -> Result<(), ErrorCode> {
    if persist.records.is_empty() {
        return Ok(());
    }
    let partition = match shard.locate(OFFSETS_TOPIC, persist.partition) {
        Locate::Local(p) => p,
        _ => return Err(ErrorCode::NotCoordinator),
    };
    let max = partition.log.config().max_batch_bytes;
    let batches = encode(&persist.records, now_ms() as i64, PERSIST_BATCH_BYTES.min(max)).map_err(|e| {
        tracing::error!(partition = persist.partition, error = %e, "cannot encode coordinator records");
        ErrorCode::UnknownServerError
    })?;
    replica::check_produce(&partition)?;
    match partition.log.append_batches(batches).await {
        Ok(info) => {
            replica::note_appended(&partition);
            match replica::await_replication(&partition, info.last_offset + 1, OFFSETS_COMMIT_TIMEOUT).await {
                Replicated::Yes => Ok(()),
                Replicated::No(code) => {
                    tracing::warn!(partition = persist.partition, %code, "{OFFSETS_TOPIC} append not replicated");
                    Err(code)
                }
            }
        }
        Err(e) => {
            tracing::warn!(partition = persist.partition, error = %e, "appending to {OFFSETS_TOPIC} failed");
            Err(log_error_code(&e))
        }
    }
}

/// The records as batches of about `target` bytes each: key = the record's
/// key, value = its value (empty for a tombstone), timestamp `now`.
pub fn encode(records: &[OffsetsRecord], now: i64, target: usize) -> Result<Vec<BytesMut>, BatchError> {
    let mut batches = Vec::new();
    let mut builder = BatchBuilder::new(Compression::None);
    for record in records {
        let size = record.key.len() + record.value.len();
        if !builder.is_empty() && builder.estimated_size() + size > target {
            let full = std::mem::replace(&mut builder, BatchBuilder::new(Compression::None));
            batches.push(full.build()?);
        }
        builder.push(Some(&record.key), &record.value, now, &[]);
    }
    if !builder.is_empty() {
        batches.push(builder.build()?);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_format::DecodedBatch;

    fn record(key: &str, value_len: usize) -> OffsetsRecord {
        OffsetsRecord { key: key.as_bytes().to_vec(), value: vec![7; value_len] }
    }

    #[test]
    fn records_are_cut_into_batches_in_order() {
        let records: Vec<OffsetsRecord> = (0..10).map(|i| record(&format!("k{i}"), 400)).collect();
        let batches = encode(&records, 5, 1_500).unwrap();
        assert!(batches.len() > 1, "cut at the target size");
        let mut keys = Vec::new();
        for b in &batches {
            let decoded = DecodedBatch::decode(b, 1 << 20).unwrap();
            for r in decoded.records() {
                keys.push(String::from_utf8(r.key.unwrap().to_vec()).unwrap());
                assert_eq!((r.value.len(), r.timestamp), (400, 5));
            }
        }
        let want: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        assert_eq!(keys, want);
    }

    #[test]
    fn tombstones_have_empty_values_and_big_records_go_alone() {
        let records = vec![record("a", 0), record("big", 5_000), record("b", 0)];
        let batches = encode(&records, 1, 1_000).unwrap();
        assert_eq!(batches.len(), 3);
        let first = DecodedBatch::decode(&batches[0], 1 << 20).unwrap();
        let r = first.records().next().unwrap();
        assert_eq!((r.key, r.value), (Some(&b"a"[..]), &b""[..]));
    }
}
