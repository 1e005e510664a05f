//! Every limit and tunable default of the storage engine, in one place.
//!
//! A limit here is a contract: code asserts against these names rather than
//! repeating numbers, so changing one is a one-line change reviewed in one spot.

use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
/// The block size is the runtime's (its DMA files are aligned to it); the
/// storage layout is built on it, so it is named here too.
pub use corelog_runtime::limits::BLOCK_SIZE;

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

/// Segment files retention keeps, per log, to reuse as the next active
/// segment's log instead of deleting them (`segment/recycled.rs`). One is
/// what a partition at its retention limit needs (it deletes about one
/// segment per roll); each costs up to a segment of disk beyond what
/// retention keeps.
pub const MAX_RECYCLED_PER_LOG: usize = 1;

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

/// First read of a segment scan (recovery's tail scan, index rebuilds);
/// each next read doubles, up to [`READ_CHUNK_BYTES`]. A segment's tail
/// past its last index entry is mostly short, and what follows it is
/// preallocated space that reads as zeros: a whole chunk per segment there
/// made a restart of 10,000 partitions fault in 10 GB of zeroed pages.
pub const SCAN_FIRST_READ_BYTES: usize = 64 * 1024;

/// After a damaged batch, how far past its start a read looks for the next
/// batch that checks out before it falls back to the next offset-index entry
/// (which is at most an index interval and one batch away while the index is
/// whole): bounds the work a read of damaged data does. Room for a default
/// maximum-size batch several times over.
pub const RESYNC_SCAN_BYTES: u64 = 4 * READ_CHUNK_BYTES as u64;

/// Largest segment file: index entries store positions as u32.
pub const MAX_SEGMENT_BYTES: u64 = u32::MAX as u64 - MAX_BATCH_BYTES_CEILING as u64;

/// The active segment's index tail is written (not fsynced) whenever the log
/// has grown this much since the last index write, which bounds how far
/// recovery must scan after a crash.
pub const INDEX_PERSIST_INTERVAL_BYTES: u64 = 16 * 1024 * 1024;

// Chunks and reads are O_DIRECT transfers: whole blocks.
const _: () = assert!(WRITE_CHUNK_BYTES.is_multiple_of(BLOCK_SIZE));
const _: () = assert!(READ_CHUNK_BYTES.is_multiple_of(BLOCK_SIZE));
const _: () = assert!(SCAN_FIRST_READ_BYTES.is_multiple_of(BLOCK_SIZE));
const _: () = assert!(SCAN_FIRST_READ_BYTES <= READ_CHUNK_BYTES);
const _: () = assert!(SCAN_FIRST_READ_BYTES >= 2 * corelog_format::HEADER_LEN);
// The resync scan reaches past a default maximum-size batch and an index interval.
const _: () =
    assert!(RESYNC_SCAN_BYTES >= corelog_format::limits::DEFAULT_MAX_BATCH_BYTES as u64 + INDEX_INTERVAL_BYTES);
// Preallocation steps are whole blocks, the small one below the large one.
const _: () = assert!(SEGMENT_PREALLOCATE_MIN.is_multiple_of(BLOCK_SIZE as u64));
const _: () = assert!(SEGMENT_PREALLOCATE_STEP.is_multiple_of(BLOCK_SIZE as u64));
const _: () = assert!(SEGMENT_PREALLOCATE_MIN <= SEGMENT_PREALLOCATE_STEP);
// The log holds its recycled file in an Option.
const _: () = assert!(MAX_RECYCLED_PER_LOG == 1);
// Every reservation grows the file and ends on a block boundary.
const _: () = assert!(preallocation_end(0) == SEGMENT_PREALLOCATE_MIN);
const _: () = assert!(preallocation_end(MAX_SEGMENT_BYTES) > MAX_SEGMENT_BYTES);
// The default segment fits the u32 positions of index entries.
const _: () = assert!(DEFAULT_SEGMENT_BYTES <= MAX_SEGMENT_BYTES);
// Several index entries per chunk, and the index tail is persisted well
// before a segment fills.
const _: () = assert!(INDEX_INTERVAL_BYTES <= WRITE_CHUNK_BYTES as u64);
const _: () = assert!(INDEX_PERSIST_INTERVAL_BYTES < DEFAULT_SEGMENT_BYTES);
// The tail cache holds at least the largest default batch.
const _: () = assert!(DEFAULT_TAIL_CACHE_BYTES >= corelog_format::limits::DEFAULT_MAX_BATCH_BYTES);
const _: () = assert!(SEGMENT_ROLL_JITTER_FRACTION >= 0.0 && SEGMENT_ROLL_JITTER_FRACTION < 1.0);

// File descriptors (see `segment::fd_cache`).

/// Descriptors an open partition holds for good: its active segment's log.
/// Its index files are opened only while written, its sealed segments'
/// logs through the core's fd cache.
pub const FDS_PER_PARTITION: u64 = 1;

/// Most descriptors one partition opens at once for a moment, beyond its
/// own: a segment's three files while recovery checks it or a roll creates
/// the next one (the old log closes after), plus a directory sync.
pub const MAX_TRANSIENT_FDS_PER_PARTITION: u64 = 4;

/// Sealed-segment files kept open by a log opened alone
/// (`PartitionLog::open`, not sharing a core's cache).
pub const DEFAULT_FD_CACHE_PER_LOG: usize = 16;

