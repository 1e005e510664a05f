//! A stored run: `result.json` (this module's [`BenchResult`]) next to the
//! `.hgrm` percentile distributions, in `<results>/<workload>/<timestamp>/`.
//!
//! Throughputs are in MB/s with MB = 2^20 bytes (Kafka's and corelog-perf's
//! unit) and count record values, as the load tools do; the raw baseline is
//! in the same unit, so every ratio compares like with like. Latencies are
//! in ms.

use std::path::Path;

use corelog_perf::latency::Percentiles;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::metrics::BrokerSide;
use crate::raw::{Baseline, Latency};
use crate::workload::Workload;

/// The result file in a run directory.
pub const RESULT_FILE: &str = "result.json";

/// Bytes in an MB (MiB, as Kafka's tools).
pub const MB: f64 = 1024.0 * 1024.0;

/// A latency distribution's summary, ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub p9999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// The summary of a µs histogram.
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        let p = Percentiles::of(h);
        LatencySummary {
            count: p.count,
            mean_ms: p.mean_ms,
            p50_ms: p.p50_ms,
            p90_ms: p.p90_ms,
            p95_ms: p.p95_ms,
            p99_ms: p.p99_ms,
            p999_ms: p.p999_ms,
            p9999_ms: p.p9999_ms,
            max_ms: p.max_ms,
        }
    }
}

/// Records and bytes moved over some time.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Throughput {
    pub records: u64,
    /// Record value bytes.
    pub bytes: u64,
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
}

impl Throughput {
    pub fn new(records: u64, bytes: u64, elapsed_s: f64) -> Throughput {
        let rate = |n: f64| if elapsed_s > 0.0 { n / elapsed_s } else { 0.0 };
        Throughput {
            records,
            bytes,
            elapsed_s,
            records_per_sec: rate(records as f64),
            mb_per_sec: rate(bytes as f64 / MB),
        }
    }
}

/// What reached the block device under the data directory during a phase
/// (the whole device: anything else using it is counted too).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DeviceIo {
    pub read_mb: f64,
    pub written_mb: f64,
    pub read_mb_per_sec: f64,
    pub write_mb_per_sec: f64,
    pub reads: u64,
    pub writes: u64,
    /// Cache flushes (fdatasync reaching the device).
    pub flushes: u64,
}

/// CPU used during a phase, in seconds and in cores (seconds per second).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CpuUse {
    pub wall_s: f64,
    /// The broker's threads (`None` for an external broker).
    pub broker_cpu_s: Option<f64>,
    /// This process less the broker's threads: the load tools.
    pub tools_cpu_s: f64,
    pub broker_cores: Option<f64>,
    pub tools_cores: f64,
    /// Every CPU of the machine, busy (user, system, irq, softirq, steal):
    /// with the broker and tools below it, the rest is the kernel's own
    /// threads and anything else running.
    #[serde(default)]
    pub machine_busy_cores: Option<f64>,
    /// Idle waiting for I/O, in cores.
    #[serde(default)]
    pub machine_iowait_cores: Option<f64>,
}

/// The producers' measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProducePhase {
    #[serde(flatten)]
    pub throughput: Throughput,
    /// Target records/s over all topics; `None`: max.
    pub target_rate: Option<f64>,
    /// Latencies are measured from each record's scheduled send time.
    pub co_corrected: bool,
    pub records_failed: u64,
    pub first_error: Option<String>,
    /// Send → acknowledgement.
    pub latency: LatencySummary,
    pub device: Option<DeviceIo>,
    pub cpu: Option<CpuUse>,
    /// The broker's own histograms over the phase (brokers started here).
    #[serde(default)]
    pub broker_side: Option<BrokerSide>,
}

/// Live consumption during the measured phase: scheduled send (or record
/// timestamp) → receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndToEnd {
    #[serde(flatten)]
    pub throughput: Throughput,
    /// Acknowledged records the consumer did not see.
    pub records_missing: u64,
    pub co_corrected: bool,
    pub latency: LatencySummary,
}

