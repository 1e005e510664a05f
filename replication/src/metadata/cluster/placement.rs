//! Where new partitions go: which brokers hold the replicas, which of them
//! is the preferred leader, and which core index the partition uses.

use std::collections::BTreeMap;

use super::{BrokerRegistration, ClusterError, ClusterMetadata, PartitionAssignment};
use crate::limits::MAX_REPLICATION_FACTOR;

/// The current spread of partitions, updated as each new partition is
/// placed so a many-partition create spreads evenly. Built and dropped inside
/// one `apply`.
#[derive(Debug, Default)]
pub(super) struct Load {
    /// Replicas per broker.
    replicas: BTreeMap<u32, u32>,
    /// Partitions whose first replica (preferred leader) is the broker.
    preferred: BTreeMap<u32, u32>,
    /// Replicas per (broker, core index).
    per_core: BTreeMap<(u32, u32), u32>,
}

impl Load {
    pub(super) fn of(metadata: &ClusterMetadata) -> Load {
        let mut load = Load::default();
        for assignment in metadata.topics.values().flat_map(|t| t.partitions.iter()) {
            load.add(assignment);
        }
        load
    }

    pub(super) fn add(&mut self, a: &PartitionAssignment) {
        *self.preferred.entry(a.replicas[0]).or_default() += 1;
        for r in &a.replicas {
            *self.replicas.entry(*r).or_default() += 1;
            *self.per_core.entry((*r, a.core)).or_default() += 1;
        }
    }

    pub(super) fn remove(&mut self, a: &PartitionAssignment) {
        let dec = |n: &mut u32| *n = n.checked_sub(1).expect("counted by add");
        dec(self.preferred.get_mut(&a.replicas[0]).expect("counted by add"));
        for r in &a.replicas {
            dec(self.replicas.get_mut(r).expect("counted by add"));
            dec(self.per_core.get_mut(&(*r, a.core)).expect("counted by add"));
        }
    }

    fn replicas_on(&self, node: u32) -> u32 {
        self.replicas.get(&node).copied().unwrap_or(0)
    }

    /// Places one new partition and counts it. Replicas: the
    /// `replication_factor` least-loaded unfenced brokers (fewest replicas,
    /// then lowest node id). Preferred leader: the one of them that is
    /// preferred leader of the fewest partitions (then lowest id), so
    /// leadership rotates over the brokers like Kafka's assignment; the
    /// followers follow it in node-id order, wrapping around (brokers 0,1,2
    /// give [0,1,2], [1,2,0], [2,0,1]), which spreads failover too.
    pub(super) fn place(
        &mut self,
        brokers: &BTreeMap<u32, BrokerRegistration>,
        replication_factor: u32,
    ) -> Result<PartitionAssignment, ClusterError> {
        check_replication_factor(brokers, replication_factor)?;
        let mut alive: Vec<u32> = brokers.values().filter(|b| !b.fenced).map(|b| b.node_id).collect();
        alive.sort_by_key(|n| (self.replicas_on(*n), *n));
        let mut chosen: Vec<u32> = alive[..replication_factor as usize].to_vec();
        chosen.sort_unstable();
        let leader_at = (0..chosen.len())
            .min_by_key(|i| (self.preferred.get(&chosen[*i]).copied().unwrap_or(0), chosen[*i]))
            .expect("at least one replica");
        chosen.rotate_left(leader_at);
        let assignment = PartitionAssignment::new(self.pick_core(brokers, &chosen), chosen);
        self.add(&assignment);
        Ok(assignment)
    }

    /// The least-loaded core index every replica has (the count of replicas
    /// at that index over `replicas`' brokers), lowest index on ties.
    pub(super) fn pick_core(&self, brokers: &BTreeMap<u32, BrokerRegistration>, replicas: &[u32]) -> u32 {
        let cores = replicas.iter().filter_map(|r| brokers.get(r)).map(|b| b.cores).min().unwrap_or(1);
        debug_assert!(cores >= 1, "registrations have at least one core");
        (0..cores)
            .min_by_key(|core| {
                let load: u32 = replicas.iter().map(|r| self.per_core.get(&(*r, *core)).copied().unwrap_or(0)).sum();
                (load, *core)
            })
            .expect("at least one core")
    }
}

pub(super) fn check_replication_factor(
    brokers: &BTreeMap<u32, BrokerRegistration>,
    replication_factor: u32,
) -> Result<(), ClusterError> {
    if replication_factor == 0 || replication_factor > MAX_REPLICATION_FACTOR {
        return Err(ClusterError::InvalidReplicationFactor(format!(
            "replication factor {replication_factor} must be in [1, {MAX_REPLICATION_FACTOR}]"
        )));
    }
    let alive = brokers.values().filter(|b| !b.fenced).count();
    if replication_factor as usize > alive {
        return Err(ClusterError::InvalidReplicationFactor(format!(
            "replication factor {replication_factor} is larger than the {alive} available (registered, unfenced) brokers"
        )));
    }
    Ok(())
}
