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

use corelog_perf::config::{Common, ConsumeConfig, Display, E2eConfig, ProduceConfig, StartFrom};
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
    BenchResult, ConsumePhase, CpuUse, DeviceIo, EndToEnd, LatencySummary, Machine, ProducePhase, Ratios, RawBaseline,
    Throughput, MB, RESULT_FILE,
};
use crate::workload::{Rate, Workload};

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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            broker: BrokerMode::InProcess,
            cores: corelog_engine::runtime::available_cores(),
            data_dir: PathBuf::from("bench-data"),
            results: PathBuf::from("bench-results"),
            raw: RawOptions::default(),
            verbose: true,
            keep_data: false,
        }
    }
}

/// Runs `workload`; returns its result and the directory it was stored in.
pub fn run(workload: &Workload, source: &str, opts: &RunOptions) -> Result<(BenchResult, PathBuf), String> {
    workload.validate()?;
    let started = SystemTime::now();
    let timestamp = compact_utc(started);
    let result_dir = unique_dir(&opts.results.join(&workload.name).join(&timestamp))?;
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| format!("creating {}: {e}", opts.data_dir.display()))?;
    let data_root = std::fs::canonicalize(&opts.data_dir).map_err(|e| format!("{}: {e}", opts.data_dir.display()))?;
    check_real_disk(&data_root).map_err(|e| e.to_string())?;
    let run_dir = data_root.join(format!("{}-{timestamp}", workload.name));
    let mut ctx = Ctx {
        w: workload,
        opts,
        result_dir: result_dir.clone(),
        run_dir: run_dir.clone(),
        topic_base: format!("{}-{}", workload.name, timestamp.to_ascii_lowercase()),
        lines: Vec::new(),
    };
    let outcome = ctx.run_phases(source, started, &timestamp);
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
            scrape: broker.metrics_addr().and_then(Snapshot::take),
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
        let broker_side = self.scrape.zip(broker.metrics_addr()).and_then(|(snapshot, addr)| snapshot.finish(addr));
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

