//! corelog-engine: the durable per-core partition log.
//!
//! - [`batch`]: the record-batch format (on disk == on the wire).
//! - [`storage`]: the disk contract, its O_DIRECT implementation and a
//!   fault-injecting one for tests.
//! - [`segment`]: active and sealed segments, offset and time indexes.
//! - [`log`]: the partition log (append, read, truncate, retention, recovery).
//! - [`runtime`]: the only module that names glommio.
//! - [`limits`]: every limit and default, in one place.

pub mod batch;
pub mod error;
pub mod limits;
pub mod log;
pub mod metadata;
pub mod runtime;
pub mod segment;
pub mod shard;
pub mod storage;

pub use error::{LogError, LogResult};
pub use log::{AppendInfo, BatchSlice, Fetched, FlushPolicy, LogConfig, LogStats, PartitionLog, RecoveryReport};
