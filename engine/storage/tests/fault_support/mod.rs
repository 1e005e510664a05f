//! Helpers shared by the fault-injection suites.
#![allow(dead_code)]

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::common::{batch, read_all_values};
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{validate, HEADER_LEN};
use corelog_storage::disk::Storage;
use corelog_storage::{LogConfig, LogError, PartitionLog};

// ---------------------------------------------------------------- helpers

/// Small segments; no tail cache, so reads come from the files.
pub fn config(segment_bytes: u64) -> LogConfig {
    LogConfig { segment_bytes, tail_cache_bytes: 0, ..LogConfig::default() }
}

pub fn seg_file(dir: &Path, base: u64, suffix: &str) -> PathBuf {
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

/// A valid batch found in a segment file by walking it with std::fs.
#[derive(Debug, Clone, Copy)]
pub struct OnDisk {
    pub pos: u64,
    pub len: u64,
    pub base: u64,
    pub last: u64,
}

/// The valid batches at the start of a `.log` file.
pub fn batches_in(path: &Path) -> Vec<OnDisk> {
    let bytes = std::fs::read(path).expect("read segment file");
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + HEADER_LEN <= bytes.len() {
        let Ok(header) = validate(&bytes[pos..], MAX_BATCH_BYTES_CEILING) else { break };
        let len = header.batch_length();
        out.push(OnDisk { pos: pos as u64, len: len as u64, base: header.base_offset(), last: header.last_offset() });
        pos += len;
    }
    out
}

/// XORs `mask` into the byte at `pos` of `path`: a plain read-modify-write.
pub fn flip_on_disk(path: &Path, pos: u64, mask: u8) {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("open for flip");
    let mut byte = [0u8];
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.read_exact(&mut byte).unwrap();
    byte[0] ^= mask;
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.write_all(&byte).unwrap();
    f.sync_all().unwrap();
}

/// An appended batch of `common::batch(tag, records, value_len, ts)`.
#[derive(Debug, Clone, Copy)]
pub struct Acked {
    pub base: u64,
    pub tag: u64,
    pub records: usize,
    pub value_len: usize,
    pub ts: i64,
}

impl Acked {
    pub fn end(&self) -> u64 {
        self.base + self.records as u64
    }
}

pub async fn append<S: Storage>(
    log: &PartitionLog<S>,
    tag: u64,
    records: usize,
    value_len: usize,
    ts: i64,
) -> Result<Acked, LogError> {
    let info = log.append(batch(tag, records, value_len, ts)).await?;
    assert_eq!(info.last_offset - info.base_offset + 1, records as u64);
    Ok(Acked { base: info.base_offset, tag, records, value_len, ts })
}

/// The (offset, value) pairs `acked` stands for, as `common::batch` makes them.
pub fn expected(acked: &[Acked]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for a in acked {
        for i in 0..a.records {
            let mut value = format!("{}:{i}:", a.tag).into_bytes();
            value.resize(a.value_len.max(value.len()), b'x');
            out.push((a.base + i as u64, value));
        }
    }
    out
}

/// Checks the log holds exactly `acked`, contiguous from offset 0, and ends there.
pub async fn assert_exactly<S: Storage>(log: &PartitionLog<S>, acked: &[Acked]) {
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.log_end_offset(), acked.last().map_or(0, Acked::end), "log end");
    let got = read_all_values(log, 0).await;
    let want = expected(acked);
    assert_eq!(got.len(), want.len(), "record count");
    for (g, w) in got.iter().zip(&want) {
        assert!(g == w, "offset {}: got {:?}, want {:?}", w.0, String::from_utf8_lossy(&g.1[..16.min(g.1.len())]), {
            String::from_utf8_lossy(&w.1[..16.min(w.1.len())])
        });
    }
}

/// Appends `n` batches (tags `first_tag..`) and returns them.
pub async fn fill<S: Storage>(
    log: &PartitionLog<S>,
    first_tag: u64,
    n: u64,
    records: usize,
    value_len: usize,
) -> Vec<Acked> {
    let mut acked = Vec::new();
    for tag in first_tag..first_tag + n {
        acked.push(append(log, tag, records, value_len, 10_000 + tag as i64 * 100).await.expect("append"));
    }
    acked
}
