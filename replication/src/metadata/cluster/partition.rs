//! One partition's replica assignment and its leader/ISR transitions.

use serde::{Deserialize, Serialize};

/// Kafka's PartitionRegistration, plus the core index. Part of the metadata:
/// lives on the controller core; brokers get copies in their changes.
///
/// Invariants (kept by every transition, checked by the property test):
/// replicas distinct and non-empty; ISR non-empty, a subset of the replicas,
/// in replica order; the leader, if any, is in the ISR; epochs never decrease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionAssignment {
    /// The same core index on every replica, so replication is core-to-core.
    pub core: u32,
    /// The first one is the preferred leader.
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
    /// None: offline, no replica may serve it.
    pub leader: Option<u32>,
    /// Bumped by every leader change (to None included); fences old leaders.
    pub leader_epoch: u32,
    /// Bumped by every change of this assignment (Kafka's partition epoch):
    /// an AlterPartition must name the current one.
    pub partition_epoch: u32,
}

impl PartitionAssignment {
    /// A new partition: every replica in sync, the first one leading.
    pub fn new(core: u32, replicas: Vec<u32>) -> PartitionAssignment {
        assert!(!replicas.is_empty(), "a partition has at least one replica");
        PartitionAssignment {
            core,
            isr: replicas.clone(),
            leader: Some(replicas[0]),
            replicas,
            leader_epoch: 0,
            partition_epoch: 0,
        }
    }

    /// `members` sorted into replica order (and deduplicated), the ISR's
    /// canonical form.
    pub fn in_replica_order(&self, members: &[u32]) -> Vec<u32> {
        self.replicas.iter().copied().filter(|r| members.contains(r)).collect()
    }

    /// A new leader (or none) with a new ISR: both epochs move.
    pub(super) fn elect(&mut self, leader: Option<u32>, isr: Vec<u32>) {
        debug_assert!(leader.is_none_or(|l| isr.contains(&l)));
        self.leader = leader;
        self.isr = self.in_replica_order(&isr);
        debug_assert!(!self.isr.is_empty());
        self.leader_epoch += 1;
        self.partition_epoch += 1;
    }

    /// A new ISR under the same leader: only the partition epoch moves.
    pub(super) fn set_isr(&mut self, isr: Vec<u32>) {
        self.isr = self.in_replica_order(&isr);
        debug_assert!(!self.isr.is_empty());
        debug_assert!(self.leader.is_none_or(|l| self.isr.contains(&l)));
        self.partition_epoch += 1;
    }

    /// The ISR without `node`, unless it is the last member: KIP-841 keeps the
    /// last one, the only replica known to hold every acknowledged record.
    pub(super) fn isr_without(&self, node: u32) -> Vec<u32> {
        let rest: Vec<u32> = self.isr.iter().copied().filter(|r| *r != node).collect();
        if rest.is_empty() {
            self.isr.clone()
        } else {
            rest
        }
    }
}
