//! The structural rules every state of the cluster metadata keeps. Checked
//! on every state read from a file or snapshot (so damaged input is an error
//! instead of a panic later) and by the property test after every command.

use super::ClusterMetadata;
use crate::limits::{MAX_CORES_PER_BROKER, MAX_NODE_ID, MAX_REGISTERED_BROKERS, MAX_REPLICATION_FACTOR};
use crate::metadata::validate_topic_name;
use corelog_protocol::limits::MAX_PARTITIONS_PER_TOPIC;

impl ClusterMetadata {
    /// The first broken rule, described, or Ok. Per partition: replicas
    /// distinct, as many as the replication factor; ISR non-empty, a subset
    /// of the replicas in replica order; the leader in the ISR. Keys match
    /// the names they index; topic ids distinct and non-zero; limits kept.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.brokers.len() > MAX_REGISTERED_BROKERS {
            return Err(format!("{} brokers, more than {MAX_REGISTERED_BROKERS}", self.brokers.len()));
        }
        for (id, b) in &self.brokers {
            if *id != b.node_id || b.node_id > MAX_NODE_ID {
                return Err(format!("broker {id} is registered as node {}", b.node_id));
            }
            if !(1..=MAX_CORES_PER_BROKER).contains(&b.cores)
                || u32::from(b.base_port) + b.cores - 1 > u32::from(u16::MAX)
            {
                return Err(format!("broker {id} has {} cores from port {}", b.cores, b.base_port));
            }
        }
        let mut ids = std::collections::BTreeMap::new();
        for (name, t) in &self.topics {
            if *name != t.name {
                return Err(format!("topic {name:?} is named {:?}", t.name));
            }
            validate_topic_name(name).map_err(|e| e.to_string())?;
            if let Some(other) = ids.insert(t.topic_id, name) {
                return Err(format!("topics {other:?} and {name:?} share the id {}", t.topic_id));
            }
            let r = &t.replication;
            if !(1..=MAX_REPLICATION_FACTOR).contains(&r.replication_factor)
                || !(1..=r.replication_factor).contains(&r.min_insync_replicas)
            {
                return Err(format!("topic {name:?} has replication {r:?}"));
            }
            if t.partitions.is_empty() || t.partitions.len() > MAX_PARTITIONS_PER_TOPIC as usize {
                return Err(format!("topic {name:?} has {} partitions", t.partitions.len()));
            }
            for (p, a) in t.partitions.iter().enumerate() {
                let bad = |why: &str| Err(format!("partition {name}/{p} {why}: {a:?}"));
                let mut distinct = a.replicas.clone();
                distinct.sort_unstable();
                distinct.dedup();
                if a.replicas.len() != r.replication_factor as usize || distinct.len() != a.replicas.len() {
                    return bad("does not have replication-factor distinct replicas");
                }
                if a.isr.is_empty() || a.isr != a.in_replica_order(&a.isr) {
                    return bad("has an ISR that is empty, not in replica order or not a subset of the replicas");
                }
                if a.leader.is_some_and(|l| !a.isr.contains(&l)) {
                    return bad("has a leader outside the ISR");
                }
                if a.replicas.iter().filter_map(|r| self.brokers.get(r)).any(|b| a.core >= b.cores) {
                    return bad("is on a core one of its replicas does not have");
                }
            }
        }
        Ok(())
    }
}
