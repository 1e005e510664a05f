//! `corelog-bench run`: one workload end to end.
//!
//! 1. Start a fresh broker on `<data-dir>/<workload>-<timestamp>/broker`
//!    (in this process or as a child process), unless `--bootstrap`.
//! 2. `producer_rate = "half-max"`: run the workload at max rate first
//!    (warm-up, measured phase) and restart the broker empty.
//! 3. Warm-up, then the measured phase, through the corelog-perf library:
//!    `produce::run` per topic; with a live consumer `e2e::run` (fixed rate)
//!    or `produce::run` beside a `consume::run` from the log end (max rate).
//! 4. `consumer_backlog`: restart the broker (cold caches) and read every
//!    topic from the start with `consume::run`.
//! 5. Stop the broker, delete its data, and measure the raw baseline in the
//!    same data directory: O_DIRECT sequential write, then read, of the
//!    volume the run moved ([`crate::raw::baseline`]).
//! 6. Store `result.json`, the `.hgrm` files and `report.txt` in
//!    `<results>/<workload>/<timestamp>/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use corelog_perf::config::{Common, ConsumeConfig, Display, E2eConfig, Limit, ProduceConfig, StartFrom};
use corelog_perf::hgrm::format_hgrm;
use corelog_perf::latency::new_histogram;
use corelog_perf::summary::loadavg;
use corelog_perf::RunReport;
use hdrhistogram::Histogram;

use crate::broker::{BenchBroker, BrokerMode};
use crate::metrics::{BrokerSide, Snapshot};
use crate::probes::{check_real_disk, process_cpu, DiskProbe, DiskStats, MachineCpu};
use crate::raw;
use crate::result::{
    BenchResult, ConsumePhase, CpuUse, DeviceIo, EndToEnd, LatencySummary, Machine, PartitionReplicas, ProducePhase,
    Ratios, RawBaseline, Replication, Throughput, MB, RESULT_FILE,
};
use crate::workload::{Rate, Workload};

mod phases;
mod space_guard;
mod util;

pub(crate) use util::common;
use util::*;
pub use util::{compact_utc, iso_utc, percentiles};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// How the raw baseline is measured.
#[derive(Debug, Clone)]
pub struct RawOptions {
    /// Measure it at all.
    pub enabled: bool,
    /// A fixed volume; `None`: the volume the run moved, within
    /// `min_volume..=max_volume`.
    pub volume: Option<u64>,
    pub min_volume: u64,
    pub max_volume: u64,
    /// Bytes per write and read.
    pub io_bytes: usize,
    /// I/Os outstanding.
    pub in_flight: usize,
}

impl Default for RawOptions {
    fn default() -> Self {
        RawOptions {
            enabled: true,
            volume: None,
            min_volume: 256 * MIB,
            max_volume: 16 * GIB,
            io_bytes: 1 << 20,
            in_flight: 4,
        }
    }
}

/// Everything `run` needs besides the workload.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub broker: BrokerMode,
    /// Broker cores (clamped to the machine's).
    pub cores: usize,
    /// Scratch space on the disk under test: the broker's data and the raw
    /// baseline's file go in a subdirectory, removed afterwards.
    pub data_dir: PathBuf,
    /// Results go to `<results>/<workload>/<timestamp>/`.
    pub results: PathBuf,
    pub raw: RawOptions,
    /// Print corelog-perf's window lines and the phase lines.
    pub verbose: bool,
    /// Leave the broker's data in place.
    pub keep_data: bool,
    /// A target rate (records/s over all topics) replacing the workload's
    /// `producer_rate` (`--rate`, `--half-rate-of`).
    pub rate: Option<f64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            broker: BrokerMode::InProcess,
            cores: corelog_runtime::available_cores(),
            data_dir: PathBuf::from("bench-data"),
            results: PathBuf::from("bench-results"),
            raw: RawOptions::default(),
            verbose: true,
            keep_data: false,
            rate: None,
        }
    }
}

/// Runs `workload`; returns its result and the directory it was stored in.
pub fn run(workload: &Workload, source: &str, opts: &RunOptions) -> Result<(BenchResult, PathBuf), String> {
    workload.validate()?;
    let replicated_broker = matches!(opts.broker, BrokerMode::Cluster { .. } | BrokerMode::External(_));
    if workload.replication_factor > 1 && !replicated_broker {
        return Err(format!(
            "replication factor {} needs a cluster: --broker cluster (or --bootstrap a running one)",
            workload.replication_factor
        ));
    }
    if let BrokerMode::Cluster { .. } = opts.broker {
        if usize::from(workload.replication_factor) > crate::cluster::CLUSTER_NODES {
            return Err(format!(
                "replication factor {} exceeds the cluster's {} nodes",
                workload.replication_factor,
                crate::cluster::CLUSTER_NODES
            ));
        }
    }
    if let Some(r) = opts.rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(format!("rate {r}: must be a positive number of records/s"));
        }
    }
    let started = SystemTime::now();
    let timestamp = compact_utc(started);
    let result_dir = unique_dir(&opts.results.join(&workload.name).join(&timestamp))?;
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| format!("creating {}: {e}", opts.data_dir.display()))?;
    let data_root = std::fs::canonicalize(&opts.data_dir).map_err(|e| format!("{}: {e}", opts.data_dir.display()))?;
    check_real_disk(&data_root).map_err(|e| e.to_string())?;
    let run_dir = data_root.join(format!("{}-{timestamp}", workload.name));
    // Exists from the start: the device counters are read through it.
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("creating {}: {e}", run_dir.display()))?;
    let mut ctx = Ctx {
        w: workload,
        opts,
        result_dir: result_dir.clone(),
        run_dir: run_dir.clone(),
        topic_base: format!("{}-{}", workload.name, timestamp.to_ascii_lowercase()),
        lines: Vec::new(),
    };
    let guard = space_guard::SpaceGuard::watch(run_dir.clone(), opts.keep_data);
    let outcome = ctx.run_phases(source, started, &timestamp);
    drop(guard);
    if !opts.keep_data {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    let result = outcome?;
    Ok((result, result_dir))
}

