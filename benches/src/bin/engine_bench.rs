//! engine-bench: how close the partition log's durable append path gets to
//! the disk's own O_DIRECT sequential write bandwidth.
//!
//! One run, one pinned executor, two phases over the same volume:
//! 1. raw: plain O_DIRECT sequential writes of `--batch-bytes` through
//!    `runtime::DmaFile`, `--in-flight` of them outstanding, preallocating in
//!    `SEGMENT_PREALLOCATE_STEP` steps like the log, one final fdatasync;
//! 2. log: the same volume appended as prebuilt ~`--batch-bytes` batches
//!    through `PartitionLog` (default segment size, so it rolls), by
//!    `--in-flight` concurrent appender tasks, under `--policy`.
//!
//! Between them, unless `--no-probe`, a short probe times fdatasync after an
//! extending write, an overwrite and with nothing dirty; `--group-sync` adds
//! an ideal group-commit baseline (raw writes, one fdatasync per round of
//! `--in-flight`). Besides throughput and latency the report carries what
//! explains them: the log's stats, appends completed per appender task
//! (fairness), the executor thread's CPU time and page faults, the time the
//! benchmark itself spent cloning batches, and the block device's counters.
//!
//! The data directory must be on a real disk (O_DIRECT); it is emptied between
//! the phases and at the end.

use std::cell::{Cell, RefCell};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use clap::Parser;
use hdrhistogram::Histogram;

use corelog_engine::batch::{BatchBuilder, Compression};
use corelog_engine::limits::{
    BLOCK_SIZE, DEFAULT_MAX_BATCH_BYTES, DEFAULT_SEGMENT_BYTES, MAX_BATCH_BYTES_CEILING, SEGMENT_PREALLOCATE_STEP,
    WRITE_CHUNK_BYTES,
};
use corelog_engine::runtime::{self, DmaFile, ExecutorConfig};
use corelog_engine::storage::DmaStorage;
use corelog_engine::{FlushPolicy, LogConfig, LogStats, PartitionLog};

const GIB: f64 = (1u64 << 30) as f64;
/// Distinct prebuilt batches; appends cycle through clones of them.
const POOL_BATCHES: usize = 64;
const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

#[derive(Parser, Debug, Clone)]
#[command(name = "engine-bench", about = "Partition-log append throughput vs raw O_DIRECT writes")]
struct Args {
    /// Scratch directory; must be on a real disk (not tmpfs). Emptied afterwards.
    #[arg(long, default_value = "./engine-bench-data")]
    dir: PathBuf,
    /// Volume written by each phase, in GiB (fractions allowed).
    #[arg(long, default_value_t = 4.0)]
    gib: f64,
    /// Size of one raw write and (approximately) of one batch.
    #[arg(long, default_value_t = 1024 * 1024)]
    batch_bytes: usize,
    /// Value size of each record.
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Concurrent writes (raw) / appender tasks (log).
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// Flush policy of the log: `always` or `interval:<ms>`.
    #[arg(long, default_value = "always", value_parser = parse_policy)]
    policy: FlushPolicy,
    /// Also print a one-line JSON summary (last line of stdout).
    #[arg(long)]
    json: bool,
    /// Diagnostic: each appender yields to the other tasks after every
    /// append, as a broker connection task would while awaiting its next
    /// request. Off by default (appenders loop back-to-back).
    #[arg(long)]
    yield_between: bool,
    /// Skip the short fdatasync probe (extending vs overwriting writes).
    #[arg(long)]
    no_probe: bool,
    /// Also run an ideal group-commit baseline (rounds of --in-flight raw
    /// writes, one fdatasync per round) between the raw and log phases.
    #[arg(long)]
    group_sync: bool,
    /// Diagnostic: run the executor unpinned instead of on CPU 0.
    #[arg(long)]
    no_pin: bool,
}

fn parse_policy(s: &str) -> Result<FlushPolicy, String> {
    if s == "always" {
        return Ok(FlushPolicy::Always);
    }
    match s.strip_prefix("interval:").map(str::parse::<u64>) {
        Some(Ok(ms)) => Ok(FlushPolicy::Interval(Duration::from_millis(ms))),
        _ => Err(format!("expected `always` or `interval:<ms>`, got `{s}`")),
    }
}

