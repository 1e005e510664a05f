//! Every limit and default of the broker, in one place.

/// How often each core ticks its partitions' interval flushes.
pub const FLUSH_TICK_MS: u64 = 50;

/// Default period of retention checks (Kafka's log.retention.check.interval.ms).
pub const DEFAULT_RETENTION_CHECK_MS: u64 = 5 * 60 * 1000;

/// A produce request's batches are stored without a copy (the tail cache
/// keeps slices of the received frame) only if its frame is at least this
/// big and at least half of it is batches being appended; otherwise each
/// partition's batches are first copied into a buffer of their own. A slice
/// keeps its whole receive buffer alive, which the cache's budget does not
/// see: a connection reads a frame this big exactly to its end, so the frame
/// has a buffer of its own, while smaller frames share reads of at least this
/// size with their neighbours and slack. Equal to the smallest socket read,
/// for that reason.
pub const ZERO_COPY_MIN_FRAME_BYTES: usize = 64 * 1024;
