//! A minimal KRaft controller for one partition: elects leaders from the
//! ISR, bumps the leader epoch, fences brokers (removing them from the ISR,
//! but never the last member, KIP-841) and applies AlterPartition with
//! Kafka's epoch checks.

use std::collections::BTreeSet;

use corelog_replication::replica::{AlterPartitionAnswer, AlterPartitionError, PartitionChange, ReplicaId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub leader: Option<ReplicaId>,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub replicas: Vec<ReplicaId>,
    pub isr: BTreeSet<ReplicaId>,
}

impl PartitionState {
    pub fn change(&self) -> PartitionChange {
        PartitionChange {
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            replicas: self.replicas.clone(),
            isr: self.isr.iter().copied().collect(),
        }
    }
}

pub struct Controller {
    pub state: PartitionState,
    pub fenced: BTreeSet<ReplicaId>,
    pub elections: u64,
}

impl Controller {
    pub fn new(replicas: Vec<ReplicaId>) -> Self {
        let isr = replicas.iter().copied().collect();
        let leader = Some(replicas[0]);
        Self {
            state: PartitionState { leader, leader_epoch: 1, partition_epoch: 1, replicas, isr },
            fenced: BTreeSet::new(),
            elections: 0,
        }
    }

    /// A broker's session ended (crash or lost heartbeats). Returns whether
    /// the partition state changed.
    pub fn fence(&mut self, broker: ReplicaId) -> bool {
        if !self.fenced.insert(broker) {
            return false;
        }
        let mut changed = false;
        if self.state.isr.len() > 1 && self.state.isr.remove(&broker) {
            self.state.partition_epoch += 1;
            changed = true;
        }
        if self.state.leader == Some(broker) {
            self.elect();
            changed = true;
        }
        changed
    }

    /// A broker registered again.
    pub fn unfence(&mut self, broker: ReplicaId) -> bool {
        if !self.fenced.remove(&broker) {
            return false;
        }
        if self.state.leader.is_none() && self.eligible().next().is_some() {
            self.elect();
            return true;
        }
        false
    }

    /// Kafka's preferred-leader election: `to`, an unfenced ISR member
    /// other than the leader, takes over at a new epoch; the ISR stays.
    pub fn move_leadership(&mut self, to: ReplicaId) -> bool {
        if self.state.leader.is_none_or(|l| l == to) || !self.state.isr.contains(&to) || self.fenced.contains(&to) {
            return false;
        }
        self.state.leader = Some(to);
        self.state.leader_epoch += 1;
        self.state.partition_epoch += 1;
        self.elections += 1;
        true
    }

    fn eligible(&self) -> impl Iterator<Item = ReplicaId> + '_ {
        self.state.isr.iter().copied().filter(|r| !self.fenced.contains(r))
    }

    /// Clean election only: the first unfenced ISR member, or none (the
    /// partition is offline until an ISR member returns).
    fn elect(&mut self) {
        let leader = self.eligible().next();
        self.state.leader = leader;
        self.state.leader_epoch += 1;
        self.state.partition_epoch += 1;
        self.elections += 1;
    }

    pub fn alter_partition(
        &mut self,
        from: ReplicaId,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: &[ReplicaId],
    ) -> AlterPartitionAnswer {
        let reject = |error| AlterPartitionAnswer::Rejected { leader_epoch, partition_epoch, error };
        if leader_epoch < self.state.leader_epoch {
            return reject(AlterPartitionError::FencedLeaderEpoch);
        }
        if leader_epoch > self.state.leader_epoch || self.state.leader != Some(from) {
            return reject(AlterPartitionError::NewLeaderElected);
        }
        if partition_epoch != self.state.partition_epoch {
            return reject(AlterPartitionError::InvalidUpdateVersion);
        }
        let new: BTreeSet<ReplicaId> = new_isr.iter().copied().collect();
        let eligible =
            |r: &ReplicaId| self.state.replicas.contains(r) && (self.state.isr.contains(r) || !self.fenced.contains(r));
        if !new.contains(&from) || !new.iter().all(eligible) {
            return reject(AlterPartitionError::IneligibleReplica);
        }
        self.state.isr = new;
        self.state.partition_epoch += 1;
        AlterPartitionAnswer::Accepted {
            leader_epoch,
            partition_epoch: self.state.partition_epoch,
            isr: self.state.isr.iter().copied().collect(),
        }
    }
}