fn policy_name(p: FlushPolicy) -> String {
    match p {
        FlushPolicy::Always => "always".into(),
        FlushPolicy::Interval(d) => format!("interval:{}", d.as_millis()),
    }
}

/// CPU time and page faults of the calling thread (the executor).
#[derive(Debug, Clone, Copy, Default)]
struct ThreadUsage {
    cpu: Duration,
    minor_faults: u64,
    major_faults: u64,
    vol_switches: u64,
}

impl ThreadUsage {
    fn now() -> ThreadUsage {
        // SAFETY: getrusage only writes the struct we hand it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        ThreadUsage {
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            minor_faults: ru.ru_minflt as u64,
            major_faults: ru.ru_majflt as u64,
            vol_switches: ru.ru_nvcsw as u64,
        }
    }

    fn since(self, start: ThreadUsage) -> ThreadUsage {
        ThreadUsage {
            cpu: self.cpu.saturating_sub(start.cpu),
            minor_faults: self.minor_faults - start.minor_faults,
            major_faults: self.major_faults - start.major_faults,
            vol_switches: self.vol_switches - start.vol_switches,
        }
    }
}

/// Block-device counters (`/sys/dev/block/M:m/stat`) of the disk under
/// `--dir`: what actually reached the device in a phase.
#[derive(Debug, Clone, Copy, Default)]
struct DiskStats {
    writes: u64,
    write_sectors: u64,
    flushes: u64,
    flush_ms: u64,
}

impl DiskStats {
    fn path_for(dir: &Path) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(dir).ok()?.dev();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let p = PathBuf::from(format!("/sys/dev/block/{major}:{minor}/stat"));
        p.exists().then_some(p)
    }

    fn read(path: Option<&Path>) -> Option<DiskStats> {
        let text = std::fs::read_to_string(path?).ok()?;
        let f: Vec<u64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        Some(DiskStats {
            writes: *f.get(4)?,
            write_sectors: *f.get(6)?,
            // Flush fields exist since Linux 5.5.
            flushes: f.get(15).copied().unwrap_or(0),
            flush_ms: f.get(16).copied().unwrap_or(0),
        })
    }

    fn since(self, start: DiskStats) -> DiskStats {
        DiskStats {
            writes: self.writes.saturating_sub(start.writes),
            write_sectors: self.write_sectors.saturating_sub(start.write_sectors),
            flushes: self.flushes.saturating_sub(start.flushes),
            flush_ms: self.flush_ms.saturating_sub(start.flush_ms),
        }
    }

    fn describe(&self) -> String {
        let bytes = self.write_sectors * 512;
        let avg_kib = if self.writes > 0 { bytes as f64 / self.writes as f64 / 1024.0 } else { 0.0 };
        format!(
            "device: {} writes ({:.0} KiB avg, {:.1} MiB)  {} cache flushes ({} ms)",
            self.writes,
            avg_kib,
            bytes as f64 / (1 << 20) as f64,
            self.flushes,
            self.flush_ms
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "writes": self.writes, "write_bytes": self.write_sectors * 512,
            "flushes": self.flushes, "flush_ms": self.flush_ms })
    }
}

/// Whole-device counters around a phase; None where sysfs is unavailable.
struct DiskProbe {
    path: Option<PathBuf>,
    start: Option<DiskStats>,
}

impl DiskProbe {
    fn start(dir: &Path) -> DiskProbe {
        let path = DiskStats::path_for(dir);
        let start = DiskStats::read(path.as_deref());
        DiskProbe { path, start }
    }

    fn finish(self) -> Option<DiskStats> {
        Some(DiskStats::read(self.path.as_deref())?.since(self.start?))
    }
}

#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: u64,
    p99: u64,
    p999: u64,
    max: u64,
    mean: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "p50": self.p50, "p99": self.p99, "p999": self.p999, "max": self.max, "mean": self.mean })
    }
}

#[derive(Debug, Clone)]
struct RawPhase {
    disk: Option<DiskStats>,
    bytes: u64,
    writes: u64,
    elapsed: Duration,
    final_sync: Duration,
    write_latency: Latency,
    usage: ThreadUsage,
}

