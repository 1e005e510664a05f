//! The leader's view of the ISR: the last one the controller committed and
//! at most one AlterPartition in flight (KIP-497). Lives inside the leader's
//! state machine on the partition's core.

use std::collections::BTreeSet;

use super::ReplicaId;

/// The controller's partition state for the current leader epoch, as the
/// metadata delivers it (KIP-841 lets the controller shrink the ISR itself
/// when it fences a broker, without a new leader epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionChange {
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub replicas: Vec<ReplicaId>,
    pub isr: Vec<ReplicaId>,
}

/// Why the controller refused an AlterPartition (Kafka's error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterPartitionError {
    /// The request's leader epoch is stale: a new leader was elected.
    FencedLeaderEpoch,
    /// The request's partition epoch is stale: the partition changed (or an
    /// earlier copy of this very request was applied).
    InvalidUpdateVersion,
    /// The controller elected another leader meanwhile.
    NewLeaderElected,
    /// The controller does not know the partition.
    UnknownPartition,
    /// The new ISR names a fenced, shutting-down or non-replica broker
    /// (KIP-841); the request was not applied.
    IneligibleReplica,
    /// The controller chose not to apply it; it was not applied.
    OperationNotAttempted,
    /// Anything else (not the controller, timed out): the request may or may
    /// not have been applied; send it again.
    Retriable,
}

