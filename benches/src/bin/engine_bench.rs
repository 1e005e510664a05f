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
    bytes: u64,
    writes: u64,
    elapsed: Duration,
    final_sync: Duration,
    write_latency: Latency,
    usage: ThreadUsage,
}

#[derive(Debug, Clone)]
struct LogPhase {
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
    raw: RawPhase,
    log: LogPhase,
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
    if let Ok(file) = Rc::try_unwrap(file) {
        file.close().await?;
    }
    let write_latency = Latency::of(&hist.borrow());
    Ok(RawPhase { bytes: total, writes, elapsed, final_sync, write_latency, usage })
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
    let pool = Rc::new(pool);
    let next = Rc::new(Cell::new(0u64));
    let hist = Rc::new(RefCell::new(new_histogram()));

    let usage = ThreadUsage::now();
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.in_flight)
        .map(|_| {
            let (log, pool, next, hist) = (log.clone(), pool.clone(), next.clone(), hist.clone());
            runtime::spawn(async move {
                loop {
                    let i = next.get();
                    if i >= batches {
                        return Ok::<(), io::Error>(());
                    }
                    next.set(i + 1);
                    let batch = pool[i as usize % pool.len()].clone();
                    let t = Instant::now();
                    log.append(batch).await.map_err(io::Error::other)?;
                    record(&hist, t);
                }
            })
        })
        .collect();
    for t in tasks {
        t.join().await?;
    }
    // Interval policy: appends returned once written; make it all durable.
    log.flush().await.map_err(io::Error::other)?;
    let elapsed = started.elapsed();
    let usage = ThreadUsage::now().since(usage);
    let stats = log.stats();
    let segments = log.segment_count();
    let bytes: u64 = stats.appended_bytes;
    drop(log);
    let append_latency = Latency::of(&hist.borrow());
    Ok(LogPhase {
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

async fn run(args: Args) -> io::Result<Report> {
    let volume = (args.gib * GIB) as u64;
    let raw_dir = args.dir.join("raw");
    let log_dir = args.dir.join("log");
    remove_phase_dir(&raw_dir)?;
    remove_phase_dir(&log_dir)?;

    eprintln!("engine-bench: raw phase ({:.2} GiB)...", args.gib);
    let raw = raw_phase(&raw_dir, volume, args.batch_bytes, args.in_flight).await;
    remove_phase_dir(&raw_dir)?;
    let raw = raw?;

    eprintln!("engine-bench: log phase ({:.2} GiB)...", args.gib);
    let log = log_phase(&log_dir, volume, &args).await;
    remove_phase_dir(&log_dir)?;
    let log = log?;
    Ok(Report { raw, log })
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
        },
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
        },
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
    let config = ExecutorConfig { pin: true, name: "engine-bench".into(), ..ExecutorConfig::default() };
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
    if args.batch_bytes == 0 || args.batch_bytes % BLOCK_SIZE != 0 || args.batch_bytes > MAX_BATCH_BYTES_CEILING {
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