#[derive(Debug, Clone)]
struct LogPhase {
    disk: Option<DiskStats>,
    /// Appends completed by each appender task (fairness).
    per_task: Vec<u64>,
    /// Executor time the benchmark itself spent cloning batches (inside the
    /// wall time, outside the append latencies).
    clone_time: Duration,
    bytes: u64,
    batches: u64,
    records: u64,
    batch_len: usize,
    records_per_batch: usize,
    elapsed: Duration,
    append_latency: Latency,
    stats: LogStats,
    segments: usize,
    usage: ThreadUsage,
}

#[derive(Debug, Clone)]
struct Report {
    load_before: String,
    load_after: String,
    raw: RawPhase,
    probe: Option<SyncProbe>,
    group: Option<GroupSync>,
    log: LogPhase,
}

/// fdatasync latency after a 1 MiB O_DIRECT write that extends the file into
/// preallocated (unwritten, KEEP_SIZE) space, as every log append does,
/// versus after overwriting already-written blocks, versus with nothing dirty.
#[derive(Debug, Clone)]
struct SyncProbe {
    extend: Latency,
    overwrite: Latency,
    idle: Latency,
}

#[derive(Debug, Clone)]
struct GroupSync {
    bytes: u64,
    rounds: u64,
    elapsed: Duration,
    round_latency: Latency,
    sync_latency: Latency,
}

/// A future that yields once: pending after waking itself, so every task
/// already queued on the executor runs first.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 100 s at 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

fn record(h: &RefCell<Histogram<u64>>, started: Instant) {
    let us = (started.elapsed().as_micros() as u64).max(1);
    h.borrow_mut().saturating_record(us);
}

/// Refuses tmpfs/ramfs: O_DIRECT either fails there or measures RAM.
fn check_real_disk(dir: &Path) -> io::Result<()> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: statfs writes only into the struct we hand it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let magic = st.f_type as i64;
    if magic == TMPFS_MAGIC || magic == RAMFS_MAGIC {
        return Err(io::Error::other(format!(
            "{} is on tmpfs/ramfs; --dir must be on a real disk for O_DIRECT",
            dir.display()
        )));
    }
    Ok(())
}

/// Removes a phase's files and makes the deletion (and any discard it
/// triggers) settle before the next phase starts timing.
fn remove_phase_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    Ok(())
}

/// Log-like record values: repetitive structure with varying digits.
fn record_value(i: usize, len: usize) -> Vec<u8> {
    let line = format!("{{\"seq\":{i},\"user\":\"u{}\",\"event\":\"click\",\"ok\":true}} ", i * 7919 % 10007);
    line.bytes().cycle().take(len).collect()
}

/// Builds `POOL_BATCHES` distinct batches of ~`batch_bytes` each (never over it).
fn build_pool(batch_bytes: usize, record_bytes: usize) -> io::Result<(Vec<BytesMut>, usize)> {
    let mut pool = Vec::with_capacity(POOL_BATCHES);
    let mut per_batch = 0;
    let ts0 = 1_700_000_000_000i64;
    for b in 0..POOL_BATCHES {
        let mut builder = BatchBuilder::new(Compression::None);
        let mut i = 0;
        while builder.is_empty() || builder.estimated_size() + record_bytes + 128 <= batch_bytes {
            let n = b * 100_000 + i;
            builder.push(Some(&(n as u64).to_le_bytes()), &record_value(n, record_bytes), ts0 + n as i64, &[]);
            i += 1;
        }
        per_batch = builder.len();
        let batch = builder.build().map_err(io::Error::other)?;
        pool.push(batch);
    }
    Ok((pool, per_batch))
}