/// The controller's answer to a `ProposeIsr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterPartitionAnswer {
    Accepted {
        leader_epoch: u32,
        partition_epoch: u32,
        isr: Vec<ReplicaId>,
    },
    /// `leader_epoch` and `partition_epoch` are the request's, to match the
    /// answer with the proposal it refuses.
    Rejected {
        leader_epoch: u32,
        partition_epoch: u32,
        error: AlterPartitionError,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    proposed: BTreeSet<ReplicaId>,
    /// The partition epoch the proposal was made against.
    base_partition_epoch: u32,
    sent_at_ms: u64,
    /// How many times it was sent: an answer does not say which copy it
    /// answers.
    copies: u32,
    /// The controller said the proposal is stale; it may have been applied,
    /// so keep counting its members (maximal ISR) but stop sending it: only
    /// new metadata resolves it.
    awaiting_metadata: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IsrState {
    committed: BTreeSet<ReplicaId>,
    partition_epoch: u32,
    pending: Option<Pending>,
    /// No new proposal before this time (after a "not applied" refusal).
    next_proposal_ms: u64,
}

impl IsrState {
    pub(crate) fn new(isr: BTreeSet<ReplicaId>, partition_epoch: u32) -> Self {
        Self { committed: isr, partition_epoch, pending: None, next_proposal_ms: 0 }
    }

    pub(crate) fn committed(&self) -> &BTreeSet<ReplicaId> {
        &self.committed
    }

    pub(crate) fn partition_epoch(&self) -> u32 {
        self.partition_epoch
    }

    pub(crate) fn pending(&self) -> Option<&BTreeSet<ReplicaId>> {
        self.pending.as_ref().map(|p| &p.proposed)
    }

    /// The committed ISR plus any member a pending change might have added:
    /// the set the high watermark must wait for, since the controller may
    /// already have committed the change (KIP-497). A pending shrink is a
    /// subset, so it changes nothing until committed.
    pub(crate) fn maximal(&self) -> BTreeSet<ReplicaId> {
        match &self.pending {
            Some(p) => self.committed.union(&p.proposed).copied().collect(),
            None => self.committed.clone(),
        }
    }

    pub(crate) fn can_propose(&self, now_ms: u64) -> bool {
        self.pending.is_none() && now_ms >= self.next_proposal_ms
    }

    pub(crate) fn propose(&mut self, proposed: BTreeSet<ReplicaId>, now_ms: u64) {
        debug_assert!(self.pending.is_none(), "one AlterPartition in flight at a time");
        self.pending = Some(Pending {
            proposed,
            base_partition_epoch: self.partition_epoch,
            sent_at_ms: now_ms,
            copies: 1,
            awaiting_metadata: false,
        });
    }

    /// The pending proposal to send again, if its answer is overdue.
    pub(crate) fn due_resend(&mut self, now_ms: u64, retry_ms: u64) -> Option<(BTreeSet<ReplicaId>, u32)> {
        let p = self.pending.as_mut()?;
        if p.awaiting_metadata || now_ms < p.sent_at_ms.saturating_add(retry_ms) {
            return None;
        }
        p.sent_at_ms = now_ms;
        p.copies += 1;
        Some((p.proposed.clone(), p.base_partition_epoch))
    }

    /// A committed ISR from the controller (an accepted proposal or new
    /// metadata). Only a newer partition epoch counts: answers and metadata
    /// may arrive late or twice. Returns whether it was taken.
    pub(crate) fn adopt(&mut self, partition_epoch: u32, isr: BTreeSet<ReplicaId>) -> bool {
        if partition_epoch <= self.partition_epoch {
            return false;
        }
        self.committed = isr;
        self.partition_epoch = partition_epoch;
        // Whatever was pending was made against an older state: moot.
        self.pending = None;
        self.next_proposal_ms = 0;
        true
    }

    /// The controller refused the proposal made against `partition_epoch`
    /// (Kafka's `handleAlterPartitionError`).
    pub(crate) fn reject(&mut self, partition_epoch: u32, error: AlterPartitionError, now_ms: u64, retry_ms: u64) {
        let Some(p) = self.pending.as_mut() else { return };
        if p.base_partition_epoch != partition_epoch || partition_epoch != self.partition_epoch {
            return;
        }
        match error {
            // Explicitly not applied, and no other copy exists that could
            // still be: the committed state is exact again. (The controller
            // channel delivers each copy at most once and in order, as
            // Kafka's does.)
            AlterPartitionError::IneligibleReplica | AlterPartitionError::OperationNotAttempted if p.copies == 1 => {
                self.pending = None;
                self.next_proposal_ms = now_ms.saturating_add(retry_ms);
            }
            // An earlier copy of a resent proposal may still be applied
            // after this answer: keep counting its members and send again.
            AlterPartitionError::IneligibleReplica | AlterPartitionError::OperationNotAttempted => {
                p.sent_at_ms = now_ms
            }
            // Possibly applied (a retried copy) or superseded: wait for metadata.
            AlterPartitionError::FencedLeaderEpoch
            | AlterPartitionError::InvalidUpdateVersion
            | AlterPartitionError::NewLeaderElected
            | AlterPartitionError::UnknownPartition => p.awaiting_metadata = true,
            AlterPartitionError::Retriable => p.sent_at_ms = now_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[ReplicaId]) -> BTreeSet<ReplicaId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn pending_expand_counts_in_the_maximal_isr_until_resolved() {
        let mut s = IsrState::new(set(&[1, 2]), 4);
        s.propose(set(&[1, 2, 3]), 0);
        assert_eq!(s.maximal(), set(&[1, 2, 3]));
        assert!(!s.can_propose(0));
        // Possibly applied: keep counting replica 3 and stop resending.
        s.reject(4, AlterPartitionError::InvalidUpdateVersion, 10, 100);
        assert_eq!(s.maximal(), set(&[1, 2, 3]));
        assert_eq!(s.due_resend(1_000, 100), None);
        // Metadata resolves it.
        assert!(s.adopt(5, set(&[1, 2, 3])));
        assert_eq!(s.pending(), None);
        assert!(s.can_propose(0));
    }

    #[test]
    fn not_applied_reverts_and_backs_off() {
        let mut s = IsrState::new(set(&[1]), 2);
        s.propose(set(&[1, 3]), 0);
        s.reject(2, AlterPartitionError::IneligibleReplica, 50, 100);
        assert_eq!(s.maximal(), set(&[1]));
        assert!(!s.can_propose(149));
        assert!(s.can_propose(150));
    }

    #[test]
    fn not_applied_after_a_resend_keeps_the_maximal_isr() {
        let mut s = IsrState::new(set(&[1]), 2);
        s.propose(set(&[1, 3]), 0);
        assert!(s.due_resend(100, 100).is_some());
        // This may answer the resend while the first copy is still on its way.
        s.reject(2, AlterPartitionError::OperationNotAttempted, 150, 100);
        assert_eq!(s.maximal(), set(&[1, 3]));
        assert_eq!(s.due_resend(249, 100), None);
        assert_eq!(s.due_resend(250, 100), Some((set(&[1, 3]), 2)));
    }

    #[test]
    fn stale_answers_and_old_metadata_are_ignored() {
        let mut s = IsrState::new(set(&[1, 2, 3]), 7);
        s.propose(set(&[1, 2]), 0);
        s.reject(6, AlterPartitionError::IneligibleReplica, 1, 100);
        assert_eq!(s.pending(), Some(&set(&[1, 2])));
        assert!(!s.adopt(7, set(&[1])));
        assert!(!s.adopt(3, set(&[1])));
        assert_eq!(s.committed(), &set(&[1, 2, 3]));
    }

    #[test]
    fn unanswered_proposal_is_resent_after_the_retry_time() {
        let mut s = IsrState::new(set(&[1, 2]), 0);
        s.propose(set(&[1]), 100);
        assert_eq!(s.due_resend(199, 100), None);
        assert_eq!(s.due_resend(200, 100), Some((set(&[1]), 0)));
        assert_eq!(s.due_resend(250, 100), None);
        s.reject(0, AlterPartitionError::Retriable, 260, 100);
        assert_eq!(s.due_resend(359, 100), None);
        assert_eq!(s.due_resend(360, 100), Some((set(&[1]), 0)));
    }
}
