//! Guards that keep the log's state honest however an operation's future
//! ends: finished, failed, or dropped halfway.

use super::PartitionLog;
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

/// Marks the log exclusive (appenders wait) for a roll or truncation and
/// clears the mark however it ends.
pub(super) struct Exclusive<'a, S: Storage> {
    log: &'a PartitionLog<S>,
}

impl<'a, S: Storage> Exclusive<'a, S> {
    pub fn begin(log: &'a PartitionLog<S>) -> Self {
        log.state.borrow_mut().exclusive = true;
        Exclusive { log }
    }
}

impl<S: Storage> Drop for Exclusive<'_, S> {
    fn drop(&mut self) {
        self.log.state.borrow_mut().exclusive = false;
    }
}

/// Marks a flush of the log as running (its writes and fdatasync; appends
/// may then leave full chunks to it, `WriteBehind::BetweenFlushes`) and
/// clears the mark however the flush ends.
pub(super) struct FlushingIo<'a, S: Storage> {
    log: &'a PartitionLog<S>,
}

impl<'a, S: Storage> FlushingIo<'a, S> {
    pub fn begin(log: &'a PartitionLog<S>) -> Self {
        log.state.borrow_mut().flushing_io = true;
        FlushingIo { log }
    }
}

impl<S: Storage> Drop for FlushingIo<'_, S> {
    fn drop(&mut self) {
        self.log.state.borrow_mut().flushing_io = false;
    }
}
