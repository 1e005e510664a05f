//! The shard runtime: one pinned executor per core, the partitions each core
//! owns, the metadata (owned by the controller core, core 0) and the control
//! messages between cores.
//!
//! Produce and fetch are served by the core that owns the partition, from
//! that core's own endpoint; only control (admin commands, metadata
//! snapshots) crosses cores, over bounded channels.

pub mod controller;
pub mod effects;
pub mod messages;
mod opening;
pub mod partition;
pub mod quorum_member;
mod reopen;
pub mod set;
pub mod state;

pub use controller::LocalBroker;
pub use messages::{AdminError, ControlMessage};
pub use partition::{partition_dir, Partition};
pub use set::{ShardSet, ShardSetConfig};
pub use state::{Locate, Shard};
