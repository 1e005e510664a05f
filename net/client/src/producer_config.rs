//! [`ProducerConfig`]: the settings of a [`Producer`](super::Producer).

use std::time::Duration;

use corelog_format::Compression;
use corelog_protocol::Acks;

/// Producer settings.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Acknowledgement level. Default [`Acks::All`].
    pub acks: Acks,
    /// How long a batch may wait for more records before it is sent. Default 5 ms.
    pub linger: Duration,
    /// Target encoded size of a batch in bytes (a bigger record gets a batch
    /// of its own; keep below the topic's `max.message.bytes`). Default 64 KiB.
    pub batch_size: usize,
    /// Most produce requests in flight per endpoint. Default 10. With
    /// idempotence it also bounds a partition's batches in flight (at most
    /// [`MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT`](crate::limits::MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT)).
    pub max_in_flight: usize,
    /// Largest produce request (sum of its batches); more batches for an
    /// endpoint go in further requests. Default 8 MiB.
    pub max_request_bytes: usize,
    /// How often a batch is retried after a retriable error. Default 30:
    /// with the backoff doubling up to `retry_backoff_max`, about half a
    /// minute, enough to outlast a leader failover (a fenced broker's
    /// session timeout plus an election).
    pub retries: u32,
    /// Pause before the first retry; each further one doubles it (Kafka's
    /// KIP-580), up to `retry_backoff_max`. Default 100 ms.
    pub retry_backoff: Duration,
    /// Longest pause between retries. Default 1 s (Kafka's
    /// `retry.backoff.max.ms`).
    pub retry_backoff_max: Duration,
    /// How long to wait for each produce response; also the broker-side
    /// acks timeout. Default 30 s.
    pub request_timeout: Duration,
    /// Batch compression. Default none.
    pub compression: Compression,
    /// Write as an idempotent producer (Kafka's `enable.idempotence`): a
    /// batch retried after a lost answer is stored once, at its original
    /// offsets, and a gap in a partition's batches is refused, so a
    /// partition can have several batches in flight, in order. Default on,
    /// as in Kafka since 3.0; as there, it takes `acks` all, and with acks
    /// 0 or 1 the producer writes as a plain one (see [`Self::idempotent`]).
    pub enable_idempotence: bool,
}

impl ProducerConfig {
    /// Whether batches are written idempotently: asked for, with acks=all.
    pub fn idempotent(&self) -> bool {
        self.enable_idempotence && self.acks == Acks::All
    }

    /// Most batches of one partition in flight at once: 1, or with
    /// idempotence up to
    /// [`MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT`](crate::limits::MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT)
    /// (never more than `max_in_flight`).
    pub fn partition_depth(&self) -> usize {
        if self.idempotent() {
            self.max_in_flight.clamp(1, crate::limits::MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT)
        } else {
            1
        }
    }
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 64 * 1024,
            max_in_flight: 10,
            max_request_bytes: 8 << 20,
            retries: 30,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
            compression: Compression::None,
            enable_idempotence: true,
        }
    }
}
