//! corelog-perf: load tools for corelog, in the shape of Kafka's
//! `kafka-producer-perf-test` / `kafka-consumer-perf-test`, with
//! HdrHistogram latencies corrected for coordinated omission and
//! machine-readable output.
//!
//! The `corelog-perf` binary is a thin command line over this library; a
//! benchmark harness calls the run functions directly:
//!
//! ```no_run
//! use std::time::Duration;
//! use corelog_perf::config::{Common, Display, Limit, ProduceConfig, ProducerSettings};
//!
//! let config = ProduceConfig {
//!     common: Common { topic: "bench".into(), display: Display::Quiet, ..Common::default() },
//!     producer: ProducerSettings {
//!         limit: Limit::Duration(Duration::from_secs(30)),
//!         throughput: Some(50_000.0),
//!         ..ProducerSettings::default()
//!     },
//!     ..ProduceConfig::default()
//! };
//! let report = corelog_perf::produce::run(&config).unwrap();
//! println!("p99 {} ms", report.summary.produce.unwrap().latency.p99_ms);
//! ```
//!
//! - [`produce::run`], [`consume::run`], [`e2e::run`]: the three modes;
//!   each returns a [`RunReport`] (the `summary.json` content and the full
//!   histograms) and, with `common.output`, writes the files.
//! - [`schedule`]: the send schedule and the coordinated-omission correction.
//! - [`hgrm`], [`hlog`]: the HdrHistogram file formats (writers and readers).
//! - [`report`]: the printed lines.
//!
//! Everything runs on glommio executors of its own (one OS thread each, not
//! pinned): call the run functions from an ordinary thread, not from inside
//! an executor.

pub mod cli;
pub mod clock;
pub mod config;
pub mod consume;
mod consumer;
pub mod e2e;
pub mod error;
pub mod hgrm;
pub mod hlog;
pub mod latency;
mod monitor;
mod output;
pub mod payload;
pub mod produce;
mod producer;
mod progress;
pub mod report;
pub mod schedule;
pub mod stats;
pub mod summary;
pub mod topic;
mod worker;

pub use consumer::{sent_at_us, Target};
pub use error::{PerfError, PerfResult};
pub use producer::TS_HEADER;
pub use summary::{RunReport, Summary};
