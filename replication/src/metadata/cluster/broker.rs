//! Broker registrations and the fence/unfence transitions.

use serde::{Deserialize, Serialize};

use super::election::{on_fenced, on_unfenced};
use super::placement::Load;
use super::{Change, ClusterError, ClusterMetadata};
use crate::limits::{MAX_CORES_PER_BROKER, MAX_NODE_ID, MAX_REGISTERED_BROKERS};
use corelog_protocol::limits::MAX_HOST_LEN;

/// Kafka's BrokerRegistration, with corelog's per-core endpoints. Part of the
/// metadata (controller core, and snapshots on every core).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub node_id: u32,
    /// Drawn at random by the broker process at start: a new one means a
    /// restart (which may have lost unflushed data), the same one a retry.
    pub incarnation: u64,
    pub host: String,
    /// Core c listens on `base_port + c`.
    pub base_port: u16,
    pub cores: u32,
    /// A fenced broker leads nothing and joins no ISR.
    pub fenced: bool,
    /// The metadata version this registration was applied as: unique per
    /// registration, so requests from an older incarnation are recognised.
    pub broker_epoch: u64,
    /// The broker's Kafka listener, if it runs one (absent in files and log
    /// entries written before there was one: read as None).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaListener>,
}

/// Where a broker serves Kafka clients: core c on `host:base_port + c`, with
/// `host` the name it advertises to them. Part of a broker's registration
/// (the metadata on the controller core and in every core's snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaListener {
    pub host: String,
    pub base_port: u16,
}

impl BrokerRegistration {
    /// The endpoint port of `core`, if the broker has that core.
    pub fn port_of(&self, core: u32) -> Option<u16> {
        if core >= self.cores {
            return None;
        }
        u16::try_from(u32::from(self.base_port) + core).ok()
    }
}

fn check_registration(
    node_id: u32,
    host: &str,
    base_port: u16,
    cores: u32,
    kafka: Option<&KafkaListener>,
) -> Result<(), ClusterError> {
    let invalid = |why: String| Err(ClusterError::InvalidRegistration(format!("broker {node_id}: {why}")));
    if node_id > MAX_NODE_ID {
        return invalid(format!("node id must be at most {MAX_NODE_ID}"));
    }
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return invalid(format!("host must be 1 to {MAX_HOST_LEN} bytes"));
    }
    if !(1..=MAX_CORES_PER_BROKER).contains(&cores) {
        return invalid(format!("cores {cores} must be in [1, {MAX_CORES_PER_BROKER}]"));
    }
    if u32::from(base_port) + cores - 1 > u32::from(u16::MAX) {
        return invalid(format!("ports {base_port}..{base_port}+{cores} do not fit below 65536"));
    }
    if let Some(k) = kafka {
        if k.host.is_empty() || k.host.len() > MAX_HOST_LEN {
            return invalid(format!("Kafka host must be 1 to {MAX_HOST_LEN} bytes"));
        }
        if u32::from(k.base_port) + cores - 1 > u32::from(u16::MAX) {
            return invalid(format!("Kafka ports {}..{}+{cores} do not fit below 65536", k.base_port, k.base_port));
        }
    }
    Ok(())
}

