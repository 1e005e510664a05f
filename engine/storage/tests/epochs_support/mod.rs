//! Helpers shared by the leader-epoch and replica-append suites.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{BatchHeader, ValidBatch, ValidBatches};
use corelog_storage::disk::Storage;
use corelog_storage::{EpochEntry, PartitionLog};

use crate::common::batch;

/// `(epoch, start_offset)` pairs of a log's epoch cache.
pub fn pairs<S: Storage>(log: &PartitionLog<S>) -> Vec<(u32, u64)> {
    log.epoch_entries().iter().map(|e: &EpochEntry| (e.epoch, e.start_offset)).collect()
}

/// Appends `n` batches of `records` records each.
pub async fn append_n<S: Storage>(log: &PartitionLog<S>, tag: u64, n: usize, records: usize) {
    for i in 0..n {
        log.append(batch(tag * 1000 + i as u64, records, 40, 1_000)).await.expect("append");
    }
}

/// Every stored batch of `log` from `from` to its end, each as its own
/// buffer, exactly as the log serves them (what a follower fetches).
pub async fn stored_batches<S: Storage>(log: &PartitionLog<S>, from: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let fetched = log.read(offset, 1 << 20).await.expect("read");
        assert!(!fetched.slices.is_empty(), "read at {offset} returned nothing");
        for slice in &fetched.slices {
            let bytes = slice.to_contiguous();
            for b in corelog_format::iter_batches(&bytes, MAX_BATCH_BYTES_CEILING) {
                let b = b.expect("served batches are valid");
                offset = BatchHeader::parse(b).unwrap().next_offset();
                out.push(Bytes::copy_from_slice(b));
            }
        }
    }
    out
}

/// Checked batches, as a follower's fetch response handler builds them.
pub fn valid(batches: &[Bytes]) -> ValidBatches {
    let valid = batches.iter().map(|b| ValidBatch::new(b.clone(), MAX_BATCH_BYTES_CEILING).unwrap()).collect();
    ValidBatches::from_batches(valid).unwrap()
}

/// A batch of `records` records with base offset and leader epoch set as a
/// leader would have stored it (both fields are outside the CRC).
pub fn stamped(tag: u64, records: usize, base_offset: u64, epoch: u32) -> Bytes {
    let mut b: BytesMut = batch(tag, records, 40, 1_000);
    let header = BatchHeader::parse_mut(&mut b).unwrap();
    header.base_offset.set(base_offset);
    header.leader_epoch.set(epoch);
    b.freeze()
}

/// `(base_offset, leader_epoch)` of each batch.
pub fn headers(batches: &[Bytes]) -> Vec<(u64, u32)> {
    batches
        .iter()
        .map(|b| {
            let h = BatchHeader::parse(b).unwrap();
            (h.base_offset(), h.leader_epoch())
        })
        .collect()
}