/// Fewest sealed-segment files a core's fd cache keeps open, however small
/// the descriptor limit: below this, consumers reading a few partitions
/// from disk would reopen files on every read.
pub const MIN_FD_CACHE_PER_CORE: usize = 16;

/// Most sealed-segment files a core's fd cache keeps open, however large the
/// limit: past this, opening a file on a miss (microseconds, once per
/// segment a consumer moves to) costs less than what more descriptors
/// would take from partitions.
pub const MAX_FD_CACHE_PER_CORE: usize = 1024;

/// The share of the descriptors left for partitions and caches that the
/// caches get: 1/8 (the rest is for partitions, one descriptor each).
pub const FD_CACHE_SHARE_DIVISOR: u64 = 8;

/// Descriptors of a core's fd cache when `fds` descriptors are left for the
/// partitions and caches of `cores` cores: [`FD_CACHE_SHARE_DIVISOR`]-th of
/// them, split evenly, within [`MIN_FD_CACHE_PER_CORE`,
/// `MAX_FD_CACHE_PER_CORE`].
pub const fn fd_cache_per_core(fds: u64, cores: u64) -> usize {
    let share = fds / FD_CACHE_SHARE_DIVISOR / if cores == 0 { 1 } else { cores };
    if share < MIN_FD_CACHE_PER_CORE as u64 {
        MIN_FD_CACHE_PER_CORE
    } else if share > MAX_FD_CACHE_PER_CORE as u64 {
        MAX_FD_CACHE_PER_CORE
    } else {
        share as usize
    }
}

// A cache holds at least one file, and its bounds are ordered.
const _: () = assert!(MIN_FD_CACHE_PER_CORE >= 1 && DEFAULT_FD_CACHE_PER_LOG >= 1);
const _: () = assert!(MIN_FD_CACHE_PER_CORE <= MAX_FD_CACHE_PER_CORE);
const _: () = assert!(FD_CACHE_SHARE_DIVISOR >= 2);
// A partition's moment of opening more files includes what it holds.
const _: () = assert!(MAX_TRANSIENT_FDS_PER_PARTITION >= 3 * FDS_PER_PARTITION);
// The cache takes its share and never more than the bound, whatever the limit.
const _: () = assert!(fd_cache_per_core(0, 1) == MIN_FD_CACHE_PER_CORE);
const _: () = assert!(fd_cache_per_core(u64::MAX, 1) == MAX_FD_CACHE_PER_CORE);
const _: () = assert!(fd_cache_per_core(16_000, 2) == 1000);

/// Fetch long-poll waiters a partition holds before dropped ones are first
/// pruned (see `PartitionLog::committed_changed`).
pub const MIN_COMMIT_WAITERS_TO_PRUNE: usize = 64;

// Leader epochs (see `log::leader_epochs`).

/// Most entries a partition's leader-epoch file holds: one per leader change
/// with batches still in the log, so far more than any partition sees
/// (retention drops the old ones); it bounds what opening a damaged file reads.
pub const MAX_LEADER_EPOCH_ENTRIES: usize = 1 << 20;

/// Largest leader-epoch file: the preamble, the entries, the CRC.
pub const MAX_LEADER_EPOCH_FILE_BYTES: u64 = 16 + 12 * MAX_LEADER_EPOCH_ENTRIES as u64;

// The file of the most entries is the largest one, and fits a u32 count.
const _: () =
    assert!(crate::log::leader_epoch_file_len(MAX_LEADER_EPOCH_ENTRIES) as u64 == MAX_LEADER_EPOCH_FILE_BYTES);
const _: () = assert!(MAX_LEADER_EPOCH_ENTRIES <= u32::MAX as usize);

// Idempotent producers (see `producers`).

/// Batches remembered per producer id for duplicate detection: as many as
/// an idempotent producer may have in flight per partition (the native
/// client's window; Kafka clients stay at 5), so every batch a client may
/// retry is recognised.
pub const MAX_BATCHES_PER_PRODUCER: usize = corelog_format::limits::IDEMPOTENT_BATCHES_IN_FLIGHT;

/// Producer ids one partition remembers; past it the least recently written
/// is forgotten (its next batch gets `UnknownProducerId` unless it restarts
/// at sequence 0). Bounds what clients inventing ids can make a partition
/// hold: about 300 bytes per id, 3 MiB per partition at most.
pub const MAX_PRODUCERS_PER_PARTITION: usize = 10_000;

const _: () = assert!(MAX_BATCHES_PER_PRODUCER >= 1 && MAX_BATCHES_PER_PRODUCER <= u8::MAX as usize);

/// Most of a log's newest bytes the producer state is rebuilt from when it
/// is first needed (after its snapshot; `log::producer_state`): bounds that
/// one-time read; producers idle for longer are forgotten.
pub const MAX_PRODUCER_REPLAY_BYTES: usize = 256 << 20;

/// Largest producer snapshot file: a full table of MAX_PRODUCERS_PER_PARTITION
/// producers with MAX_BATCHES_PER_PRODUCER batches each, and its header.
pub const MAX_PRODUCER_SNAPSHOT_BYTES: u64 =
    24 + (MAX_PRODUCERS_PER_PARTITION * (16 + 24 * MAX_BATCHES_PER_PRODUCER)) as u64;