impl ClusterMetadata {
    /// A broker's (re)registration. The same incarnation with the same
    /// endpoint is a retry: no change. A new incarnation gets a new epoch and
    /// starts fenced, with the fencing transitions applied to its partitions
    /// (the restart may have lost what it had not flushed). Partitions it
    /// holds on a core it no longer has move to another core index on all
    /// their replicas (the data stays: a partition's directory does not
    /// depend on its core).
    pub(super) fn register_broker(
        &mut self,
        node_id: u32,
        incarnation: u64,
        host: String,
        base_port: u16,
        cores: u32,
        kafka: Option<KafkaListener>,
    ) -> Result<Vec<Change>, ClusterError> {
        check_registration(node_id, &host, base_port, cores, kafka.as_ref())?;
        match self.brokers.get(&node_id) {
            Some(b) if b.incarnation == incarnation => {
                if (b.host.as_str(), b.base_port, b.cores, &b.kafka) == (host.as_str(), base_port, cores, &kafka) {
                    return Ok(Vec::new());
                }
                return Err(ClusterError::InvalidRegistration(format!(
                    "broker {node_id}: incarnation {incarnation} is registered with {}:{} and {} cores; one \
                     incarnation cannot change its endpoint",
                    b.host, b.base_port, b.cores
                )));
            }
            Some(_) => {}
            None if self.brokers.len() >= MAX_REGISTERED_BROKERS => {
                return Err(ClusterError::InvalidRegistration(format!(
                    "broker {node_id}: the cluster already has the most brokers, {MAX_REGISTERED_BROKERS}"
                )))
            }
            None => {}
        }
        // Validated: nothing below fails.
        let broker_epoch = self.version + 1;
        self.brokers.insert(
            node_id,
            BrokerRegistration { node_id, incarnation, host, base_port, cores, fenced: true, broker_epoch, kafka },
        );
        let mut load = Load::of(self);
        let mut changes = vec![Change::BrokerChanged { node_id }];
        let Self { brokers, topics, .. } = self;
        for topic in topics.values_mut() {
            let unclean = topic.replication.unclean_leader_election;
            for (p, a) in topic.partitions.iter_mut().enumerate() {
                let mut changed = on_fenced(a, node_id, brokers, unclean);
                if a.replicas.contains(&node_id) && a.core >= cores {
                    load.remove(a);
                    a.core = load.pick_core(brokers, &a.replicas);
                    load.add(a);
                    // Every replica moves the partition between its cores:
                    // the new leader epoch makes followers and clients look
                    // it up again.
                    a.elect(a.leader, a.isr.clone());
                    changed = true;
                }
                if changed {
                    changes.push(Change::PartitionChanged {
                        topic: topic.name.clone(),
                        partition: p as u32,
                        assignment: a.clone(),
                    });
                }
            }
        }
        Ok(changes)
    }

    fn registered(&self, node_id: u32, broker_epoch: u64) -> Result<bool, ClusterError> {
        let b = self.brokers.get(&node_id).ok_or(ClusterError::UnknownBroker(node_id))?;
        if b.broker_epoch != broker_epoch {
            return Err(ClusterError::StaleBrokerEpoch { node_id, current: b.broker_epoch, requested: broker_epoch });
        }
        Ok(b.fenced)
    }

    /// Fences a broker whose session expired: already fenced is no change.
    pub(super) fn fence_broker(&mut self, node_id: u32, broker_epoch: u64) -> Result<Vec<Change>, ClusterError> {
        if self.registered(node_id, broker_epoch)? {
            return Ok(Vec::new());
        }
        self.brokers.get_mut(&node_id).expect("checked above").fenced = true;
        let mut changes = vec![Change::BrokerChanged { node_id }];
        let Self { brokers, topics, .. } = self;
        for topic in topics.values_mut() {
            let unclean = topic.replication.unclean_leader_election;
            for (p, a) in topic.partitions.iter_mut().enumerate() {
                if on_fenced(a, node_id, brokers, unclean) {
                    changes.push(Change::PartitionChanged {
                        topic: topic.name.clone(),
                        partition: p as u32,
                        assignment: a.clone(),
                    });
                }
            }
        }
        Ok(changes)
    }

    /// Unfences a broker that caught up: already unfenced is no change.
    /// Offline partitions it may lead get it as leader.
    pub(super) fn unfence_broker(&mut self, node_id: u32, broker_epoch: u64) -> Result<Vec<Change>, ClusterError> {
        if !self.registered(node_id, broker_epoch)? {
            return Ok(Vec::new());
        }
        self.brokers.get_mut(&node_id).expect("checked above").fenced = false;
        let mut changes = vec![Change::BrokerChanged { node_id }];
        for topic in self.topics.values_mut() {
            let unclean = topic.replication.unclean_leader_election;
            for (p, a) in topic.partitions.iter_mut().enumerate() {
                if on_unfenced(a, node_id, unclean) {
                    changes.push(Change::PartitionChanged {
                        topic: topic.name.clone(),
                        partition: p as u32,
                        assignment: a.clone(),
                    });
                }
            }
        }
        Ok(changes)
    }
}
