//! The controller's one error type.

use std::io;
use std::path::PathBuf;

/// Why a controller operation failed. Disk and peer input always end here,
/// never in a panic.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A file's bytes do not hold what the layout says: damage that is not a
    /// torn tail (which recovery cuts off), so nothing is guessed.
    #[error("{path}: damaged at byte {position}: {reason}")]
    Corrupt { path: PathBuf, position: u64, reason: String },
    /// Bytes from a peer that are not a Raft message within the limits.
    #[error("bad raft message: {0}")]
    Decode(String),
    /// The node's configuration (`--controllers`, the node id) is unusable, or
    /// disagrees with what the directory holds.
    #[error("controller configuration: {0}")]
    Config(String),
    /// raft refused an operation (an invariant of the Ready protocol).
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The application's snapshot answer does not fit: too large, or for an
    /// index the node did not ask for.
    #[error("snapshot: {0}")]
    Snapshot(String),
}

impl ControllerError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ControllerError {
        let path = path.into();
        move |source| ControllerError::Io { path, source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, position: u64, reason: impl Into<String>) -> Self {
        ControllerError::Corrupt { path: path.into(), position, reason: reason.into() }
    }
}
