//! What a run returns and writes as `summary.json`.

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;

use crate::clock::{format_time_ms, Clock};
use crate::latency::Percentiles;
use crate::topic::TopicState;

/// The machine's state, since the tools usually share it with the broker.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    /// CPUs this process may use.
    pub cores: usize,
    /// 1/5/15-minute load averages at the start and the end (Linux).
    pub loadavg_start: Option<[f64; 3]>,
    pub loadavg_end: Option<[f64; 3]>,
}

/// Producer results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProduceStats {
    /// Records handed to the client.
    pub records_sent: u64,
    /// Records acknowledged (with acks=0: written to the socket).
    pub records_acked: u64,
    pub records_failed: u64,
    /// Value bytes acknowledged.
    pub bytes: u64,
    /// From the start (all producers connected) to the last acknowledgement.
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    /// MiB/s, as Kafka's "MB".
    pub mb_per_sec: f64,
    /// Target records/s, if throttled.
    pub target_rate: Option<f64>,
    /// Latencies are measured from each record's scheduled send time.
    pub co_corrected: bool,
    /// Send → acknowledgement latency.
    pub latency: Percentiles,
    pub first_error: Option<String>,
}

/// Consumer results, with kafka-consumer-perf-test's columns.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConsumeStats {
    pub start_time: String,
    pub end_time: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub data_consumed_mb: f64,
    pub mb_per_sec: f64,
    pub records: u64,
    pub records_per_sec: f64,
    pub rebalance_time_ms: u64,
    pub fetch_time_ms: u64,
    pub fetch_mb_per_sec: f64,
    pub fetch_records_per_sec: f64,
    pub bytes: u64,
    /// Records the run set out to read, if known.
    pub expected: Option<u64>,
    /// Stopped after `timeout` without records, short of `expected`.
    pub timed_out: bool,
    /// Record timestamp → receipt.
    pub e2e_latency: Percentiles,
}

/// End-to-end results of `e2e`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct E2eStats {
    pub records_received: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    /// Acknowledged records the consumer did not see before the timeout.
    pub records_missing: u64,
    /// Measured from each record's scheduled send time to its receipt.
    pub co_corrected: bool,
    pub latency: Percentiles,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub tool: String,
    pub version: String,
    pub mode: String,
    pub started_at_ms: i64,
    pub started_at: String,
    pub config: Value,
    /// The topic as the run found (or created) it (produce, e2e).
    pub topic: Option<TopicState>,
    pub machine: Machine,
    pub produce: Option<ProduceStats>,
    pub consume: Option<ConsumeStats>,
    pub e2e: Option<E2eStats>,
    /// The lines printed at the end.
    pub result_lines: Vec<String>,
    /// Files written next to this one.
    pub files: Vec<String>,
}

impl Summary {
    /// A summary of a `mode` run that started at `clock`, with no results yet.
    pub fn new(mode: &str, clock: &Clock, config: Value, loadavg_start: Option<[f64; 3]>) -> Summary {
        Summary {
            tool: "corelog-perf".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mode: mode.into(),
            started_at_ms: clock.start_ms(),
            started_at: format_time_ms(clock.start_ms()),
            config,
            topic: None,
            machine: Machine { cores: corelog_runtime::available_cores(), loadavg_start, loadavg_end: loadavg() },
            produce: None,
            consume: None,
            e2e: None,
            result_lines: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// A run's outcome: the summary, and its full histograms (µs) by stream
/// name ("produce", "consume", "e2e").
#[derive(Debug, Clone)]
pub struct RunReport {
    pub summary: Summary,
    pub histograms: Vec<(String, Histogram<u64>)>,
}

impl RunReport {
    /// The histogram of stream `name`.
    pub fn histogram(&self, name: &str) -> Option<&Histogram<u64>> {
        self.histograms.iter().find(|(n, _)| n == name).map(|(_, h)| h)
    }

    /// Whether anything failed (deliveries, or records missing end to end).
    pub fn had_failures(&self) -> bool {
        self.summary.produce.as_ref().is_some_and(|p| p.records_failed > 0)
            || self.summary.e2e.as_ref().is_some_and(|e| e.records_missing > 0)
            || self.summary.consume.as_ref().is_some_and(|c| c.timed_out)
    }
}

/// The 1/5/15-minute load averages, on Linux.
pub fn loadavg() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|s| s.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}
