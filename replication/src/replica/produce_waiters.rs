//! acks=all produce requests waiting for the high watermark to pass their
//! records. Lives inside the leader's state machine on the partition's core;
//! the runtime owns the requests themselves and their timeouts, and names
//! each by a [`ProduceId`].

use std::collections::{BTreeSet, HashMap};

/// The runtime's name for one waiting produce (unique per leader state).
pub type ProduceId = u64;

/// Why an acks=all produce failed (Kafka's error codes of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProduceError {
    /// The ISR is smaller than `min.insync.replicas`; nothing was appended.
    #[error("not enough in-sync replicas")]
    NotEnoughReplicas,
    /// The records were appended but the ISR fell below
    /// `min.insync.replicas` before they were replicated: they may or may
    /// not survive.
    #[error("not enough in-sync replicas after append")]
    NotEnoughReplicasAfterAppend,
    /// This replica stopped leading the partition while the produce waited.
    #[error("not leader or follower")]
    NotLeaderOrFollower,
}

/// Waiting produces, ordered by the end offset each waits for.
#[derive(Debug, Default)]
pub(crate) struct ProduceWaiters {
    by_end: BTreeSet<(u64, ProduceId)>,
    end_of: HashMap<ProduceId, u64>,
}

impl ProduceWaiters {
    pub(crate) fn insert(&mut self, id: ProduceId, end_offset: u64) {
        let previous = self.end_of.insert(id, end_offset);
        assert!(previous.is_none(), "produce id {id} is already waiting");
        self.by_end.insert((end_offset, id));
    }

    pub(crate) fn remove(&mut self, id: ProduceId) -> bool {
        match self.end_of.remove(&id) {
            Some(end) => self.by_end.remove(&(end, id)),
            None => false,
        }
    }

    /// Removes and returns, in offset order, every waiter whose records end
    /// at or below `high_watermark`.
    pub(crate) fn take_reached(&mut self, high_watermark: u64) -> Vec<ProduceId> {
        let mut reached = Vec::new();
        while let Some(&(end, id)) = self.by_end.first() {
            if end > high_watermark {
                break;
            }
            self.by_end.pop_first();
            self.end_of.remove(&id);
            reached.push(id);
        }
        reached
    }

    pub(crate) fn take_all(&mut self) -> Vec<ProduceId> {
        self.end_of.clear();
        std::mem::take(&mut self.by_end).into_iter().map(|(_, id)| id).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.end_of.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reached_waiters_leave_in_offset_order() {
        let mut w = ProduceWaiters::default();
        w.insert(7, 30);
        w.insert(3, 10);
        w.insert(5, 20);
        assert_eq!(w.take_reached(9), Vec::<ProduceId>::new());
        assert_eq!(w.take_reached(20), vec![3, 5]);
        assert_eq!(w.len(), 1);
        assert!(w.remove(7));
        assert!(!w.remove(7));
        assert_eq!(w.take_reached(100), Vec::<ProduceId>::new());
    }

    #[test]
    fn take_all_empties() {
        let mut w = ProduceWaiters::default();
        w.insert(1, 5);
        w.insert(2, 5);
        assert_eq!(w.take_all(), vec![1, 2]);
        assert_eq!(w.len(), 0);
    }
}
