//! Idempotent producers (Kafka's ProducerStateManager): per partition, the
//! last batches of every producer id, so a retried batch is recognised and
//! answered with its original offsets instead of being stored twice, and a
//! gap in a producer's sequences is refused.
//!
//! - [`state`]: the I/O-free table and its rules (check before append,
//!   record after, truncation, the memory bound).
//! - [`snapshot`]: the table as a file, so a restart replays only the log
//!   written after the last snapshot.
//!
//! A batch with producer id -1 is not idempotent and bypasses all of it.

pub mod snapshot;
pub mod state;

pub use snapshot::{decode_snapshot, encode_snapshot, SnapshotError, SNAPSHOT_MAGIC};
pub use state::{BatchSequence, ProducerBatch, ProducerStates, SequenceCheck, SequenceError};
