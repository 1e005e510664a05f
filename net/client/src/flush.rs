//! [`FlushTracker`]: lets `Producer::flush` wait for exactly the records
//! sent before it was called, even though records complete out of order
//! (different partitions, retries).
//!
//! Records are accepted in *epochs*; a flush closes the current epoch and
//! waits until no record of that epoch or an earlier one is incomplete.

use std::collections::BTreeMap;

use futures::channel::oneshot;

/// Counts incomplete records per epoch and wakes flushes.
#[derive(Default)]
pub(crate) struct FlushTracker {
    epoch: u64,
    incomplete: BTreeMap<u64, usize>,
    waiters: Vec<(u64, oneshot::Sender<()>)>,
}

impl FlushTracker {
    /// Registers an accepted record; returns its epoch.
    pub fn accept(&mut self) -> u64 {
        *self.incomplete.entry(self.epoch).or_default() += 1;
        self.epoch
    }

    /// Marks a record of `epoch` complete (delivered or failed).
    pub fn done(&mut self, epoch: u64) {
        if let Some(count) = self.incomplete.get_mut(&epoch) {
            *count -= 1;
            if *count == 0 {
                self.incomplete.remove(&epoch);
                self.wake();
            }
        }
    }

    /// A barrier for everything accepted so far: `None` if it is all
    /// complete already, else a receiver signalled when it is.
    pub fn barrier(&mut self) -> Option<oneshot::Receiver<()>> {
        let epoch = self.epoch;
        self.epoch += 1;
        if self.oldest().is_none_or(|oldest| oldest > epoch) {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push((epoch, tx));
        Some(rx)
    }

    /// Whether a flush is waiting (batches should not linger meanwhile).
    pub fn is_flushing(&self) -> bool {
        !self.waiters.is_empty()
    }

    fn oldest(&self) -> Option<u64> {
        self.incomplete.keys().next().copied()
    }

    fn wake(&mut self) {
        let oldest = self.oldest();
        let (done, waiting) =
            std::mem::take(&mut self.waiters).into_iter().partition(|(epoch, _)| oldest.is_none_or(|o| o > *epoch));
        self.waiters = waiting;
        let done: Vec<(u64, oneshot::Sender<()>)> = done;
        for (_, tx) in done {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_waits_only_for_earlier_records() {
        let mut t = FlushTracker::default();
        assert!(t.barrier().is_none(), "nothing pending");
        let a = t.accept();
        let b = t.accept();
        let mut rx = t.barrier().expect("two records pending");
        assert!(t.is_flushing());
        let c = t.accept(); // after the flush: not waited for
        t.done(b);
        assert_eq!(rx.try_recv(), Ok(None));
        t.done(a);
        assert_eq!(rx.try_recv(), Ok(Some(())), "flush complete");
        assert!(!t.is_flushing());
        let mut rx2 = t.barrier().unwrap();
        t.done(c);
        assert_eq!(rx2.try_recv(), Ok(Some(())));
    }
}
