//! corelog-client: the Rust client library: [`Producer`], [`Consumer`], [`GroupConsumer`]
//! and [`Admin`] over a shared [`Cluster`] (metadata cache and one pipelined
//! [`Connection`] per broker core endpoint).
//!
//! [`Consumer`] reads partitions it is told to (`assign`); [`GroupConsumer`]
//! is a member of a consumer group (`subscribe`): the group's members share
//! the partitions (split by an [`Assignor`]) and resume from the group's
//! committed offsets (see [`group`]). [`Admin`] also lists, describes and
//! deletes groups and reads or resets their offsets.
//!
//! Single-threaded like the broker: everything here lives on the glommio
//! executor (core) that created it, is `!Send`, and does its I/O, timers and
//! background tasks through `corelog_runtime`. Run it inside
//! `corelog_runtime::run_local` or on a core's executor; to drive
//! several cores, create one client per core.
//!
//! Requests for a partition (produce, fetch, list offsets) go straight to the
//! core that owns it, found in the metadata; a `NotOwner` answer updates the
//! cache from its hint and the request is retried there.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use corelog_runtime::run_local;
//! use corelog_client::*;
//!
//! run_local(async {
//!     let bootstrap = ["127.0.0.1:9192".parse().unwrap()];
//!     let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await?;
//!     Admin::new(&cluster).create_topic("orders", 6, &[]).await?;
//!
//!     let producer = Producer::new(&cluster, ProducerConfig::default());
//!     let delivery = producer.send(ProducerRecord::new("orders", "hello").key("customer-7"));
//!     let meta = delivery.await?;
//!
//!     let mut consumer = Consumer::new(&cluster, ConsumerConfig::default());
//!     consumer.assign("orders", &[meta.partition], StartAt::Earliest).await?;
//!     let records = consumer.poll(Duration::from_secs(1)).await?;
//!     assert_eq!(records[0].value, "hello");
//!     Ok::<_, ClientError>(())
//! })
//! .unwrap();
//! ```

#![warn(missing_docs)]

mod accumulator;
pub mod admin;
mod admin_cluster;
pub mod assignors;
pub mod config;
pub mod connection;
pub mod consumer;
mod consumer_records;
pub mod error;
mod flush;
pub mod group;
pub mod limits;
pub mod metadata;
mod metadata_fetch;
mod offsets;
pub mod partitioner;
pub mod producer;
mod producer_config;
mod producer_idempotence;
mod producer_record;
mod producer_send;
mod producer_state;

pub use admin::Admin;
pub use assignors::{Assignor, TopicPartition};
pub use config::ClientConfig;
pub use connection::Connection;
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, StartAt};
pub use corelog_format::Compression;
pub use corelog_protocol::{Acks, GroupState, OffsetSpec};
pub use error::{ClientError, ClientResult};
pub use group::{
    CommitFuture, GroupConfig, GroupConsumer, GroupDescription, GroupListing, GroupMember, RebalanceListener,
};
pub use metadata::{Cluster, PartitionInfo, TopicInfo};
pub use offsets::ListedOffset;
pub use partitioner::Partitioner;
pub use producer::{DeliveryCallback, DeliveryFuture, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
