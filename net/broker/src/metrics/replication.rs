//! The replication metrics, published once a second from the partitions'
//! roles (nothing on the data path): partitions led, under-replicated and
//! under min ISR, ISR shrinks and expands (seen as the led ISR's size
//! changing between passes), each follower's lag behind the leader's log
//! end, and the controller quorum's leader as this broker sees it.
//!
//! Lives on: each core, inside its metrics publisher.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::{CoreMetrics, ReplicaLabels};
use crate::replica::Role;
use crate::shard::Partition;

/// What the last pass saw: each led partition's ISR size and follower series.
#[derive(Default)]
pub struct ReplicationSeen {
    isr_sizes: HashMap<(String, u32), usize>,
    lag_series: Vec<ReplicaLabels>,
}

impl ReplicationSeen {
    pub fn publish(&mut self, m: &CoreMetrics, partitions: &[Rc<Partition>], controller_leader: &AtomicI64) {
        let (mut led, mut under, mut under_min) = (0i64, 0i64, 0i64);
        let mut sizes = HashMap::new();
        let mut series = Vec::new();
        for p in partitions {
            let role = p.role.borrow();
            let Role::Leader(leader) = &*role else { continue };
            let state = &leader.state;
            led += 1;
            let isr = state.isr();
            if isr.len() < state.replicas().len() {
                under += 1;
            }
            if (isr.len() as u32) < p.min_insync_replicas.get() {
                under_min += 1;
            }
            let key = (p.topic.clone(), p.id);
            match self.isr_sizes.get(&key) {
                Some(&before) if isr.len() < before => m.isr_shrinks.inc(),
                Some(&before) if isr.len() > before => m.isr_expands.inc(),
                _ => 0,
            };
            sizes.insert(key, isr.len());
            for &replica in state.replicas().iter().filter(|r| **r != state.replica_id()) {
                let labels = ReplicaLabels { core: m.core, topic: p.topic.clone(), partition: p.id, replica };
                let behind = state
                    .follower_replicated_end(replica)
                    .map_or(state.log_end_offset(), |end| state.log_end_offset().saturating_sub(end));
                m.replication_lag.get_or_create(&labels).set(i64::try_from(behind).unwrap_or(i64::MAX));
                series.push(labels);
            }
        }
        for gone in self.lag_series.drain(..).filter(|l| !series.contains(l)) {
            m.replication_lag.remove(&gone);
        }
        self.lag_series = series;
        self.isr_sizes = sizes;
        m.leader_partitions.set(led);
        m.under_replicated_partitions.set(under);
        m.under_min_isr_partitions.set(under_min);
        m.controller_leader.set(controller_leader.load(Ordering::Relaxed));
    }
}