impl Ctx<'_> {
    fn say(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }

    fn note(&self, line: &str) {
        if self.opts.verbose {
            eprintln!("corelog-bench: {line}");
        }
    }

    fn display(&self) -> Display {
        if self.opts.verbose && self.w.topics == 1 {
            Display::Plain
        } else {
            Display::Quiet
        }
    }

    fn topics(&self, suffix: &str) -> Vec<String> {
        (0..self.w.topics)
            .map(|i| match self.w.topics {
                1 => format!("{}{suffix}", self.topic_base),
                _ => format!("{}{suffix}-{i}", self.topic_base),
            })
            .collect()
    }

    fn run_phases(&mut self, source: &str, started: SystemTime, timestamp: &str) -> Result<BenchResult, String> {
        let w = self.w;
        let loadavg_start = loadavg();
        let broker_dir = self.run_dir.join("broker");
        let log = matches!(self.opts.broker, BrokerMode::Child { .. }).then(|| self.result_dir.join("broker.log"));
        let mut broker = BenchBroker::start(self.opts.broker.clone(), &broker_dir, self.opts.cores, log)?;
        let in_process = self.opts.broker == BrokerMode::InProcess;
        self.say(format!("workload {} ({source}): {}", w.name, describe(w)));
        let info = broker.info();
        self.say(format!(
            "broker: {}{}, {} ({})",
            info.mode,
            info.pid.map(|p| format!(" pid {p}")).unwrap_or_default(),
            info.cores.map(|c| format!("{c} cores")).unwrap_or_else(|| "not started here".into()),
            info.bootstrap.join(",")
        ));

        // Calibration for "half-max".
        let mut calibration = None;
        let rate = match w.producer_rate {
            Rate::Max => None,
            Rate::PerSec(r) => Some(r),
            Rate::HalfMax => {
                let topics = self.topics("-max");
                self.warmup(&broker, &topics, None, "calibration-warmup")?;
                self.note(&format!("calibration: max rate for {} s", w.duration));
                let meter = Meter::start(&self.run_dir, &broker);
                let load = self.load(&broker, &topics, None, w.duration, "calibration")?;
                let phase = produce_phase(&load.produce, None, meter.finish(&broker, in_process));
                self.write_hgrm("calibration-produce-latency.hgrm", &load.produce.hist)?;
                let half = phase.throughput.records_per_sec / 2.0;
                self.say(format!(
                    "calibration at max rate: {:.0} records/s ({:.2} MB/s); half: {half:.0} records/s",
                    phase.throughput.records_per_sec, phase.throughput.mb_per_sec
                ));
                if !(half.is_finite() && half > 0.0) {
                    return Err("the calibration run acknowledged no records".into());
                }
                calibration = Some(phase);
                broker.restart_empty()?;
                Some(half)
            }
        };

        // Warm-up and the measured phase.
        let topics = self.topics("");
        self.warmup(&broker, &topics, rate, "warmup")?;
        self.note(&format!("measured phase: {} s", w.duration));
        let meter = Meter::start(&self.run_dir, &broker);
        let load = self.load(&broker, &topics, rate, w.duration, "measured")?;
        let produce = produce_phase(&load.produce, rate, meter.finish(&broker, in_process));
        self.write_hgrm("produce-latency.hgrm", &load.produce.hist)?;
        let e2e = match &load.live {
            Some((s, co)) => {
                let name = if *co { "e2e-latency.hgrm" } else { "consume-latency.hgrm" };
                self.write_hgrm(name, &s.hist)?;
                Some(EndToEnd {
                    throughput: s.throughput(),
                    records_missing: s.missing,
                    co_corrected: *co,
                    latency: LatencySummary::of(&s.hist),
                })
            }
            None => None,
        };

        // Catch-up from disk.
        let consume = if w.consumer_backlog {
            let restarted = broker.owned();
            if restarted {
                self.note("restarting the broker (cold caches) before the catch-up read");
                broker.restart()?;
            }
            self.note("catch-up read from the start of the log");
            let meter = Meter::start(&self.run_dir, &broker);
            let (stream, expected, timed_out, rebalance_ms) = self.catch_up(&broker, &topics)?;
            let measured = meter.finish(&broker, in_process);
            self.write_hgrm("catch-up-latency.hgrm", &stream.hist)?;
            Some(ConsumePhase {
                throughput: stream.throughput(),
                expected,
                timed_out,
                broker_restarted: restarted,
                rebalance_ms,
                latency: LatencySummary::of(&stream.hist),
                device: measured.device,
                cpu: measured.cpu,
                broker_side: measured.broker_side,
            })
        } else {
            None
        };
        let broker_info = broker.info();
        broker.stop()?;
        drop(broker);
        if !self.opts.keep_data {
            let _ = std::fs::remove_dir_all(&broker_dir);
        }

        // The raw baseline, on the same disk, with the broker gone.
        let moved = produce.throughput.bytes.max(consume.as_ref().map_or(0, |c| c.throughput.bytes));
        let raw = if self.opts.raw.enabled { Some(self.raw_baseline(moved)?) } else { None };

        let ratios = Ratios::of(Some(&produce), e2e.as_ref(), consume.as_ref(), raw.as_ref());
        self.report(calibration.as_ref(), &produce, e2e.as_ref(), consume.as_ref(), raw.as_ref(), &ratios);
        let (git_commit, git_dirty) = git_state();
        let mut result = BenchResult {
            tool: "corelog-bench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            workload: w.clone(),
            workload_source: source.into(),
            started_at: iso_utc(started),
            timestamp: timestamp.into(),
            git_commit,
            git_dirty,
            machine: Machine {
                cores: corelog_engine::runtime::available_cores(),
                kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
                loadavg_start,
                loadavg_end: loadavg(),
            },
            broker: broker_info,
            calibration,
            produce: Some(produce),
            e2e,
            consume,
            raw,
            ratios,
            report: self.lines.clone(),
            files: Vec::new(),
        };
        let report_text: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        write(&self.result_dir.join("report.txt"), report_text.as_bytes())?;
        result.files = list_files(&self.result_dir, RESULT_FILE);
        write(&self.result_dir.join(RESULT_FILE), result.to_json()?.as_bytes())?;
        Ok(result)
    }

    fn warmup(
        &mut self,
        broker: &BenchBroker,
        topics: &[String],
        rate: Option<f64>,
        phase: &str,
    ) -> Result<(), String> {
        if self.w.warmup <= 0.0 {
            return Ok(());
        }
        self.note(&format!("{phase}: {} s, not measured", self.w.warmup));
        let load = self.load(broker, topics, rate, self.w.warmup, phase)?;
        if load.produce.records == 0 {
            return Err(format!("{phase}: no record was acknowledged ({:?})", load.produce.first_error));
        }
        Ok(())
    }

    /// Runs the producers (and live consumers) on every topic for `secs`.
    fn load(
        &self,
        broker: &BenchBroker,
        topics: &[String],
        rate: Option<f64>,
        secs: f64,
        phase: &str,
    ) -> Result<Load, String> {
        let w = self.w;
        let bootstrap = broker.bootstrap();
        let per_topic_rate = rate.map(|r| r / topics.len() as f64);
        let out = self.result_dir.join("perf").join(phase);
        let display = self.display();
        let handles: Vec<_> = topics
            .iter()
            .enumerate()
            .map(|(i, topic)| {
                let out = if topics.len() == 1 { out.clone() } else { out.join(format!("topic-{i}")) };
                let (w, bootstrap, topic) = (w.clone(), bootstrap.clone(), topic.clone());
                std::thread::spawn(move || load_topic(&w, &bootstrap, &topic, per_topic_rate, secs, &out, display))
            })
            .collect();
        let mut load = Load { produce: Stream::new(), live: None };
        let mut first_err = None;
        for h in handles {
            match h.join().map_err(|_| "a load thread panicked".to_string()).and_then(|r| r) {
                Ok((produce, live)) => {
                    let p = produce.summary.produce.as_ref().ok_or("a produce run without producer results")?;
                    let s = &mut load.produce;
                    s.records += p.records_acked;
                    s.bytes += p.bytes;
                    s.elapsed_s = s.elapsed_s.max(p.elapsed_s);
                    s.failed += p.records_failed;
                    if s.first_error.is_none() {
                        s.first_error = p.first_error.clone();
                    }
                    s.add_hist(&produce, "produce");
                    if let Some(live) = live {
                        let (stream, _) = load.live.get_or_insert_with(|| (Stream::new(), live.summary.e2e.is_some()));
                        if let Some(e) = &live.summary.e2e {
                            stream.records += e.records_received;
                            stream.bytes += e.bytes;
                            stream.elapsed_s = stream.elapsed_s.max(e.elapsed_s);
                            stream.missing += e.records_missing;
                            stream.add_hist(&live, "e2e");
                        } else if let Some(c) = &live.summary.consume {
                            stream.records += c.records;
                            stream.bytes += c.bytes;
                            stream.elapsed_s = stream.elapsed_s.max(c.fetch_time_ms as f64 / 1000.0);
                            stream.add_hist(&live, "consume");
                        }
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(format!("{phase}: {e}")),
            None => Ok(load),
        }
    }

    /// Reads every topic from the start, all topics at once.
    fn catch_up(&self, broker: &BenchBroker, topics: &[String]) -> Result<(Stream, Option<u64>, bool, u64), String> {
        let bootstrap = broker.bootstrap();
        let out = self.result_dir.join("perf").join("catch-up");
        let display = self.display();
        let fetch_size = self.w.fetch_bytes();
        let handles: Vec<_> = topics
            .iter()
            .enumerate()
            .map(|(i, topic)| {
                let out = if topics.len() == 1 { out.clone() } else { out.join(format!("topic-{i}")) };
                let config = ConsumeConfig {
                    common: common(&bootstrap, topic, &out, display),
                    from: StartFrom::Earliest,
                    fetch_size,
                    timeout: Duration::from_secs(10),
                    ..ConsumeConfig::default()
                };
                std::thread::spawn(move || corelog_perf::consume::run(&config).map_err(|e| e.to_string()))
            })
            .collect();
        let mut stream = Stream::new();
        let (mut expected, mut timed_out, mut rebalance_ms) = (Some(0u64), false, 0u64);
        for h in handles {
            let report = h.join().map_err(|_| "a consumer thread panicked".to_string())??;
            let c = report.summary.consume.as_ref().ok_or("a consume run without consumer results")?;
            stream.records += c.records;
            stream.bytes += c.bytes;
            stream.elapsed_s = stream.elapsed_s.max(c.fetch_time_ms as f64 / 1000.0);
            expected = expected.zip(c.expected).map(|(a, b)| a + b);
            timed_out |= c.timed_out;
            rebalance_ms = rebalance_ms.max(c.rebalance_time_ms);
            stream.add_hist(&report, "consume");
        }
        Ok((stream, expected, timed_out, rebalance_ms))
    }

    fn raw_baseline(&mut self, moved: u64) -> Result<RawBaseline, String> {
        let o = &self.opts.raw;
        let mut note = None;
        let mut volume = match o.volume {
            Some(v) => {
                note = Some(format!("fixed volume {} MiB (--raw-gib)", v / MIB));
                v
            }
            None if moved < o.min_volume => {
                note = Some(format!("the run moved {} MiB; at least {} MiB measured", moved / MIB, o.min_volume / MIB));
                o.min_volume
            }
            None if moved > o.max_volume => {
                note = Some(format!(
                    "the run moved {} MiB; capped at {} MiB (--raw-max-gib)",
                    moved / MIB,
                    o.max_volume / MIB
                ));
                o.max_volume
            }
            None => moved,
        };
        if let Some(free) = free_bytes(&self.run_dir) {
            if volume > free / 10 * 8 {
                volume = (free / 10 * 8).max(64 * MIB);
                note = Some(format!("capped at {} MiB by free space", volume / MIB));
            }
        }
        let dir = self.run_dir.join("raw");
        self.note(&format!("raw baseline: O_DIRECT write and read of {} MiB in {}", volume / MIB, dir.display()));
        let b = raw::baseline(&dir, volume, o.io_bytes, o.in_flight)
            .map_err(|e| format!("raw baseline in {}: {e}", dir.display()))?;
        Ok(RawBaseline::from_baseline(&dir, &b, o.io_bytes, o.in_flight, note))
    }

    fn broker_side_lines(&mut self, side: Option<&BrokerSide>, requests: &str) {
        let Some(side) = side else { return };
        let stream = if requests == "produce" { side.produce.as_ref() } else { side.fetch.as_ref() };
        if let Some(s) = stream {
            self.say(format!("  broker-side {requests} latency: {}", s.describe("requests")));
        }
        if let Some(s) = side.fdatasync.as_ref().filter(|_| requests == "produce") {
            self.say(format!("  broker-side fdatasync: {}", s.describe("calls")));
        }
    }

    fn write_hgrm(&self, name: &str, hist: &Histogram<u64>) -> Result<(), String> {
        write(&self.result_dir.join(name), format_hgrm(hist).as_bytes())
    }

    fn report(
        &mut self,
        calibration: Option<&ProducePhase>,
        p: &ProducePhase,
        e2e: Option<&EndToEnd>,
        consume: Option<&ConsumePhase>,
        raw: Option<&RawBaseline>,
        ratios: &Ratios,
    ) {
        let of_raw = |ratio: Option<f64>, what: &str, base: Option<f64>| match (ratio, base) {
            (Some(r), Some(b)) => format!(" = {:.1}% of raw {what} ({b:.1} MB/s)", 100.0 * r),
            _ => " (no raw baseline)".into(),
        };
        if let Some(c) = calibration {
            let ratio = raw.map(|r| c.throughput.mb_per_sec / r.write.mb_per_sec);
            self.say(format!(
                "calibration (max rate): {:.0} records/s, {:.2} MB/s{}",
                c.throughput.records_per_sec,
                c.throughput.mb_per_sec,
                of_raw(ratio, "write", raw.map(|r| r.write.mb_per_sec))
            ));
        }
        let t = &p.throughput;
        let target = p.target_rate.map(|r| format!(", target {r:.0} records/s")).unwrap_or_default();
        self.say(format!(
            "produce: {} records in {:.2} s{target}: {:.0} records/s, {:.2} MB/s{}",
            t.records,
            t.elapsed_s,
            t.records_per_sec,
            t.mb_per_sec,
            of_raw(ratios.produce_vs_raw_write, "write", raw.map(|r| r.write.mb_per_sec))
        ));
        let how = if p.co_corrected { "scheduled send -> ack, CO-corrected" } else { "send -> ack" };
        self.say(format!("  latency ms ({how}): {}", percentiles(&p.latency)));
        if p.records_failed > 0 {
            self.say(format!(
                "  {} records failed; first error: {}",
                p.records_failed,
                p.first_error.clone().unwrap_or_default()
            ));
        }
        self.say(format!("  {}", machine_line(p.device.as_ref(), p.cpu.as_ref())));
        self.broker_side_lines(p.broker_side.as_ref(), "produce");
        if let Some(e) = e2e {
            let t = &e.throughput;
            let what = if e.co_corrected {
                "scheduled send -> receipt, CO-corrected"
            } else {
                "record timestamp (ms) -> receipt"
            };
            self.say(format!(
                "live consumer: {} records, {:.0} records/s, {:.2} MB/s{}{}",
                t.records,
                t.records_per_sec,
                t.mb_per_sec,
                of_raw(ratios.e2e_vs_raw_read, "read", raw.map(|r| r.read.mb_per_sec)),
                if e.records_missing > 0 {
                    format!(", {} acknowledged records missing", e.records_missing)
                } else {
                    String::new()
                }
            ));
            self.say(format!("  latency ms ({what}): {}", percentiles(&e.latency)));
        }
        if let Some(c) = consume {
            let t = &c.throughput;
            self.say(format!(
                "catch-up consume{}: {} records in {:.2} s: {:.0} records/s, {:.2} MB/s{}{}",
                if c.broker_restarted { " (broker restarted: from disk)" } else { "" },
                t.records,
                t.elapsed_s,
                t.records_per_sec,
                t.mb_per_sec,
                of_raw(ratios.consume_vs_raw_read, "read", raw.map(|r| r.read.mb_per_sec)),
                if c.timed_out { format!(", TIMED OUT short of {:?} records", c.expected) } else { String::new() }
            ));
            self.say(format!("  {}", machine_line(c.device.as_ref(), c.cpu.as_ref())));
            self.broker_side_lines(c.broker_side.as_ref(), "fetch");
        }
        if let Some(r) = raw {
            self.say(format!(
                "raw baseline: O_DIRECT {:.2} GiB in {} KiB I/Os, {} in flight: write {:.1} MB/s (p99 {} µs), \
                 read {:.1} MB/s (p99 {} µs){}",
                r.volume_bytes as f64 / GIB as f64,
                r.io_bytes / 1024,
                r.in_flight,
                r.write.mb_per_sec,
                r.write.latency_us.p99,
                r.read.mb_per_sec,
                r.read.latency_us.p99,
                r.note.as_ref().map(|n| format!("; {n}")).unwrap_or_default()
            ));
        }
        self.say(format!("results: {}", self.result_dir.display()));
    }
}

/// One topic's load: the producers' report, and the live consumer's.
fn load_topic(
    w: &Workload,
    bootstrap: &[SocketAddr],
    topic: &str,
    rate: Option<f64>,
    secs: f64,
    out: &Path,
    display: Display,
) -> Result<(RunReport, Option<RunReport>), String> {
    let producer = w.producer_settings(rate, secs)?;
    // The topic must exist before a consumer can be assigned to it.
    corelog_perf::topic::ensure(bootstrap, topic, &w.topic_settings()).map_err(|e| e.to_string())?;
    let live = w.consumers > 0 && !w.consumer_backlog;
    match (live, rate) {
        (false, _) => {
            let config =
                ProduceConfig { common: common(bootstrap, topic, out, display), topic: w.topic_settings(), producer };
            Ok((corelog_perf::produce::run(&config).map_err(|e| e.to_string())?, None))
        }
        (true, Some(_)) => {
            let config = E2eConfig {
                common: common(bootstrap, topic, out, display),
                topic: w.topic_settings(),
                producer,
                fetch_size: w.fetch_bytes(),
                timeout: Duration::from_secs(10),
            };
            let report = corelog_perf::e2e::run(&config).map_err(|e| e.to_string())?;
            Ok((report.clone(), Some(report)))
        }
        (true, None) => {
            // No schedule at max rate, so no e2e mode: a consumer from the
            // log end beside the producers, until 2 s pass without records.
            let consume = ConsumeConfig {
                common: common(bootstrap, topic, &out.join("consume"), Display::Quiet),
                from: StartFrom::Latest,
                fetch_size: w.fetch_bytes(),
                timeout: Duration::from_secs(2),
                ..ConsumeConfig::default()
            };
            let consumer = std::thread::spawn(move || corelog_perf::consume::run(&consume).map_err(|e| e.to_string()));
            // Let it connect and find the log ends first.
            std::thread::sleep(Duration::from_millis(500));
            let config =
                ProduceConfig { common: common(bootstrap, topic, out, display), topic: w.topic_settings(), producer };
            let produced = corelog_perf::produce::run(&config).map_err(|e| e.to_string());
            let consumed = consumer.join().map_err(|_| "the consumer thread panicked".to_string())?;
            Ok((produced?, Some(consumed?)))
        }
    }
}

fn common(bootstrap: &[SocketAddr], topic: &str, out: &Path, display: Display) -> Common {
    Common {
        bootstrap: bootstrap.to_vec(),
        topic: topic.into(),
        reporting_interval: Duration::from_secs(5),
        output: Some(out.to_path_buf()),
        display,
    }
}

fn produce_phase(s: &Stream, rate: Option<f64>, m: Measured) -> ProducePhase {
    ProducePhase {
        throughput: s.throughput(),
        target_rate: rate,
        co_corrected: rate.is_some(),
        records_failed: s.failed,
        first_error: s.first_error.clone(),
        latency: LatencySummary::of(&s.hist),
        device: m.device,
        cpu: m.cpu,
        broker_side: m.broker_side,
    }
}

/// `p50 1.23  p95 …  p99 …  p99.9 …  p99.99 …  max …`
pub fn percentiles(l: &LatencySummary) -> String {
    format!(
        "p50 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  p99.99 {:.2}  max {:.2}",
        l.p50_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.p9999_ms, l.max_ms
    )
}

fn machine_line(device: Option<&DeviceIo>, cpu: Option<&CpuUse>) -> String {
    let device = device.map_or("device: n/a".into(), |d| {
        format!(
            "device: wrote {:.0} MB ({:.1} MB/s, {} writes, {} flushes), read {:.0} MB ({:.1} MB/s)",
            d.written_mb, d.write_mb_per_sec, d.writes, d.flushes, d.read_mb, d.read_mb_per_sec
        )
    });
    let cpu = cpu.map_or("cpu: n/a".into(), |c| {
        format!(
            "cpu (cores): broker {}, load tools {:.2}, machine busy {} (iowait {})",
            c.broker_cores.map_or("n/a".into(), |b| format!("{b:.2}")),
            c.tools_cores,
            c.machine_busy_cores.map_or("n/a".into(), |b| format!("{b:.2}")),
            c.machine_iowait_cores.map_or("n/a".into(), |b| format!("{b:.2}")),
        )
    });
    format!("{device}; {cpu}")
}

fn describe(w: &Workload) -> String {
    let rate = match w.producer_rate {
        Rate::Max => "max".to_string(),
        Rate::HalfMax => "half of max".to_string(),
        Rate::PerSec(r) => format!("{r} records/s"),
    };
    format!(
        "{} topic(s) x {} partitions, {} B records, {} producer(s) and {} consumer(s) per topic, rate {rate}, acks {}, \
         flush {}{}; warm-up {} s, measured {} s",
        w.topics,
        w.partitions_per_topic,
        w.message_size,
        w.producers,
        w.consumers,
        w.acks,
        w.flush_policy.config_value(),
        if w.consumer_backlog { ", then a catch-up read" } else { "" },
        w.warmup,
        w.duration
    )
}

fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    std::fs::write(path, data).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// File names in `dir` (and `perf/…` below it), plus `extra`, sorted.
fn list_files(dir: &Path, extra: &str) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut files = vec![extra.to_owned()];
    walk(dir, "", &mut files);
    files.sort();
    files.dedup();
    files
}

/// `dir`, or `dir-2`, `dir-3`, … if it exists; created.
fn unique_dir(dir: &Path) -> Result<PathBuf, String> {
    let mut candidate = dir.to_path_buf();
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = PathBuf::from(format!("{}-{n}", dir.display()));
    }
    std::fs::create_dir_all(&candidate).map_err(|e| format!("creating {}: {e}", candidate.display()))?;
    Ok(candidate)
}

fn free_bytes(dir: &Path) -> Option<u64> {
    let dir = if dir.exists() { dir } else { dir.parent()? };
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs writes only into the struct we hand it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// The commit checked out in the current directory, and whether the work
/// tree has uncommitted changes.
fn git_state() -> (Option<String>, Option<bool>) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty());
    let dirty =
        commit.as_ref().and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"])).map(|s| !s.is_empty());
    (commit, dirty)
}

/// (year, month, day, hour, minute, second) in UTC.
fn utc_fields(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}

/// `20261122T040743Z`: sorts by time, safe in file and topic names.
pub fn compact_utc(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_fields(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `2026-11-22T04:07:43Z`.
pub fn iso_utc(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
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
