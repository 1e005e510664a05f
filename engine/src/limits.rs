//! Every limit and tunable default of the engine, in one place.
//!
//! A limit here is a contract: code asserts against these names rather than
//! repeating numbers, so changing one is a one-line change reviewed in one spot.

/// Block size every O_DIRECT read and write is aligned to. 4 KiB is the logical
/// block size of every NVMe/SATA SSD and of ext4/xfs; glommio reports the real
/// device alignment and we assert it divides this.
pub const BLOCK_SIZE: usize = 4096;

/// Every batch starts and ends on this boundary so its rkyv body is aligned for
/// in-place access when read into a block-aligned buffer.
pub const BATCH_ALIGNMENT: usize = 16;

/// Default upper bound on one batch's encoded size (header + body + padding).
pub const DEFAULT_MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Hard ceiling on a batch whatever the topic config says: keeps a corrupt
/// length field from making the reader allocate gigabytes.
pub const MAX_BATCH_BYTES_CEILING: usize = 64 * 1024 * 1024;

/// Most records one batch may carry (bounds decoding work for a hostile batch).
pub const MAX_RECORDS_PER_BATCH: usize = 1 << 20;

/// Upper bound on a decompressed body; a zip bomb is rejected at this size.
pub const MAX_UNCOMPRESSED_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Default size at which the active segment is sealed and a new one rolled.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1024 * 1024 * 1024;

/// Default age at which the active segment is rolled even if not full (7 days).
pub const DEFAULT_SEGMENT_MAX_AGE_MS: u64 = 7 * 24 * 3600 * 1000;

/// Roll age is jittered by up to this fraction so partitions created together
/// don't all roll (and fsync new files) in the same instant.
pub const SEGMENT_ROLL_JITTER_FRACTION: f64 = 0.1;

/// Largest preallocation step for the active segment: fallocate ahead in big
/// steps so the file system never allocates extents inside the write path.
pub const SEGMENT_PREALLOCATE_STEP: u64 = 64 * 1024 * 1024;

/// Smallest preallocation step. A segment reserves as much again as it holds
/// (between this and `SEGMENT_PREALLOCATE_STEP`), so an idle partition costs
/// 1 MiB of disk, not 64.
pub const SEGMENT_PREALLOCATE_MIN: u64 = 1024 * 1024;

/// The end of the next reservation for a segment whose data ends at `end`.
pub const fn preallocation_end(end: u64) -> u64 {
    let grow = if end < SEGMENT_PREALLOCATE_MIN {
        SEGMENT_PREALLOCATE_MIN
    } else if end > SEGMENT_PREALLOCATE_STEP {
        SEGMENT_PREALLOCATE_STEP
    } else {
        end
    };
    (end + grow).div_ceil(BLOCK_SIZE as u64) * BLOCK_SIZE as u64
}

/// One sparse index entry per this many log bytes (Kafka's index.interval.bytes).
pub const INDEX_INTERVAL_BYTES: u64 = 4096;

/// Default size of the chunks the active segment stages appends in. A chunk
/// is written as soon as it fills (write-behind), so this is also the size of
/// most data writes: 1 MiB keeps the device busy with producer-sized batches.
pub const WRITE_CHUNK_BYTES: usize = 1024 * 1024;

/// Default byte budget of the per-partition tail cache.
pub const DEFAULT_TAIL_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Size of one disk read when serving a fetch from a sealed or active segment.
pub const READ_CHUNK_BYTES: usize = 1024 * 1024;

/// Default io_memory glommio registers per executor (it registers it three
/// times against RLIMIT_MEMLOCK; see README).
pub const DEFAULT_IO_MEMORY_BYTES: usize = 10 * 1024 * 1024;

/// Capacity of each cross-core control channel. Bounded so a slow core applies
/// back-pressure instead of growing a queue without limit.
pub const CONTROL_CHANNEL_CAPACITY: usize = 1024;

/// zstd level the batch builder compresses with. Level 3 is zstd's own default
/// and Kafka's: most of the ratio of higher levels at several times their speed,
/// which matters because producers compress on the hot path.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// Largest segment file: index entries store positions as u32.
pub const MAX_SEGMENT_BYTES: u64 = u32::MAX as u64 - MAX_BATCH_BYTES_CEILING as u64;

/// The active segment's index tail is written (not fsynced) whenever the log
/// has grown this much since the last index write, which bounds how far
/// recovery must scan after a crash.
pub const INDEX_PERSIST_INTERVAL_BYTES: u64 = 16 * 1024 * 1024;

/// Most partitions one topic may have.
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 10_000;

/// Longest topic name (Kafka's limit, so names are portable between them).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// How often each core ticks its partitions' interval flushes.
pub const FLUSH_TICK_MS: u64 = 50;

/// Default period of retention checks (Kafka's log.retention.check.interval.ms).
pub const DEFAULT_RETENTION_CHECK_MS: u64 = 5 * 60 * 1000;
