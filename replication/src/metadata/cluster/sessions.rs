//! Broker sessions: which unfenced brokers stopped heartbeating.

use std::collections::BTreeMap;

use super::ClusterMetadata;

/// The active controller's heartbeat clock. Not replicated: it lives only on
/// the active controller's core 0, and a controller that becomes active
/// starts a fresh one ([`BrokerSessions::reset`]), so every broker gets a
/// full session from then on instead of being fenced for the silence of the
/// election. I/O-free: the time is passed in, in milliseconds of a monotonic
/// clock.
#[derive(Debug, Clone, Default)]
pub struct BrokerSessions {
    /// When this controller became active: the session start of every broker
    /// not heard from since.
    active_since_ms: u64,
    /// Per broker: the epoch it heartbeated with, and when.
    last_heartbeat: BTreeMap<u32, (u64, u64)>,
}

impl BrokerSessions {
    /// For a controller that became active at `now_ms`.
    pub fn new(now_ms: u64) -> BrokerSessions {
        BrokerSessions { active_since_ms: now_ms, last_heartbeat: BTreeMap::new() }
    }

    /// This controller (again) became active: forget every heartbeat.
    pub fn reset(&mut self, now_ms: u64) {
        *self = BrokerSessions::new(now_ms);
    }

    /// A heartbeat (or registration) from `node_id` at `broker_epoch`. The
    /// caller checked the epoch against the metadata; a heartbeat of an
    /// older registration keeps no newer one alive.
    pub fn heartbeat(&mut self, node_id: u32, broker_epoch: u64, now_ms: u64) {
        let entry = self.last_heartbeat.entry(node_id).or_insert((broker_epoch, now_ms));
        if broker_epoch >= entry.0 {
            *entry = (broker_epoch, now_ms.max(entry.1));
        }
    }

    /// Unfenced brokers of `metadata` not heard from at their current epoch
    /// for `session_timeout_ms`, as (node id, broker epoch): what the active
    /// controller proposes `FenceBroker` for. In node-id order.
    pub fn expired(&self, metadata: &ClusterMetadata, now_ms: u64, session_timeout_ms: u64) -> Vec<(u32, u64)> {
        metadata
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter(|b| {
                let last = match self.last_heartbeat.get(&b.node_id) {
                    Some((epoch, at)) if *epoch == b.broker_epoch => *at,
                    _ => self.active_since_ms,
                };
                now_ms.saturating_sub(last) >= session_timeout_ms
            })
            .map(|b| (b.node_id, b.broker_epoch))
            .collect()
    }
}
