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
        }
    }
}