struct Ctx<'a> {
    w: &'a Workload,
    opts: &'a RunOptions,
    result_dir: PathBuf,
    run_dir: PathBuf,
    topic_base: String,
    /// The report, as printed.
    lines: Vec<String>,
}

/// One stream's totals over every topic.
struct Stream {
    records: u64,
    bytes: u64,
    elapsed_s: f64,
    failed: u64,
    missing: u64,
    first_error: Option<String>,
    hist: Histogram<u64>,
}

impl Stream {
    fn new() -> Stream {
        Stream { records: 0, bytes: 0, elapsed_s: 0.0, failed: 0, missing: 0, first_error: None, hist: new_histogram() }
    }

    fn add_hist(&mut self, report: &RunReport, name: &str) {
        if let Some(h) = report.histogram(name) {
            self.hist.add(h).expect("auto-resizing histograms add");
        }
    }

    fn throughput(&self) -> Throughput {
        Throughput::new(self.records, self.bytes, self.elapsed_s)
    }
}

/// What a load phase measured over every topic.
struct Load {
    produce: Stream,
    /// Live consumption: (totals, measured from the scheduled send).
    live: Option<(Stream, bool)>,
}

/// Device and CPU counters around a phase.
struct Meter {
    disk: DiskProbe,
    broker_cpu: Option<Duration>,
    process_cpu: Option<Duration>,
    machine: Option<MachineCpu>,
    scrape: Option<Snapshot>,
    started: Instant,
}

/// What a [`Meter`] measured.
struct Measured {
    device: Option<DeviceIo>,
    cpu: Option<CpuUse>,
    broker_side: Option<BrokerSide>,
}

impl Meter {
    fn start(dir: &Path, broker: &BenchBroker) -> Meter {
        Meter {
            disk: DiskProbe::start(dir),
            broker_cpu: broker.cpu(),
            process_cpu: process_cpu(std::process::id()),
            machine: MachineCpu::now(),
            scrape: Snapshot::take(&broker.metrics_addrs()),
            started: Instant::now(),
        }
    }

    fn finish(self, broker: &BenchBroker, in_process: bool) -> Measured {
        let wall = self.started.elapsed().as_secs_f64();
        let machine = self.machine.zip(MachineCpu::now()).map(|(a, b)| b.since(a));
        let device = self.disk.finish().map(|d| device_io(&d, wall));
        let broker_cpu = match (self.broker_cpu, broker.cpu()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
            _ => None,
        };
        let cpu = match (self.process_cpu, process_cpu(std::process::id())) {
            (Some(a), Some(b)) => {
                let process = b.saturating_sub(a).as_secs_f64();
                let tools = if in_process { (process - broker_cpu.unwrap_or(0.0)).max(0.0) } else { process };
                Some(CpuUse {
                    wall_s: wall,
                    broker_cpu_s: broker_cpu,
                    tools_cpu_s: tools,
                    broker_cores: broker_cpu.map(|c| c / wall),
                    tools_cores: tools / wall,
                    machine_busy_cores: machine.map(|m| m.busy.as_secs_f64() / wall),
                    machine_iowait_cores: machine.map(|m| m.iowait.as_secs_f64() / wall),
                })
            }
            _ => None,
        };
        let broker_side = self.scrape.and_then(|snapshot| snapshot.finish(&broker.metrics_addrs()));
        Measured { device, cpu, broker_side }
    }
}

fn device_io(d: &DiskStats, wall: f64) -> DeviceIo {
    let (read_mb, written_mb) = (d.read_sectors as f64 * 512.0 / MB, d.write_sectors as f64 * 512.0 / MB);
    DeviceIo {
        read_mb,
        written_mb,
        read_mb_per_sec: read_mb / wall,
        write_mb_per_sec: written_mb / wall,
        reads: d.reads,
        writes: d.writes,
        flushes: d.flushes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_320_463); // 2026-11-22T04:07:43Z
        assert_eq!(compact_utc(t), "20261122T040743Z");
        assert_eq!(iso_utc(t), "2026-11-22T04:07:43Z");
        assert_eq!(iso_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn percentile_line() {
        let l = LatencySummary {
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: 3.0,
            p999_ms: 4.0,
            p9999_ms: 5.0,
            max_ms: 6.5,
            ..Default::default()
        };
        assert_eq!(percentiles(&l), "p50 1.00  p95 2.00  p99 3.00  p99.9 4.00  p99.99 5.00  max 6.50");
    }
}
