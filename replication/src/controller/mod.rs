//! The controller quorum: the Raft group of controller nodes that replicates
//! the cluster metadata (Kafka's KRaft shape), on tikv's `raft` crate.
//!
//! - [`QuorumNode`] ([`node`]): the I/O-free driver around raft's `RawNode`;
//!   `handle(Event) -> Vec<Action>`, actions carried out in order.
//! - [`LogStore`] ([`log_store`]): the node's durable Raft log in a directory
//!   (entries file, hard state file, snapshot file), synchronous std::fs.
//! - [`codec`]: a Raft message to and from bytes for the controller wire.
//!
//! The contract between the three (who writes what, when it must be durable,
//! what the application sees on restart) is in docs/controller.md.

mod action;
pub mod codec;
mod entries_file;
mod error;
mod file_util;
pub mod log_store;
mod memory_log;
pub mod node;
mod proposal;
mod record;
mod snapshot_file;
mod state_file;
mod tracing_drain;
mod wire_check;

pub use error::ControllerError;
pub use log_store::{LogStore, PersistWrite, RecoveredLog};
pub use node::{Action, Event, QuorumConfig, QuorumNode, Rejection};
pub use tracing_drain::raft_logger;

/// The raft protobuf types the API speaks (messages, entries, snapshots), so
/// callers need not name the `raft` crate's module path.
pub use raft::eraftpb;