/// Phase a: raw O_DIRECT sequential writes, `in_flight` outstanding.
async fn raw_phase(dir: &Path, volume: u64, write_bytes: usize, in_flight: usize) -> io::Result<RawPhase> {
    std::fs::create_dir_all(dir)?;
    let file = Rc::new(DmaFile::open_rw(&dir.join("raw.data"), true).await?);
    let writes = volume.div_ceil(write_bytes as u64);
    let total = writes * write_bytes as u64;
    // Non-zero payload so no layer below can short-cut zero writes.
    let payload: Rc<Vec<u8>> = Rc::new(record_value(7, write_bytes));
    // Like a new active segment: one step reserved at creation.
    file.preallocate(SEGMENT_PREALLOCATE_STEP).await?;
    let preallocated = Rc::new(Cell::new(SEGMENT_PREALLOCATE_STEP));
    let next = Rc::new(Cell::new(0u64));
    let hist = Rc::new(RefCell::new(new_histogram()));

    let disk = DiskProbe::start(dir);
    let usage = ThreadUsage::now();
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let (file, payload, preallocated, next, hist) =
                (file.clone(), payload.clone(), preallocated.clone(), next.clone(), hist.clone());
            runtime::spawn(async move {
                loop {
                    let pos = next.get();
                    if pos >= total {
                        return Ok::<(), io::Error>(());
                    }
                    next.set(pos + write_bytes as u64);
                    let end = pos + write_bytes as u64;
                    if end > preallocated.get() {
                        // Same rule as ActiveSegment::plan_flush.
                        let to = (end / SEGMENT_PREALLOCATE_STEP + 1) * SEGMENT_PREALLOCATE_STEP;
                        preallocated.set(to);
                        file.preallocate(to).await?;
                    }
                    let mut buf = file.alloc_buffer(write_bytes);
                    buf.as_mut_slice().copy_from_slice(&payload);
                    let t = Instant::now();
                    let n = file.write_at(buf, pos).await?;
                    if n != write_bytes {
                        return Err(io::Error::new(io::ErrorKind::WriteZero, format!("short write {n}")));
                    }
                    record(&hist, t);
                }
            })
        })
        .collect();
    for t in tasks {
        t.join().await?;
    }
    let sync_started = Instant::now();
    file.fdatasync().await?;
    let final_sync = sync_started.elapsed();
    let elapsed = started.elapsed();
    let usage = ThreadUsage::now().since(usage);
    let disk = disk.finish();
    if let Ok(file) = Rc::try_unwrap(file) {
        file.close().await?;
    }
    let write_latency = Latency::of(&hist.borrow());
    Ok(RawPhase { disk, bytes: total, writes, elapsed, final_sync, write_latency, usage })
}

/// Optional baseline: an ideal group commit with no log at all. Rounds of
/// `in_flight` concurrent writes, each round followed by one fdatasync: what
/// `--in-flight` closed-loop appenders under `FlushPolicy::Always` could get
/// if every flush covered every appender's batch.
async fn group_sync_phase(dir: &Path, volume: u64, write_bytes: usize, in_flight: usize) -> io::Result<GroupSync> {
    std::fs::create_dir_all(dir)?;
    let file = Rc::new(DmaFile::open_rw(&dir.join("group.data"), true).await?);
    let round_bytes = (write_bytes * in_flight) as u64;
    let rounds = volume.div_ceil(round_bytes);
    let payload: Rc<Vec<u8>> = Rc::new(record_value(11, write_bytes));
    file.preallocate(SEGMENT_PREALLOCATE_STEP).await?;
    let mut preallocated = SEGMENT_PREALLOCATE_STEP;
    let mut hist = new_histogram();
    let mut sync_hist = new_histogram();
    let started = Instant::now();
    for round in 0..rounds {
        let t = Instant::now();
        let base = round * round_bytes;
        if base + round_bytes > preallocated {
            preallocated = ((base + round_bytes) / SEGMENT_PREALLOCATE_STEP + 1) * SEGMENT_PREALLOCATE_STEP;
            file.preallocate(preallocated).await?;
        }
        let writes: Vec<_> = (0..in_flight)
            .map(|k| {
                let (file, payload) = (file.clone(), payload.clone());
                runtime::spawn(async move {
                    let mut buf = file.alloc_buffer(write_bytes);
                    buf.as_mut_slice().copy_from_slice(&payload);
                    file.write_at(buf, base + (k * write_bytes) as u64).await
                })
            })
            .collect();
        for w in writes {
            w.join().await?;
        }
        let s = Instant::now();
        file.fdatasync().await?;
        sync_hist.saturating_record((s.elapsed().as_micros() as u64).max(1));
        hist.saturating_record((t.elapsed().as_micros() as u64).max(1));
    }
    let elapsed = started.elapsed();
    if let Ok(file) = Rc::try_unwrap(file) {
        file.close().await?;
    }
    Ok(GroupSync {
        bytes: rounds * round_bytes,
        rounds,
        elapsed,
        round_latency: Latency::of(&hist),
        sync_latency: Latency::of(&sync_hist),
    })
}