/// The catch-up read after the measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumePhase {
    /// Over the fetch time (kafka-consumer-perf-test's fetch.MB.sec: the
    /// run less connecting and finding the start positions).
    #[serde(flatten)]
    pub throughput: Throughput,
    /// Records in the topics when the read started.
    pub expected: Option<u64>,
    pub timed_out: bool,
    /// The broker was restarted before the read, so nothing came from its
    /// tail cache.
    pub broker_restarted: bool,
    /// Time to connect, assign and find positions.
    pub rebalance_ms: u64,
    /// Record timestamp → receipt (for a backlog: the age of the data).
    pub latency: LatencySummary,
    pub device: Option<DeviceIo>,
    pub cpu: Option<CpuUse>,
    #[serde(default)]
    pub broker_side: Option<BrokerSide>,
}

/// One direction of the raw baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RawSide {
    pub bytes: u64,
    pub elapsed_s: f64,
    pub mb_per_sec: f64,
    /// Per I/O, µs.
    pub latency_us: Latency,
}

/// Plain O_DIRECT sequential write then read of the same volume in the
/// data directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawBaseline {
    pub dir: String,
    pub volume_bytes: u64,
    pub io_bytes: usize,
    pub in_flight: usize,
    pub write: RawSide,
    pub read: RawSide,
    /// Why the volume differs from the run's, if it does.
    pub note: Option<String>,
}

impl RawBaseline {
    pub fn from_baseline(dir: &Path, b: &Baseline, io_bytes: usize, in_flight: usize, note: Option<String>) -> Self {
        let side = |bytes: u64, elapsed: std::time::Duration, latency_us: Latency| RawSide {
            bytes,
            elapsed_s: elapsed.as_secs_f64(),
            mb_per_sec: bytes as f64 / MB / elapsed.as_secs_f64().max(1e-9),
            latency_us,
        };
        RawBaseline {
            dir: dir.display().to_string(),
            volume_bytes: b.write.bytes,
            io_bytes,
            in_flight,
            write: side(b.write.bytes, b.write.elapsed, b.write.write_latency),
            read: side(b.read.bytes, b.read.elapsed, b.read.read_latency),
            note,
        }
    }
}

/// Throughputs as fractions of the raw baseline.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Ratios {
    /// Produce MB/s ÷ raw write MB/s.
    pub produce_vs_raw_write: Option<f64>,
    /// Catch-up consume MB/s ÷ raw read MB/s.
    pub consume_vs_raw_read: Option<f64>,
    /// Live end-to-end MB/s ÷ raw read MB/s.
    pub e2e_vs_raw_read: Option<f64>,
}

impl Ratios {
    pub fn of(
        produce: Option<&ProducePhase>,
        e2e: Option<&EndToEnd>,
        consume: Option<&ConsumePhase>,
        raw: Option<&RawBaseline>,
    ) -> Ratios {
        let Some(raw) = raw else { return Ratios::default() };
        let frac = |mbs: f64, base: f64| (base > 0.0).then(|| mbs / base);
        Ratios {
            produce_vs_raw_write: produce.and_then(|p| frac(p.throughput.mb_per_sec, raw.write.mb_per_sec)),
            consume_vs_raw_read: consume.and_then(|c| frac(c.throughput.mb_per_sec, raw.read.mb_per_sec)),
            e2e_vs_raw_read: e2e.and_then(|e| frac(e.throughput.mb_per_sec, raw.read.mb_per_sec)),
        }
    }
}

/// The machine during the run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub kernel: Option<String>,
    /// 1/5/15-minute load averages at the start and the end.
    pub loadavg_start: Option<[f64; 3]>,
    pub loadavg_end: Option<[f64; 3]>,
}

