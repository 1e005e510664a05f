//! corelog-benches: the benchmark harness.
//!
//! - `corelog-bench` (this library's [`runner`], [`compare`] and [`chart`]):
//!   named workloads ([`workload`]) run through the corelog-perf library
//!   against a fresh broker ([`broker`]), each stored with the raw-device
//!   baseline measured in the same run ([`raw`]) as `result.json`
//!   ([`result`]) plus HdrHistogram `.hgrm` files; `compare` puts runs side
//!   by side and charts their percentile distributions.
//! - `corelog-bench kafka` ([`kafka_compare`]): the Kafka listener driven by
//!   librdkafka against the native port, on one broker in one run.
//! - `engine-bench`: the partition log against raw O_DIRECT writes.
//! - `benches/*.rs`: criterion micro-benchmarks.
//!
//! See docs/bench.md.

pub mod broker;
pub mod chart;
pub mod cluster;
pub mod cluster_admin;
pub mod compare;
pub mod kafka_compare;
pub mod metrics;
pub mod probes;
pub mod raw;
pub mod result;
pub mod runner;
pub mod workload;