/// Phase b: the same volume through the partition log.
async fn log_phase(dir: &Path, volume: u64, args: &Args) -> io::Result<LogPhase> {
    let (pool, records_per_batch) = build_pool(args.batch_bytes, args.record_bytes)?;
    let batch_len = pool[0].len();
    let batches = volume.div_ceil(batch_len as u64);
    let config = LogConfig {
        flush: args.policy,
        max_batch_bytes: DEFAULT_MAX_BATCH_BYTES.max(batch_len),
        ..LogConfig::default()
    };
    let log = Rc::new(PartitionLog::open(DmaStorage, dir, config).await.map_err(io::Error::other)?);
    // Every batch is a fresh buffer made before the clock starts, as a
    // producer's batch arrives in its own request buffer: copying it is not
    // the log's work.
    let t = Instant::now();
    let fresh: Vec<RefCell<Option<BytesMut>>> =
        (0..batches).map(|i| RefCell::new(Some(pool[i as usize % pool.len()].clone()))).collect();
    let prepare_time = t.elapsed();
    let pool = Rc::new(fresh);
    let next = Rc::new(Cell::new(0u64));
    let hist = Rc::new(RefCell::new(new_histogram()));
    let clone_time = Rc::new(Cell::new(Duration::ZERO));

    let yield_between = args.yield_between;
    let disk = DiskProbe::start(dir);
    let usage = ThreadUsage::now();
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.in_flight)
        .map(|_| {
            let (log, pool, next, hist, clone_time) =
                (log.clone(), pool.clone(), next.clone(), hist.clone(), clone_time.clone());
            runtime::spawn(async move {
                let mut done = 0u64;
                loop {
                    let i = next.get();
                    if i >= batches {
                        return Ok::<u64, io::Error>(done);
                    }
                    next.set(i + 1);
                    let t = Instant::now();
                    let batch = pool[i as usize].borrow_mut().take().expect("each batch is appended once");
                    clone_time.set(clone_time.get() + t.elapsed());
                    let t = Instant::now();
                    log.append(batch).await.map_err(io::Error::other)?;
                    record(&hist, t);
                    done += 1;
                    if yield_between {
                        YieldNow(false).await;
                    }
                }
            })
        })
        .collect();
    let mut per_task = Vec::with_capacity(tasks.len());
    for t in tasks {
        per_task.push(t.join().await?);
    }
    let _ = prepare_time;
    // Interval policy: appends returned once written; make it all durable.
    log.flush().await.map_err(io::Error::other)?;
    let elapsed = started.elapsed();
    let usage = ThreadUsage::now().since(usage);
    let disk = disk.finish();
    let stats = log.stats();
    let segments = log.segment_count();
    let bytes: u64 = stats.appended_bytes;
    drop(log);
    let append_latency = Latency::of(&hist.borrow());
    Ok(LogPhase {
        disk,
        per_task,
        clone_time: clone_time.get(),
        bytes,
        batches,
        records: batches * records_per_batch as u64,
        batch_len,
        records_per_batch,
        elapsed,
        append_latency,
        stats,
        segments,
        usage,
    })
}

/// Measures fdatasync after extending writes, overwrites, and idle.
async fn sync_probe(dir: &Path, rounds: usize) -> io::Result<SyncProbe> {
    const MIB: usize = 1 << 20;
    std::fs::create_dir_all(dir)?;
    let file = DmaFile::open_rw(&dir.join("probe.data"), true).await?;
    file.preallocate(SEGMENT_PREALLOCATE_STEP).await?;
    let payload = record_value(3, MIB);
    let (mut extend, mut overwrite, mut idle) = (new_histogram(), new_histogram(), new_histogram());
    for pass in 0..2 {
        for i in 0..rounds {
            let mut buf = file.alloc_buffer(MIB);
            buf.as_mut_slice().copy_from_slice(&payload);
            file.write_at(buf, (i * MIB) as u64).await?;
            let t = Instant::now();
            file.fdatasync().await?;
            let us = (t.elapsed().as_micros() as u64).max(1);
            if pass == 0 { &mut extend } else { &mut overwrite }.saturating_record(us);
            let t = Instant::now();
            file.fdatasync().await?;
            idle.saturating_record((t.elapsed().as_micros() as u64).max(1));
        }
    }
    file.close().await?;
    Ok(SyncProbe { extend: Latency::of(&extend), overwrite: Latency::of(&overwrite), idle: Latency::of(&idle) })
}

