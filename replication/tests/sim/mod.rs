//! A deterministic simulation of one partition replicated on three brokers:
//! in-memory logs with a durable prefix, the production controller state
//! machine (`ClusterMetadata`), a network that drops, delays, reorders and
//! duplicates, crashes and lost sessions, all driven by one seeded RNG. The
//! replicas run the crate's real `LeaderState` / `FollowerState`; `runtime`
//! plays the broker around them, `controller` the broker's controller
//! client.

pub mod checker;
pub mod cluster;
pub mod controller;
pub mod invariants;
pub mod log;
pub mod rng;
pub mod runtime;

pub use cluster::{run_seed, Params, Stats};
