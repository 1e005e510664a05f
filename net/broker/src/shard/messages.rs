//! Control messages between cores. Only control crosses cores (topic
//! changes, metadata snapshots); produce and fetch never do.

use std::sync::Arc;

use futures::channel::oneshot;

use corelog_replication::metadata::{Command, Effect, Metadata, MetadataError};

/// A message for one core's control loop.
pub enum ControlMessage {
    /// To the controller core: apply an admin command, reply with the new
    /// metadata once every owning core has carried out its effects.
    Admin { command: Command, reply: oneshot::Sender<Result<Arc<Metadata>, MetadataError>> },
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
    Apply { metadata: Arc<Metadata>, effects: Vec<Effect>, done: oneshot::Sender<Result<(), String>> },
    /// Stop serving: close partitions cleanly (flush indexes) and exit.
    Shutdown { done: oneshot::Sender<()> },
}
