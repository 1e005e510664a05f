//! Every limit and default of the broker, in one place.

/// How often each core ticks its partitions' interval flushes.
pub const FLUSH_TICK_MS: u64 = 50;

/// Default period of retention checks (Kafka's log.retention.check.interval.ms).
pub const DEFAULT_RETENTION_CHECK_MS: u64 = 5 * 60 * 1000;
