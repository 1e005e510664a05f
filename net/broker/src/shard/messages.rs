//! Control messages between cores. Only control crosses cores (topic
//! changes, metadata snapshots); produce and fetch never do.

use std::sync::Arc;

use futures::channel::oneshot;

use super::effects::Effect;
use corelog_replication::metadata::cluster::{ClusterError, ClusterMetadata, Command};
use corelog_replication::metadata::MetadataError;

/// A message for one core's control loop.
pub enum ControlMessage {
    /// To the controller core: apply an admin command, reply with the new
    /// metadata once every owning core has carried out its effects.
    Admin { command: Command, reply: oneshot::Sender<Result<Arc<ClusterMetadata>, AdminError>> },
    /// To a core owning new partitions of a command not yet saved: open them
    /// and hold them back (not served) until `Apply` commits them or
    /// `Discard` throws them away. On failure the core has already
    /// discarded what it opened.
    Prepare { effects: Vec<Effect>, done: oneshot::Sender<Result<(), MetadataError>> },
    /// To every core after a failed `Prepare` elsewhere (or a failed save):
    /// close and remove the partitions prepared here.
    Discard { done: oneshot::Sender<()> },
    /// To every core: serve the partitions prepared here, carry out the
    /// effects addressed to this core, then adopt `metadata` as the current
    /// snapshot.
    Apply { metadata: Arc<ClusterMetadata>, effects: Vec<Effect>, done: oneshot::Sender<Result<(), String>> },
    /// Stop serving: close partitions cleanly (flush indexes) and exit.
    Shutdown { done: oneshot::Sender<()> },
}

/// Why an admin command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// This broker's own controller (a one-node cluster) refused it.
    Refused(ClusterError),
    /// The controller quorum refused it, or could not be reached.
    Remote { code: corelog_protocol::ErrorCode, message: String },
}

impl AdminError {
    pub fn code(&self) -> corelog_protocol::ErrorCode {
        match self {
            AdminError::Refused(e) => crate::errors::cluster_error_code(e),
            AdminError::Remote { code, .. } => *code,
        }
    }

    /// Whether the topic the command named already exists.
    pub fn is_topic_exists(&self) -> bool {
        self.code() == corelog_protocol::ErrorCode::TopicAlreadyExists
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Refused(e) => e.fmt(f),
            AdminError::Remote { message, .. } => f.write_str(message),
        }
    }
}

impl From<ClusterError> for AdminError {
    fn from(e: ClusterError) -> Self {
        AdminError::Refused(e)
    }
}

impl From<MetadataError> for AdminError {
    fn from(e: MetadataError) -> Self {
        AdminError::Refused(e.into())
    }
}
