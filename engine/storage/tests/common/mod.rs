//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use bytes::BytesMut;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{BatchBuilder, Compression, DecodedBatch};
use corelog_storage::{Fetched, LogConfig, PartitionLog};

/// A batch of `records` records whose values encode `tag` and the record's
/// index, so a test can recognise exactly what it reads back.
pub fn batch(tag: u64, records: usize, value_len: usize, timestamp: i64) -> BytesMut {
    let mut b = BatchBuilder::new(Compression::None);
    for i in 0..records {
        let mut value = format!("{tag}:{i}:").into_bytes();
        value.resize(value_len.max(value.len()), b'x');
        let key = format!("k{i}");
        b.push(Some(key.as_bytes()), &value, timestamp + i as i64, &[]);
    }
    b.build().expect("test batch builds")
}

/// Every record value read by walking the log from `from` to its end.
pub async fn read_all_values<S: corelog_storage::disk::Storage>(
    log: &PartitionLog<S>,
    from: u64,
) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let fetched = log.read(offset, 256 * 1024).await.expect("read");
        let before = offset;
        for (o, v) in values(&fetched) {
            if o >= offset {
                out.push((o, v));
                offset = o + 1;
            }
        }
        assert!(offset > before, "read at {before} made no progress");
    }
    out
}

/// (offset, value) of every record in a fetch result.
pub fn values(fetched: &Fetched) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for slice in &fetched.slices {
        for batch in corelog_format::iter_batches(&slice.to_contiguous(), MAX_BATCH_BYTES_CEILING) {
            let batch = batch.expect("served batches are valid");
            let decoded = DecodedBatch::decode(batch, MAX_BATCH_BYTES_CEILING).expect("decodes");
            for r in decoded.records() {
                out.push((r.offset, r.value.to_vec()));
            }
        }
    }
    out
}

pub fn small_segments(segment_bytes: u64) -> LogConfig {
    LogConfig { segment_bytes, ..LogConfig::default() }
}

/// A temp dir on the build's disk: /tmp is often tmpfs, where O_DIRECT fails.
pub fn test_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir under target/")
}

/// The offset past an append's batch, once the append (a task that sets
/// `done` when it returns) has returned.
pub async fn ended(done: &std::cell::Cell<Option<u64>>) -> u64 {
    loop {
        if let Some(end) = done.get() {
            return end;
        }
        corelog_runtime::sleep(std::time::Duration::from_millis(1)).await;
    }
}
