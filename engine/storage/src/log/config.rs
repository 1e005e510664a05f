//! Per-partition log settings (a topic's config, as the log sees it).

use std::time::Duration;

use crate::limits::{DEFAULT_SEGMENT_BYTES, DEFAULT_SEGMENT_MAX_AGE_MS, DEFAULT_TAIL_CACHE_BYTES, WRITE_CHUNK_BYTES};
use corelog_format::limits::DEFAULT_MAX_BATCH_BYTES;

/// When appended data is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// fdatasync before every append returns; concurrent appends share one
    /// fdatasync (group commit).
    Always,
    /// fdatasync at most this often; an append returns once its bytes are
    /// written, and a crash may lose up to one interval.
    Interval(Duration),
}

/// When a staging chunk that fills up is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteBehind {
    /// At once, by the append that filled it, even while an fdatasync of
    /// the log is in flight (the device has work during the sync).
    #[default]
    Always,
    /// At once only while no flush of the log is running; chunks that fill
    /// during one go out with the next flush's writes, and a flush waits for
    /// the early writes already issued before it syncs. So the log's writes
    /// and its fdatasyncs alternate, never overlap. On a disk whose cache
    /// flush slows down with writes in flight (the dev machine's virtio disk,
    /// docs/bench.md "Writes during an fdatasync") one busy partition gets
    /// more through this way; partitions sharing such a disk overlap each
    /// other's syncs anyway.
    BetweenFlushes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Roll the active segment when the next batch would take it past this.
    pub segment_bytes: u64,
    /// Roll the active segment once it is this old (jittered).
    pub segment_max_age_ms: u64,
    /// Delete sealed segments whose newest record is older than this.
    pub retention_ms: Option<u64>,
    /// Delete the oldest sealed segments while the partition is larger.
    pub retention_bytes: Option<u64>,
    pub flush: FlushPolicy,
    /// Largest batch accepted.
    pub max_batch_bytes: usize,
    /// Byte budget of the in-memory tail cache.
    pub tail_cache_bytes: usize,
    /// Staging chunk size: a chunk is written as soon as it fills. Whole
    /// blocks; tests shrink it to exercise early writes with small batches.
    pub write_chunk_bytes: usize,
    pub write_behind: WriteBehind,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_max_age_ms: DEFAULT_SEGMENT_MAX_AGE_MS,
            retention_ms: None,
            retention_bytes: None,
            flush: FlushPolicy::Always,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            tail_cache_bytes: DEFAULT_TAIL_CACHE_BYTES,
            write_chunk_bytes: WRITE_CHUNK_BYTES,
            write_behind: WriteBehind::default(),
        }
    }
}
