//! The cluster (Kafka's KRaft shape): the controller quorum's runtime and
//! every broker's agent.
//!
//! - [`ControllerService`] (`controller_service`, with `driver`,
//!   `peer_link`, `server`, `requests`, `state`): on core 0 of a node listed
//!   in `--controllers`; runs the `QuorumNode` of corelog-replication over
//!   real sockets and disk, applies committed commands to its
//!   `ClusterMetadata` and serves the controller apis on its controller port.
//! - [`ControllerClient`]: any core's way to the active controller
//!   (follows NotController hints, retries within a deadline).
//! - [`BrokerAgent`]: on core 0 of every broker in cluster mode; registers,
//!   heartbeats, and long-polls the metadata image for the shard code.
//!
//! Raft ids are node ids + 1 (raft reserves 0): see [`config::raft_id`].

pub mod broker_agent;
pub mod config;
pub mod controller_client;
pub mod controller_service;
mod driver;
mod peer_link;
mod requests;
mod server;
mod state;

pub use broker_agent::{BrokerAgent, BrokerEndpoint};
pub use config::{parse_controllers, ClusterSettings, ControllerPeer};
pub use controller_client::{ControllerClient, ControllerResult};
pub use controller_service::ControllerService;
pub use state::WriteError;
