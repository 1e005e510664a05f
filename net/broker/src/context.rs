//! What a core's handlers share: the broker config, how to name an
//! endpoint, this core's metric handles and its group coordinator runtime.
//! One per core, made at start (the metrics are atomics only this core
//! writes; the group runtime is this core's own), so nothing in it is shared
//! with another core's requests: it is `!Send`, held in an `Rc`.

use std::rc::Rc;

use corelog_protocol::{BrokerMetadata, CoreEndpoint, Endpoint};

use super::groups::GroupRuntime;
use super::metrics::CoreMetrics;
use super::BrokerConfig;

pub struct ServerContext {
    pub config: BrokerConfig,
    pub cores: u32,
    /// This core's series of the broker metrics.
    pub metrics: CoreMetrics,
    /// This core's consumer-group coordinator.
    pub groups: Rc<GroupRuntime>,
    /// This core's request memory, in bytes (`request_memory_bytes_per_core`):
    /// connections reserve what they read and give it back when the request
    /// is handled.
    pub request_memory: corelog_runtime::sync::Semaphore,
    /// Damaged stored batches this core's reads ran into (counted, logged once).
    pub damaged: super::damaged::DamagedBatches,
}

impl ServerContext {
    /// The client-facing endpoint of `core` on this node.
    pub fn endpoint(&self, core: u32) -> Endpoint {
        Endpoint {
            node_id: self.config.node_id,
            core_id: core as u16,
            host: self.config.host.clone(),
            port: self.config.base_port + core as u16,
        }
    }

    pub fn broker_metadata(&self) -> BrokerMetadata {
        BrokerMetadata {
            node_id: self.config.node_id,
            host: self.config.host.clone(),
            endpoints: (0..self.cores)
                .map(|c| CoreEndpoint { core_id: c as u16, port: self.config.base_port + c as u16 })
                .collect(),
        }
    }
}
