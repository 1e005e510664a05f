//! corelog-storage: the durable per-core partition log.
//!
//! - [`disk`]: the disk contract, its O_DIRECT implementation and a
//!   fault-injecting one for tests.
//! - [`segment`]: active and sealed segments, offset and time indexes.
//! - [`log`]: the partition log (append, read, truncate, retention, recovery).
//! - [`producers`]: idempotent producers' sequence state and its snapshot.
//! - [`limits`]: every limit and default of the storage engine, in one place.
//!
//! Batches are `corelog_format`'s, native or Kafka v2 (stored as received,
//! plus zero padding; docs/storage.md "On disk"); every file operation goes through
//! `corelog_runtime`, the only crate that names glommio.

pub mod disk;
pub mod error;
pub mod limits;
pub mod log;
pub mod producers;
pub mod segment;

pub use error::{LogError, LogResult};
pub use log::{
    AppendInfo, BatchSlice, CachedBatch, EpochEntry, Fetched, FlushPolicy, LogConfig, LogStats, PartitionLog,
    RecoveryReport, ReplicaAppendError, StagedAppend, WriteBehind, LEADER_EPOCH_FILE_NAME,
};
pub use segment::{FdCache, FdCacheStats};
