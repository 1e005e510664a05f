//! The consumer's settings and starting points.

use std::time::Duration;

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Most bytes one fetch response may carry (soft: at least one batch is
    /// returned). Default 8 MiB; keep below the cluster's `max_frame_bytes`.
    pub fetch_max_bytes: u32,
    /// Most bytes per partition per fetch (soft, as above). Default 1 MiB.
    pub partition_max_bytes: u32,
    /// Longest time a broker holds a fetch waiting for `min_bytes`. Default 500 ms.
    pub max_wait: Duration,
    /// Bytes a fetch waits for before returning. Default 1.
    pub min_bytes: u32,
    /// Send the next fetches before `poll` returns records. Default true.
    pub prefetch: bool,
    /// Where to go when a position is out of range. Default earliest.
    pub auto_reset: OffsetReset,
    /// Pause before retrying after a retriable error. Default 100 ms.
    pub retry_backoff: Duration,
    /// Retries of offset lookups. Default 10.
    pub retries: u32,
    /// Request timeout (a fetch may take `max_wait` longer). Default 30 s.
    pub request_timeout: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            fetch_max_bytes: 8 << 20,
            partition_max_bytes: 1 << 20,
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            prefetch: true,
            auto_reset: OffsetReset::Earliest,
            retry_backoff: Duration::from_millis(100),
            retries: 10,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Where an assigned partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The log start offset.
    Earliest,
    /// The log end offset: only records produced from now on.
    Latest,
    /// This offset.
    Offset(u64),
    /// The first record with a timestamp at or after this (ms since the
    /// epoch); the log end if there is none.
    Timestamp(i64),
}

/// What to do when the position is outside the partition's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// Go to the log start.
    Earliest,
    /// Go to the log end.
    Latest,
    /// Fail `poll` with the broker's `OffsetOutOfRange` error.
    None,
}
