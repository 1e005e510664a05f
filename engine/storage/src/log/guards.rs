//! Guards that keep the log's state honest however an operation's future
//! ends: finished, failed, or dropped halfway.

use super::{LogState, PartitionLog};
use crate::disk::Storage;

/// Hands leadership back (and wakes the waiters) however the leader's
/// flush ends, including the leader's future being dropped.
pub(super) struct LeaderGuard<'a, S: Storage> {
    pub log: &'a PartitionLog<S>,
}

impl<S: Storage> Drop for LeaderGuard<'_, S> {
    fn drop(&mut self) {
        let mut st = self.log.state.borrow_mut();
        st.flushing = false;
        for waiter in st.flush_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

/// Armed while an appender writes its chunks early. If the appender's future
/// is dropped mid-write, whether the bytes reached the file is unknown, so
/// the log is failed (reopening recovers it) instead of waiting forever.
pub(super) struct ChunkWriteGuard<'a, S: Storage> {
    pub log: &'a PartitionLog<S>,
    pub positions: &'a [u64],
}

impl<S: Storage> Drop for ChunkWriteGuard<'_, S> {
    fn drop(&mut self) {
        let error = std::io::Error::new(std::io::ErrorKind::Interrupted, "append cancelled during its chunk write");
        let _ = self.log.fail("segment write", &error);
        self.log.chunks_done(self.positions);
    }
}

/// Armed around file changes the log's state already counts on (a flush
/// plan's writes, sealing, truncating): if the future doing them is dropped
/// halfway, memory and disk disagree, so the log is failed until reopened.
pub(super) struct FailOnDrop<'a, S: Storage> {
    pub log: &'a PartitionLog<S>,
    pub what: &'static str,
}

impl<S: Storage> FailOnDrop<'_, S> {
    pub fn disarm(self) {
        std::mem::forget(self);
    }
}

impl<S: Storage> Drop for FailOnDrop<'_, S> {
    fn drop(&mut self) {
        let error = std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled halfway");
        let _ = self.log.fail(self.what, &error);
    }
}

/// Sets one of the log's state flags while it lives and clears it however
/// the operation that set it ends.
pub(super) struct StateFlag<'a, S: Storage> {
    log: &'a PartitionLog<S>,
    flag: fn(&mut LogState<S::File>) -> &mut bool,
}

impl<'a, S: Storage> StateFlag<'a, S> {
    fn set(log: &'a PartitionLog<S>, flag: fn(&mut LogState<S::File>) -> &mut bool) -> Self {
        *flag(&mut log.state.borrow_mut()) = true;
        StateFlag { log, flag }
    }

    /// Marks the log exclusive (appenders wait) for a roll or truncation.
    pub fn exclusive(log: &'a PartitionLog<S>) -> Self {
        Self::set(log, |st| &mut st.exclusive)
    }

    /// Marks a flush's writes and fdatasync as running (appends may then
    /// leave full chunks to it, `WriteBehind::BetweenFlushes`).
    pub fn flushing_io(log: &'a PartitionLog<S>) -> Self {
        Self::set(log, |st| &mut st.flushing_io)
    }
}

impl<S: Storage> Drop for StateFlag<'_, S> {
    fn drop(&mut self) {
        *(self.flag)(&mut self.log.state.borrow_mut()) = false;
    }
}
