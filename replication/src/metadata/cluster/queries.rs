//! Read-only views the broker and the metadata handlers need.

use std::collections::BTreeMap;

use super::{ClusterMetadata, ClusterTopic, PartitionAssignment};

/// One partition, borrowed from the metadata (on whichever core holds that
/// copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRef<'a> {
    pub topic: &'a ClusterTopic,
    pub partition: u32,
    pub assignment: &'a PartitionAssignment,
}

/// How much of the cluster's work a broker carries: a computed value, on the
/// caller's core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerLoad {
    /// Partitions it replicates (leader or follower).
    pub replicas: u32,
    /// Partitions it leads now.
    pub leaders: u32,
    /// Partitions it is the first replica (preferred leader) of.
    pub preferred_leaders: u32,
}

impl ClusterMetadata {
    /// Every partition, in topic-name then partition order.
    pub fn partitions(&self) -> impl Iterator<Item = PartitionRef<'_>> {
        self.topics.values().flat_map(|topic| {
            topic.partitions.iter().enumerate().map(move |(p, assignment)| PartitionRef {
                topic,
                partition: p as u32,
                assignment,
            })
        })
    }

    pub fn partitions_led_by(&self, node_id: u32) -> impl Iterator<Item = PartitionRef<'_>> {
        self.partitions().filter(move |p| p.assignment.leader == Some(node_id))
    }

    /// Partitions `node_id` holds a replica of, led by it or not.
    pub fn partitions_replicated_by(&self, node_id: u32) -> impl Iterator<Item = PartitionRef<'_>> {
        self.partitions().filter(move |p| p.assignment.replicas.contains(&node_id))
    }

    /// ISR smaller than the replica set.
    pub fn under_replicated(&self) -> impl Iterator<Item = PartitionRef<'_>> {
        self.partitions().filter(|p| p.assignment.isr.len() < p.assignment.replicas.len())
    }

    /// ISR smaller than the topic's min.insync.replicas: `acks=all` produces
    /// are refused.
    pub fn under_min_isr(&self) -> impl Iterator<Item = PartitionRef<'_>> {
        self.partitions().filter(|p| (p.assignment.isr.len() as u32) < p.topic.replication.min_insync_replicas)
    }

    /// No leader: nobody may serve it.
    pub fn offline(&self) -> impl Iterator<Item = PartitionRef<'_>> {
        self.partitions().filter(|p| p.assignment.leader.is_none())
    }

    /// The load of every registered broker, and of any unregistered node
    /// partitions still name (after a version-1 migration, before node 0
    /// registers).
    pub fn broker_loads(&self) -> BTreeMap<u32, BrokerLoad> {
        let mut loads: BTreeMap<u32, BrokerLoad> = self.brokers.keys().map(|n| (*n, BrokerLoad::default())).collect();
        for p in self.partitions() {
            let a = p.assignment;
            for r in &a.replicas {
                loads.entry(*r).or_default().replicas += 1;
            }
            loads.entry(a.replicas[0]).or_default().preferred_leaders += 1;
            if let Some(leader) = a.leader {
                loads.entry(leader).or_default().leaders += 1;
            }
        }
        loads
    }
}