/// The broker the run used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BrokerInfo {
    /// `in-process`, `child` or `external`.
    pub mode: String,
    pub bootstrap: Vec<String>,
    pub cores: Option<usize>,
    pub data_dir: Option<String>,
    /// The child process's id (for `perf record -p`).
    pub pid: Option<u32>,
    /// Cluster mode: every node's process id, node 1 first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<u32>,
}

/// One partition's replicas after the measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionReplicas {
    pub topic: String,
    pub partition: u32,
    /// Node ids, the preferred leader first.
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
    /// Each replica's log end as its node last published it.
    pub log_ends: Vec<u64>,
}

/// Replication in cluster mode. Followers' log ends are not in the
/// metadata, so they come from every node's
/// `corelog_partition_log_end_offset` gauges, which each core publishes
/// once a second: lag *during* the run is not sampled (the gauges' skew
/// between nodes would dominate it); what is measured is how long after
/// the last acknowledgement every replica showed the same log end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replication {
    pub replication_factor: u16,
    pub nodes: usize,
    /// Last ack → every replica's log end equal, ms (about a second's
    /// resolution); `None`: not within the wait.
    pub converged_after_ms: Option<f64>,
    pub partitions: Vec<PartitionReplicas>,
}

/// `result.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub tool: String,
    pub version: String,
    pub workload: Workload,
    /// The file (or built-in) the workload came from.
    pub workload_source: String,
    /// Start of the run, UTC (`2026-11-22T04:07:43Z`).
    pub started_at: String,
    /// The run directory's name.
    pub timestamp: String,
    pub git_commit: Option<String>,
    /// Uncommitted changes in the work tree at run time.
    pub git_dirty: Option<bool>,
    pub machine: Machine,
    pub broker: BrokerInfo,
    /// For `producer_rate = "half-max"`: the max-rate run that set the rate.
    pub calibration: Option<ProducePhase>,
    pub produce: Option<ProducePhase>,
    pub e2e: Option<EndToEnd>,
    pub consume: Option<ConsumePhase>,
    /// Cluster mode: how the replicas stood after the measured phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<Replication>,
    pub raw: Option<RawBaseline>,
    pub ratios: Ratios,
    /// The report lines printed at the end.
    pub report: Vec<String>,
    /// Files in the run directory.
    pub files: Vec<String>,
}

