//! Leader elections: when a broker is fenced or unfenced, and the explicit
//! preferred and unclean elections of `ElectLeaders`.

use std::collections::BTreeMap;

use super::{BrokerRegistration, Change, ClusterError, ClusterMetadata, ElectionKind, PartitionAssignment};

/// Registered and unfenced: may lead and join ISRs.
pub(super) fn is_alive(brokers: &BTreeMap<u32, BrokerRegistration>, node: u32) -> bool {
    brokers.get(&node).is_some_and(|b| !b.fenced)
}

/// `node` was just fenced (or re-registered, which fences it): moves `a`'s
/// leadership off it and takes it out of the ISR. Returns whether `a` changed.
///
/// A partition it led gets the first other ISR member (in replica order)
/// that is alive. With none, KIP-841: the ISR keeps its last member (the
/// only replica known to hold every acknowledged record) and the partition
/// goes offline, unless the topic allows unclean election: then the first
/// alive replica leads with an ISR of itself.
pub(super) fn on_fenced(
    a: &mut PartitionAssignment,
    node: u32,
    brokers: &BTreeMap<u32, BrokerRegistration>,
    unclean: bool,
) -> bool {
    if !a.replicas.contains(&node) {
        return false;
    }
    let isr = a.isr_without(node);
    if a.leader == Some(node) {
        let clean = a.replicas.iter().copied().find(|r| *r != node && isr.contains(r) && is_alive(brokers, *r));
        let unclean =
            || unclean.then(|| a.replicas.iter().copied().find(|r| *r != node && is_alive(brokers, *r))).flatten();
        match (clean, unclean()) {
            (Some(leader), _) => a.elect(Some(leader), isr),
            (None, Some(leader)) => a.elect(Some(leader), vec![leader]),
            (None, None) => a.elect(None, isr),
        }
        true
    } else if isr != a.isr {
        a.set_isr(isr);
        true
    } else {
        false
    }
}

/// `node` was just unfenced: an offline partition whose ISR holds it gets it
/// as leader; with unclean election allowed, any offline partition it
/// replicates does (with an ISR of itself). Returns whether `a` changed.
pub(super) fn on_unfenced(a: &mut PartitionAssignment, node: u32, unclean: bool) -> bool {
    if a.leader.is_some() || !a.replicas.contains(&node) {
        return false;
    }
    if a.isr.contains(&node) {
        a.elect(Some(node), a.isr.clone());
    } else if unclean {
        a.elect(Some(node), vec![node]);
    } else {
        return false;
    }
    true
}

/// The leader (and ISR) an election of `kind` would give `a`, or why none.
fn elected(
    a: &PartitionAssignment,
    brokers: &BTreeMap<u32, BrokerRegistration>,
    kind: ElectionKind,
    topic: &str,
    partition: u32,
) -> Result<(u32, Vec<u32>), ClusterError> {
    let not_needed = || ClusterError::ElectionNotNeeded { topic: topic.to_string(), partition };
    match kind {
        ElectionKind::Preferred => {
            let preferred = a.replicas[0];
            if a.leader == Some(preferred) {
                Err(not_needed())
            } else if a.isr.contains(&preferred) && is_alive(brokers, preferred) {
                Ok((preferred, a.isr.clone()))
            } else {
                Err(ClusterError::PreferredLeaderNotAvailable { topic: topic.to_string(), partition })
            }
        }
        ElectionKind::Unclean => {
            if a.leader.is_some() {
                return Err(not_needed());
            }
            // A live ISR member, when there is one, loses nothing.
            if let Some(r) = a.replicas.iter().copied().find(|r| a.isr.contains(r) && is_alive(brokers, *r)) {
                return Ok((r, a.isr.clone()));
            }
            match a.replicas.iter().copied().find(|r| is_alive(brokers, *r)) {
                Some(r) => Ok((r, vec![r])),
                None => Err(ClusterError::EligibleLeadersNotAvailable { topic: topic.to_string(), partition }),
            }
        }
    }
}

impl ClusterMetadata {
    /// The leader an `ElectLeaders` of `kind` would give the partition, or
    /// the reason it would leave it alone (ElectionNotNeeded,
    /// PreferredLeaderNotAvailable, EligibleLeadersNotAvailable): the
    /// per-partition answer of Kafka's ElectLeaders.
    pub fn election_for(&self, topic: &str, partition: u32, kind: ElectionKind) -> Result<u32, ClusterError> {
        let a = self.partition(topic, partition)?;
        elected(a, &self.brokers, kind, topic, partition).map(|(leader, _)| leader)
    }

    /// Elects every listed partition (every partition, for None) that
    /// [`Self::election_for`] allows, skipping the others; an unknown listed
    /// partition refuses the whole command.
    pub(super) fn elect_leaders(
        &mut self,
        partitions: Option<Vec<(String, u32)>>,
        kind: ElectionKind,
    ) -> Result<Vec<Change>, ClusterError> {
        let targets: Vec<(String, u32)> = match partitions {
            Some(list) => {
                for (topic, partition) in &list {
                    self.partition(topic, *partition)?;
                }
                let mut list = list;
                list.sort();
                list.dedup();
                list
            }
            None => {
                self.topics.values().flat_map(|t| (0..t.partitions.len() as u32).map(|p| (t.name.clone(), p))).collect()
            }
        };
        let mut changes = Vec::new();
        for (topic, partition) in targets {
            let a = &self.topics[&topic].partitions[partition as usize];
            let Ok((leader, isr)) = elected(a, &self.brokers, kind, &topic, partition) else { continue };
            let a = &mut self.topics.get_mut(&topic).expect("listed above").partitions[partition as usize];
            a.elect(Some(leader), isr);
            changes.push(Change::PartitionChanged { topic, partition, assignment: a.clone() });
        }
        Ok(changes)
    }
}
