//! Kafka's AlterPartition (KIP-497, KIP-841): a partition leader shrinks or
//! expands its ISR through the controller.

use super::election::is_alive;
use super::{Change, ClusterError, ClusterMetadata};

/// The request, as the leader sent it.
pub(super) struct AlterPartition {
    pub topic: String,
    pub partition: u32,
    pub leader: u32,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub new_isr: Vec<u32>,
}

impl ClusterMetadata {
    /// Checks in Kafka's order: the sender is the current leader, at the
    /// current leader epoch and partition epoch (a stale view of the ISR is
    /// refused, never merged); the new ISR is replicas only, without
    /// duplicates, holds the leader, and adds no fenced broker. The same ISR
    /// again is no change; any other success bumps the partition epoch.
    pub(super) fn alter_partition(&mut self, request: AlterPartition) -> Result<Vec<Change>, ClusterError> {
        let AlterPartition { topic, partition, leader, leader_epoch, partition_epoch, new_isr } = request;
        let a = self.partition(&topic, partition)?;
        if a.leader != Some(leader) {
            return Err(ClusterError::NotLeader { topic, partition, leader: a.leader, requested: leader });
        }
        if a.leader_epoch != leader_epoch {
            return Err(ClusterError::FencedLeaderEpoch {
                topic,
                partition,
                current: a.leader_epoch,
                requested: leader_epoch,
            });
        }
        if a.partition_epoch != partition_epoch {
            return Err(ClusterError::InvalidUpdateVersion {
                topic,
                partition,
                current: a.partition_epoch,
                requested: partition_epoch,
            });
        }
        let invalid = |reason: String| ClusterError::InvalidIsr { topic: topic.clone(), partition, reason };
        if let Some(stranger) = new_isr.iter().find(|r| !a.replicas.contains(r)) {
            return Err(invalid(format!("broker {stranger} is not a replica (replicas: {:?})", a.replicas)));
        }
        let isr = a.in_replica_order(&new_isr);
        if isr.len() != new_isr.len() {
            return Err(invalid(format!("{new_isr:?} lists a broker twice")));
        }
        if !isr.contains(&leader) {
            return Err(invalid(format!("{new_isr:?} does not hold the leader {leader}")));
        }
        if let Some(ineligible) = isr.iter().copied().find(|r| !a.isr.contains(r) && !is_alive(&self.brokers, *r)) {
            return Err(ClusterError::IneligibleReplica { topic, partition, node_id: ineligible });
        }
        if isr == a.isr {
            return Ok(Vec::new());
        }
        let a = &mut self.topics.get_mut(&topic).expect("checked above").partitions[partition as usize];
        a.set_isr(isr);
        Ok(vec![Change::PartitionChanged { topic, partition, assignment: a.clone() }])
    }
}
