//! The Kafka listener: every core also speaks Kafka's wire protocol on
//! `kafka_port + core` and is advertised as a Kafka broker of its own (see
//! `brokers` and docs/kafka.md), so unmodified Kafka clients reach the core
//! owning each partition directly.
//!
//! Lives on: every core; a connection and everything it touches stay on the
//! core that accepted it (the accept loop is `crate::endpoint`'s).

mod admin;
mod brokers;
pub mod connection;
mod dispatch;
mod errors;
mod fetch;
mod group_convert;
mod groups;
mod init_producer_id;
mod leader_epoch;
mod list_offsets;
pub mod member_ids;
mod metadata;
mod native;
mod produce;