impl BenchResult {
    pub fn to_json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map(|s| s + "\n").map_err(|e| e.to_string())
    }

    pub fn from_json(text: &str) -> Result<BenchResult, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads `dir/result.json`.
    pub fn load(dir: &Path) -> Result<BenchResult, String> {
        let path = dir.join(RESULT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        BenchResult::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::workload::STANDARD;

    /// A result with every part filled in, for tests.
    pub fn sample(name: &str, produce_mbs: f64, p99: f64) -> BenchResult {
        let workload = Workload::from_toml(STANDARD[0].1).unwrap();
        let lat = |scale: f64| LatencySummary {
            count: 1000,
            mean_ms: 1.0 * scale,
            p50_ms: 0.9 * scale,
            p90_ms: 1.5 * scale,
            p95_ms: 2.0 * scale,
            p99_ms: p99 * scale,
            p999_ms: 2.0 * p99 * scale,
            p9999_ms: 3.0 * p99 * scale,
            max_ms: 4.0 * p99 * scale,
        };
        let produce = ProducePhase {
            throughput: Throughput::new((produce_mbs * 1024.0 * 20.0) as u64, (produce_mbs * MB * 20.0) as u64, 20.0),
            target_rate: None,
            co_corrected: false,
            records_failed: 0,
            first_error: None,
            latency: lat(1.0),
            device: Some(DeviceIo { written_mb: 100.0, write_mb_per_sec: 5.0, flushes: 10, ..DeviceIo::default() }),
            cpu: Some(CpuUse {
                wall_s: 20.0,
                broker_cpu_s: Some(10.0),
                tools_cpu_s: 25.0,
                broker_cores: Some(0.5),
                tools_cores: 1.25,
                machine_busy_cores: Some(1.9),
                machine_iowait_cores: Some(0.05),
            }),
            broker_side: None,
        };
        let l = Latency { p50: 1000, p99: 3000, p999: 5000, max: 6000, mean: 1200.0 };
        let raw = RawBaseline {
            dir: "/data/raw".into(),
            volume_bytes: 1 << 30,
            io_bytes: 1 << 20,
            in_flight: 4,
            write: RawSide { bytes: 1 << 30, elapsed_s: 0.5, mb_per_sec: 2048.0, latency_us: l },
            read: RawSide { bytes: 1 << 30, elapsed_s: 0.4, mb_per_sec: 2560.0, latency_us: l },
            note: None,
        };
        let consume = ConsumePhase {
            throughput: Throughput::new(1000, 1024 * 1000, 0.5),
            expected: Some(1000),
            timed_out: false,
            broker_restarted: true,
            rebalance_ms: 12,
            latency: lat(100.0),
            device: None,
            cpu: None,
            broker_side: None,
        };
        let e2e = EndToEnd {
            throughput: Throughput::new(1000, 1024 * 1000, 1.0),
            records_missing: 0,
            co_corrected: true,
            latency: lat(1.5),
        };
        let ratios = Ratios::of(Some(&produce), Some(&e2e), Some(&consume), Some(&raw));
        BenchResult {
            tool: "corelog-bench".into(),
            version: "0.1.0".into(),
            workload: Workload { name: name.into(), ..workload },
            workload_source: "built-in".into(),
            started_at: "2026-11-22T04:07:43Z".into(),
            timestamp: "20261122T040743Z".into(),
            git_commit: Some("59c4fe5".into()),
            git_dirty: Some(false),
            machine: Machine {
                cores: 2,
                kernel: Some("6.1".into()),
                loadavg_start: Some([0.5, 1.0, 1.5]),
                loadavg_end: None,
            },
            broker: BrokerInfo {
                mode: "in-process".into(),
                bootstrap: vec!["127.0.0.1:9192".into()],
                cores: Some(2),
                data_dir: None,
                pid: None,
                pids: vec![],
            },
            calibration: Some(produce.clone()),
            produce: Some(produce),
            e2e: Some(e2e),
            consume: Some(consume),
            replication: None,
            raw: Some(raw),
            ratios,
            report: vec!["line".into()],
            files: vec!["result.json".into()],
        }
    }

    #[test]
    fn result_json_round_trips() {
        let r = sample("1k-max-durable", 700.0, 3.0);
        let json = r.to_json().unwrap();
        assert_eq!(BenchResult::from_json(&json).unwrap(), r);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        // Flattened throughput fields sit beside the latency.
        assert_eq!(v["produce"]["mb_per_sec"].as_f64().unwrap(), r.produce.as_ref().unwrap().throughput.mb_per_sec);
        assert_eq!(v["workload"]["producer_rate"], "max");
        assert!((v["ratios"]["produce_vs_raw_write"].as_f64().unwrap() - 700.0 / 2048.0).abs() < 1e-6);
        assert!(BenchResult::from_json("{}").is_err());
    }

    #[test]
    fn ratios_need_a_baseline() {
        let r = sample("x", 1024.0, 1.0);
        let ratios = Ratios::of(r.produce.as_ref(), None, r.consume.as_ref(), r.raw.as_ref());
        assert_eq!(ratios.produce_vs_raw_write, Some(0.5));
        assert!((ratios.consume_vs_raw_read.unwrap() - (2000.0 / 1024.0) / 2560.0).abs() < 1e-9);
        assert_eq!(ratios.e2e_vs_raw_read, None);
        assert_eq!(Ratios::of(r.produce.as_ref(), None, None, None), Ratios::default());
    }
}
