//! A list of long-poll waiters woken together (fetches waiting for the
//! high watermark, replica fetches waiting for new records).
//!
//! A long poll that times out drops its receiver; on an idle partition
//! nothing would ever drain its sender, so dead senders are pruned when the
//! list grows: it holds at most twice the live waiters (amortized O(1) per
//! waiter).
//!
//! Lives on: the partition's core, inside the log's state.

use futures::channel::oneshot;

use crate::limits::MIN_COMMIT_WAITERS_TO_PRUNE;

#[derive(Default)]
pub(crate) struct Waiters {
    senders: Vec<oneshot::Sender<()>>,
    /// Size at which canceled senders are next pruned.
    pruned_at: usize,
}

impl Waiters {
    /// A receiver resolved by the next [`Self::wake_all`] (or the list's drop).
    pub(crate) fn subscribe(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.senders.len() >= self.pruned_at.max(MIN_COMMIT_WAITERS_TO_PRUNE) {
            self.senders.retain(|w| !w.is_canceled());
            self.pruned_at = 2 * self.senders.len();
        }
        self.senders.push(tx);
        rx
    }

    pub(crate) fn wake_all(&mut self) {
        for waiter in self.senders.drain(..) {
            let _ = waiter.send(());
        }
    }

    /// Senders held, live or not yet pruned.
    pub(crate) fn len(&self) -> usize {
        self.senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_waiters_are_pruned_as_the_list_grows() {
        let mut w = Waiters::default();
        for _ in 0..10 * MIN_COMMIT_WAITERS_TO_PRUNE {
            drop(w.subscribe());
        }
        assert!(w.len() <= MIN_COMMIT_WAITERS_TO_PRUNE + 1, "{}", w.len());
        let mut live = w.subscribe();
        w.wake_all();
        assert_eq!(live.try_recv(), Ok(Some(())));
        assert_eq!(w.len(), 0);
    }
}
