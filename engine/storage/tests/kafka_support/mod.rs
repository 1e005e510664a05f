//! Helpers for the tests of Kafka v2 batches in the log: building them as a
//! Kafka producer does, and reading stored bytes of either format back.
#![allow(dead_code)]

use std::path::Path;

use bytes::Bytes;
use corelog_format::kafka::{self, Compression};
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::stored::iter_stored;
use corelog_format::{DecodedBatch, StoredBatch, ValidBatches};
use corelog_storage::disk::Storage;
use corelog_storage::{Fetched, PartitionLog};

/// One Kafka batch as a producer sends it (base offset 0, epoch -1): values
/// `"{tag}:{i}"`, record `i` at `timestamp + i`, every other one with a
/// key and a header.
pub fn kafka_batch(codec: Compression, tag: u64, records: usize, timestamp: i64) -> Vec<u8> {
    let mut b = kafka::BatchBuilder::new(codec);
    for i in 0..records {
        let value = format!("{tag}:{i}:{}", noise(tag * 1_000 + i as u64, 160));
        let key = format!("k{i}");
        let key = (i % 2 == 0).then_some(key.as_bytes());
        let headers: &[(&str, Option<&[u8]>)] = if i % 2 == 0 { &[("h", Some(b"x"))] } else { &[] };
        b.push(key, Some(value.as_bytes()), timestamp + i as i64, headers);
    }
    b.build().expect("test Kafka batch builds")
}

/// `len` letters that compress poorly, from `seed`.
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (b'a' + (x >> 59) as u8 % 26) as char
        })
        .collect()
}

/// `batches` as one Kafka produce request's records blob, checked.
pub fn kafka_request(batches: &[Vec<u8>]) -> (Bytes, ValidBatches) {
    let blob = Bytes::from(batches.concat());
    let valid = ValidBatches::from_kafka_network(blob.clone(), MAX_BATCH_BYTES_CEILING).expect("valid Kafka blob");
    (blob, valid)
}

/// A record read back, whichever format its batch is stored in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub offset: u64,
    pub timestamp: i64,
    pub value: Vec<u8>,
}

/// The stored batches of a read, one buffer each, padding included.
pub fn stored_batches(fetched: &Fetched) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for slice in &fetched.slices {
        let bytes = slice.to_contiguous();
        for batch in iter_stored(&bytes, MAX_BATCH_BYTES_CEILING) {
            out.push(batch.expect("served batches are valid").1.to_vec());
        }
    }
    out
}

/// Every record of one stored batch.
pub fn records_of(stored: &[u8]) -> Vec<Read> {
    match StoredBatch::validate_full(stored, MAX_BATCH_BYTES_CEILING).expect("a valid stored batch") {
        StoredBatch::Native(_) => DecodedBatch::decode(stored, MAX_BATCH_BYTES_CEILING)
            .unwrap()
            .records()
            .map(|r| Read { offset: r.offset, timestamp: r.timestamp, value: r.value.to_vec() })
            .collect(),
        StoredBatch::Kafka(_) => kafka::DecodedBatch::decode(stored, MAX_BATCH_BYTES_CEILING)
            .unwrap()
            .records()
            .map(|r| Read {
                offset: r.offset as u64,
                timestamp: r.timestamp,
                value: r.value.unwrap_or_default().to_vec(),
            })
            .collect(),
    }
}

/// Every record from `from` to the log end, walking it with reads.
pub async fn read_all<S: Storage>(log: &PartitionLog<S>, from: u64) -> Vec<Read> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let fetched = log.read(offset, 64 * 1024).await.expect("read");
        let before = offset;
        for r in stored_batches(&fetched).iter().flat_map(|b| records_of(b)) {
            if r.offset >= offset {
                offset = r.offset + 1;
                out.push(r);
            }
        }
        assert!(offset > before, "read at {before} made no progress");
    }
    out
}

/// Every stored batch from `from` to the log end, walking it with reads.
pub async fn all_stored<S: Storage>(log: &PartitionLog<S>, from: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let fetched = log.read(offset, 64 * 1024).await.expect("read");
        for batch in stored_batches(&fetched) {
            offset = StoredBatch::validate(&batch, MAX_BATCH_BYTES_CEILING).unwrap().next_offset();
            out.push(batch);
        }
    }
    out
}

/// A batch found in a segment file by walking it with std::fs.
#[derive(Debug, Clone, Copy)]
pub struct OnDisk {
    pub pos: u64,
    pub len: u64,
    pub wire_len: u64,
    pub base: u64,
    pub next: u64,
    pub kafka: bool,
}

pub fn batches_in(path: &Path) -> Vec<OnDisk> {
    let bytes = std::fs::read(path).expect("read segment file");
    let mut out = Vec::new();
    let mut pos = 0usize;
    for batch in iter_stored(&bytes, MAX_BATCH_BYTES_CEILING) {
        let Ok((b, stored)) = batch else { break };
        out.push(OnDisk {
            pos: pos as u64,
            len: stored.len() as u64,
            wire_len: b.wire_len() as u64,
            base: b.base_offset(),
            next: b.next_offset(),
            kafka: b.format() == corelog_format::BatchFormat::Kafka,
        });
        pos += stored.len();
    }
    out
}

pub fn seg_file(dir: &Path, base: u64, suffix: &str) -> std::path::PathBuf {
    dir.join(format!("{base:020}.{suffix}"))
}

/// Base offsets of the segments in `dir`, ascending.
pub fn segment_bases(dir: &Path) -> Vec<u64> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .expect("list dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
        .collect();
    bases.sort_unstable();
    bases
}
