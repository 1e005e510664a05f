//! corelog-replication: the cluster's metadata and, with the cluster, the
//! replicas.
//!
//! - [`controller`]: the controller quorum's Raft node (I/O-free, on tikv's
//!   `raft`), its durable log on disk and its wire codec.
//! - [`metadata`]: topics, partitions, configs and the partition -> core
//!   assignment, as an I/O-free state machine plus its atomic file. A single
//!   node applies it directly; a cluster will replicate the same state machine
//!   through the controller quorum's Raft log.
//! - [`replica`]: one partition's replication (Kafka's ISR protocol), the
//!   leader's and a follower's I/O-free state machines.

pub mod controller;
pub mod limits;
pub mod metadata;
pub mod replica;