async fn run(args: Args) -> io::Result<Report> {
    let load_before = loadavg();
    let volume = (args.gib * GIB) as u64;
    let raw_dir = args.dir.join("raw");
    let log_dir = args.dir.join("log");
    remove_phase_dir(&raw_dir)?;
    remove_phase_dir(&log_dir)?;

    eprintln!("engine-bench: raw phase ({:.2} GiB)...", args.gib);
    let raw = raw_phase(&raw_dir, volume, args.batch_bytes, args.in_flight).await;
    remove_phase_dir(&raw_dir)?;
    let raw = raw?;

    let probe = if args.no_probe {
        None
    } else {
        eprintln!("engine-bench: fdatasync probe...");
        let probe = sync_probe(&raw_dir, 32).await;
        remove_phase_dir(&raw_dir)?;
        Some(probe?)
    };

    let group = if args.group_sync {
        eprintln!("engine-bench: group-commit baseline...");
        let group = group_sync_phase(&raw_dir, volume, args.batch_bytes, args.in_flight).await;
        remove_phase_dir(&raw_dir)?;
        Some(group?)
    } else {
        None
    };

    eprintln!("engine-bench: log phase ({:.2} GiB)...", args.gib);
    let log = log_phase(&log_dir, volume, &args).await;
    remove_phase_dir(&log_dir)?;
    let log = log?;
    Ok(Report { load_before, load_after: loadavg(), raw, probe, group, log })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn print_report(args: &Args, r: &Report) {
    let raw_mbs = mb_per_s(r.raw.bytes, r.raw.elapsed);
    let log_mbs = mb_per_s(r.log.bytes, r.log.elapsed);
    let s = &r.log.stats;
    let mean_fsync = if s.fsyncs > 0 { s.fsync_micros_total as f64 / s.fsyncs as f64 } else { 0.0 };
    let (rl, al) = (&r.raw.write_latency, &r.log.append_latency);
    println!(
        "engine-bench  dir={}  volume={:.2} GiB  in-flight={}  policy={}",
        args.dir.display(),
        args.gib,
        args.in_flight,
        policy_name(args.policy)
    );
    println!(
        "  constants: WRITE_CHUNK_BYTES={} KiB  SEGMENT_PREALLOCATE_STEP={} MiB  segment={} MiB  block={}",
        WRITE_CHUNK_BYTES / 1024,
        SEGMENT_PREALLOCATE_STEP >> 20,
        DEFAULT_SEGMENT_BYTES >> 20,
        BLOCK_SIZE
    );
    println!("  loadavg before {}  after {}  (2 CPUs; other builds share them)", r.load_before, r.load_after);
    println!();
    println!(
        "raw O_DIRECT ({} x {} KiB writes, {} in flight, final fdatasync)",
        r.raw.writes,
        args.batch_bytes / 1024,
        args.in_flight
    );
    println!(
        "  {:>9.1} MB/s   {:.3} s  (final fdatasync {} µs)",
        raw_mbs,
        r.raw.elapsed.as_secs_f64(),
        r.raw.final_sync.as_micros()
    );
    println!("  write latency µs   p50 {}  p99 {}  p99.9 {}  max {}", rl.p50, rl.p99, rl.p999, rl.max);
    println!(
        "  executor thread: cpu {:.3} s ({:.0}% of wall)  minor faults {}  major {}",
        r.raw.usage.cpu.as_secs_f64(),
        100.0 * r.raw.usage.cpu.as_secs_f64() / r.raw.elapsed.as_secs_f64(),
        r.raw.usage.minor_faults,
        r.raw.usage.major_faults
    );
    if let Some(d) = &r.raw.disk {
        println!("  {}", d.describe());
    }
    if let Some(p) = &r.probe {
        println!();
        println!("fdatasync probe (32 x 1 MiB write + fdatasync, µs)");
        for (name, l) in [("extending write", &p.extend), ("overwrite", &p.overwrite), ("nothing dirty", &p.idle)] {
            println!("  after {name:<16} p50 {:>6}  p99 {:>6}  max {:>6}", l.p50, l.p99, l.max);
        }
    }
    if let Some(g) = &r.group {
        let mbs = mb_per_s(g.bytes, g.elapsed);
        println!();
        println!(
            "ideal group commit ({} rounds of {} x {} KiB writes + 1 fdatasync)",
            g.rounds,
            args.in_flight,
            args.batch_bytes / 1024
        );
        println!("  {:>9.1} MB/s   {:.3} s   ({:.1}% of raw)", mbs, g.elapsed.as_secs_f64(), 100.0 * mbs / raw_mbs);
        let (rl, sl) = (&g.round_latency, &g.sync_latency);
        println!(
            "  round latency µs   p50 {}  p99 {}  max {}   fdatasync µs p50 {}  p99 {}  max {}",
            rl.p50, rl.p99, rl.max, sl.p50, sl.p99, sl.max
        );
    }
    println!();
    println!(
        "partition log ({} batches x {} B = {} records of {} B, {} appenders)",
        r.log.batches, r.log.batch_len, r.log.records_per_batch, args.record_bytes, args.in_flight
    );
    println!(
        "  {:>9.1} MB/s   {:.0} records/s   {:.3} s",
        log_mbs,
        r.log.records as f64 / r.log.elapsed.as_secs_f64(),
        r.log.elapsed.as_secs_f64()
    );
    println!("  log / raw: {:.1}%", 100.0 * log_mbs / raw_mbs);
    println!(
        "  append latency µs  p50 {}  p99 {}  p99.9 {}  max {}  (mean {:.0})",
        al.p50, al.p99, al.p999, al.max, al.mean
    );
    println!(
        "  fsyncs {}  mean fsync {:.0} µs  ({:.2} batches/fsync)  segments rolled {}  segments {}",
        s.fsyncs,
        mean_fsync,
        if s.fsyncs > 0 { s.appended_batches as f64 / s.fsyncs as f64 } else { 0.0 },
        s.segments_rolled,
        r.log.segments
    );
    println!(
        "  executor thread: cpu {:.3} s ({:.0}% of wall)  minor faults {} ({:.1}/MiB)  major {}",
        r.log.usage.cpu.as_secs_f64(),
        100.0 * r.log.usage.cpu.as_secs_f64() / r.log.elapsed.as_secs_f64(),
        r.log.usage.minor_faults,
        r.log.usage.minor_faults as f64 / (r.log.bytes as f64 / (1 << 20) as f64),
        r.log.usage.major_faults
    );
    println!("  appends per appender task: {:?}", r.log.per_task);
    println!(
        "  bench overhead: cloning batches took {:.3} s ({:.1}% of the phase, {:.0} µs/batch)",
        r.log.clone_time.as_secs_f64(),
        100.0 * r.log.clone_time.as_secs_f64() / r.log.elapsed.as_secs_f64(),
        r.log.clone_time.as_secs_f64() * 1e6 / r.log.batches as f64
    );
    if let Some(d) = &r.log.disk {
        println!("  {}", d.describe());
    }
    if args.yield_between {
        println!("  (diagnostic --yield-between: appenders yield after every append)");
    }
}

fn json_summary(args: &Args, r: &Report) -> serde_json::Value {
    let raw_mbs = mb_per_s(r.raw.bytes, r.raw.elapsed);
    let log_mbs = mb_per_s(r.log.bytes, r.log.elapsed);
    let s = &r.log.stats;
    serde_json::json!({
        "gib": args.gib,
        "batch_bytes": args.batch_bytes,
        "record_bytes": args.record_bytes,
        "in_flight": args.in_flight,
        "policy": policy_name(args.policy),
        "write_chunk_bytes": WRITE_CHUNK_BYTES,
        "raw": {
            "bytes": r.raw.bytes,
            "secs": r.raw.elapsed.as_secs_f64(),
            "mb_per_s": raw_mbs,
            "write_latency_us": r.raw.write_latency.json(),
            "cpu_secs": r.raw.usage.cpu.as_secs_f64(),
            "minor_faults": r.raw.usage.minor_faults,
            "disk": r.raw.disk.map(|d| d.json()),
        },
        "fsync_probe_us": r.probe.as_ref().map(|p| serde_json::json!({
            "extend": p.extend.json(), "overwrite": p.overwrite.json(), "idle": p.idle.json(),
        })),
        "log": {
            "bytes": r.log.bytes,
            "batches": r.log.batches,
            "records": r.log.records,
            "secs": r.log.elapsed.as_secs_f64(),
            "mb_per_s": log_mbs,
            "records_per_s": r.log.records as f64 / r.log.elapsed.as_secs_f64(),
            "append_latency_us": r.log.append_latency.json(),
            "fsyncs": s.fsyncs,
            "mean_fsync_us": if s.fsyncs > 0 { s.fsync_micros_total as f64 / s.fsyncs as f64 } else { 0.0 },
            "segments_rolled": s.segments_rolled,
            "cpu_secs": r.log.usage.cpu.as_secs_f64(),
            "minor_faults": r.log.usage.minor_faults,
            "voluntary_switches": r.log.usage.vol_switches,
            "disk": r.log.disk.map(|d| d.json()),
            "appends_per_task": r.log.per_task,
            "clone_secs": r.log.clone_time.as_secs_f64(),
        },
        "yield_between": args.yield_between,
        "loadavg_before": r.load_before,
        "loadavg_after": r.load_after,
        "group_sync": r.group.as_ref().map(|g| serde_json::json!({
            "bytes": g.bytes, "secs": g.elapsed.as_secs_f64(), "mb_per_s": mb_per_s(g.bytes, g.elapsed),
            "round_latency_us": g.round_latency.json(), "fdatasync_us": g.sync_latency.json(),
        })),
        "log_over_raw_pct": 100.0 * log_mbs / raw_mbs,
    })
}

fn main() {
    let mut args = Args::parse();
    if let Err(e) = validate_args(&args) {
        eprintln!("engine-bench: {e}");
        std::process::exit(2);
    }
    // glommio 0.9 opens directories (runtime::sync_dir) with openat(-1, ..),
    // which fails with EBADF for a relative path: hand the log an absolute one.
    match std::fs::canonicalize(&args.dir) {
        Ok(abs) => args.dir = abs,
        Err(e) => {
            eprintln!("engine-bench: {}: {e}", args.dir.display());
            std::process::exit(2);
        }
    }
    let config = ExecutorConfig { pin: !args.no_pin, name: "engine-bench".into(), ..ExecutorConfig::default() };
    let main_args = args.clone();
    let result = runtime::spawn_cores(1, &config, move |_core| run(main_args.clone()))
        .and_then(|mut handles| handles.remove(0).join())
        .and_then(|r| r);
    let cleanup = std::fs::remove_dir(&args.dir); // only if we left it empty
    drop(cleanup);
    match result {
        Ok(report) => {
            print_report(&args, &report);
            if args.json {
                println!("{}", json_summary(&args, &report));
            }
        }
        Err(e) => {
            eprintln!("engine-bench: {e}");
            std::process::exit(1);
        }
    }
}

fn validate_args(args: &Args) -> io::Result<()> {
    let bad = |m: String| Err(io::Error::new(io::ErrorKind::InvalidInput, m));
    if !(args.gib.is_finite() && args.gib > 0.0) {
        return bad(format!("--gib must be > 0, got {}", args.gib));
    }
    if args.batch_bytes == 0
        || !args.batch_bytes.is_multiple_of(BLOCK_SIZE)
        || args.batch_bytes > MAX_BATCH_BYTES_CEILING
    {
        return bad(format!("--batch-bytes must be a multiple of {BLOCK_SIZE} and at most {MAX_BATCH_BYTES_CEILING}"));
    }
    if args.record_bytes == 0 || args.record_bytes + 256 > args.batch_bytes {
        return bad("--record-bytes must be > 0 and fit a batch".into());
    }
    if args.in_flight == 0 {
        return bad("--in-flight must be at least 1".into());
    }
    std::fs::create_dir_all(&args.dir)?;
    check_real_disk(&args.dir)
}
