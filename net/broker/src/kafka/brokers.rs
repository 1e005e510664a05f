//! The no-hop rule in Kafka terms: every core is a Kafka broker of its own,
//! so a client sends each partition's requests straight to the owning core.
//!
//! - broker id = `node_id * KAFKA_IDS_PER_NODE + core`
//! - host = the node's advertised host (`advertise`, else `host`)
//! - port = the node's Kafka base port + core
//!
//! A partition is on the same core index on every replica (the controller
//! places it so), so its replicas and ISR map to `(node, that core)`.
//!
//! Every broker registers its Kafka listener (advertised host and Kafka
//! base port) with the controller, so any core can name every other node's
//! cores; a node registered without one (its listener off, or from before
//! there was one) is no Kafka broker: its partitions have no leader for
//! Kafka clients.

use crate::context::ServerContext;
use crate::limits::KAFKA_IDS_PER_NODE;
use corelog_replication::metadata::cluster::ClusterMetadata;

/// One core as a Kafka broker.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaBroker {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

/// The Kafka broker id of `core` on `node` (`Broker::start` bounds the node
/// id and core count so it fits an i32).
pub fn broker_id(node: u32, core: u32) -> i32 {
    i32::try_from(u64::from(node) * u64::from(KAFKA_IDS_PER_NODE) + u64::from(core)).unwrap_or(i32::MAX)
}

/// The host Kafka clients reach this node at.
pub fn advertised_host(context: &ServerContext) -> &str {
    context.config.advertise.as_deref().unwrap_or(&context.config.host)
}

/// `core` of `node` as a Kafka broker, if the node is registered and has
/// that core.
pub fn kafka_broker(metadata: &ClusterMetadata, context: &ServerContext, node: u32, core: u32) -> Option<KafkaBroker> {
    let port = i32::from(context.config.kafka_port) + i32::try_from(core).ok()?;
    if node == context.config.node_id {
        return Some(KafkaBroker { id: broker_id(node, core), host: advertised_host(context).to_owned(), port });
    }
    let registered = metadata.brokers.get(&node)?;
    let kafka = registered.kafka.as_ref()?;
    let port = i32::from(kafka.base_port) + i32::try_from(core).ok()?;
    (core < registered.cores).then(|| KafkaBroker { id: broker_id(node, core), host: kafka.host.clone(), port })
}

/// Every core of every unfenced node (this one always) as a Kafka broker.
pub fn all_brokers(metadata: &ClusterMetadata, context: &ServerContext) -> Vec<KafkaBroker> {
    let mut out = Vec::new();
    let this = context.config.node_id;
    if !metadata.brokers.contains_key(&this) {
        out.extend((0..context.shard_cores()).filter_map(|c| kafka_broker(metadata, context, this, c)));
    }
    for (node, registration) in &metadata.brokers {
        if registration.fenced && *node != this {
            continue;
        }
        let cores = if *node == this { context.shard_cores() } else { registration.cores };
        out.extend((0..cores).filter_map(|c| kafka_broker(metadata, context, *node, c)));
    }
    out.sort_by_key(|b| b.id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_per_node_and_core_and_fit_an_i32() {
        assert_eq!(broker_id(0, 0), 0);
        assert_eq!(broker_id(0, 3), 3);
        assert_eq!(broker_id(2, 5), 2 * 1024 + 5);
        let max_core = crate::limits::MAX_CORES_PER_NODE as u32 - 1;
        for (node, core) in [(0, 0), (1, max_core), (7, 12), (crate::limits::MAX_KAFKA_NODE_ID, max_core)] {
            let id = broker_id(node, core);
            assert!((0..i32::MAX).contains(&id));
            let (n, c) = (id as u32 / KAFKA_IDS_PER_NODE, id as u32 % KAFKA_IDS_PER_NODE);
            assert_eq!((n, c), (node, core), "the id names its node and core");
        }
    }
}
