//! Cross-core control channels.
//!
//! Bounded so a slow core pushes back on the sender instead of queueing without
//! limit. Only control traffic (topic create/delete, metadata) crosses cores;
//! the produce and fetch paths never do.

use crate::limits::CONTROL_CHANNEL_CAPACITY;

pub type ControlSender<T> = flume::Sender<T>;
pub type ControlReceiver<T> = flume::Receiver<T>;

/// A bounded multi-producer channel usable from any core (async `send_async`
/// / `recv_async`, or blocking from plain threads).
pub fn control_channel<T>() -> (ControlSender<T>, ControlReceiver<T>) {
    flume::bounded(CONTROL_CHANNEL_CAPACITY)
}
