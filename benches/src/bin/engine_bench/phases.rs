//! The measured phases: raw O_DIRECT writes, the ideal group commit, the
//! fdatasync probe, and appends through the partition log.

use std::cell::{Cell, RefCell};
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hdrhistogram::Histogram;

use corelog_engine::batch::{BatchBuilder, Compression};
use corelog_engine::limits::{DEFAULT_MAX_BATCH_BYTES, SEGMENT_PREALLOCATE_STEP};
use corelog_engine::runtime::{self, DmaFile};
use corelog_engine::storage::DmaStorage;
use corelog_engine::{LogConfig, LogStats, PartitionLog};

use super::probes::*;
use super::{Args, POOL_BATCHES};

#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "p50": self.p50, "p99": self.p99, "p999": self.p999, "max": self.max, "mean": self.mean })
    }
}

#[derive(Debug, Clone)]
pub struct RawPhase {
    pub disk: Option<DiskStats>,
    pub bytes: u64,
    pub writes: u64,
    pub elapsed: Duration,
    pub final_sync: Duration,
    pub write_latency: Latency,
    pub usage: ThreadUsage,
}

#[derive(Debug, Clone)]
pub struct LogPhase {
    pub disk: Option<DiskStats>,
    /// Appends completed by each appender task (fairness).
    pub per_task: Vec<u64>,
    /// Executor time the benchmark itself spent cloning batches (inside the
    /// wall time, outside the append latencies).
    pub clone_time: Duration,
    pub bytes: u64,
    pub batches: u64,
    pub records: u64,
    pub batch_len: usize,
    pub records_per_batch: usize,
    pub elapsed: Duration,
    pub append_latency: Latency,
    pub stats: LogStats,
    pub segments: usize,
    pub usage: ThreadUsage,
}

#[derive(Debug, Clone)]
pub struct SyncProbe {
    pub extend: Latency,
    pub overwrite: Latency,
    pub idle: Latency,
}

#[derive(Debug, Clone)]
pub struct GroupSync {
    pub bytes: u64,
    pub rounds: u64,
    pub elapsed: Duration,
    pub round_latency: Latency,
    pub sync_latency: Latency,
}

/// A future that yields once: pending after waking itself, so every task
/// already queued on the executor runs first.
pub struct YieldNow(pub bool);

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

pub fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 100 s at 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

pub fn record(h: &RefCell<Histogram<u64>>, started: Instant) {
    let us = (started.elapsed().as_micros() as u64).max(1);
    h.borrow_mut().saturating_record(us);
}

/// Refuses tmpfs/ramfs: O_DIRECT either fails there or measures RAM.
pub fn remove_phase_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    Ok(())
}

/// Log-like record values: repetitive structure with varying digits.
pub fn record_value(i: usize, len: usize) -> Vec<u8> {
    let line = format!("{{\"seq\":{i},\"user\":\"u{}\",\"event\":\"click\",\"ok\":true}} ", i * 7919 % 10007);
    line.bytes().cycle().take(len).collect()
}

/// Builds `POOL_BATCHES` distinct batches of ~`batch_bytes` each (never over it).
pub fn build_pool(batch_bytes: usize, record_bytes: usize) -> io::Result<(Vec<BytesMut>, usize)> {
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
pub async fn raw_phase(dir: &Path, volume: u64, write_bytes: usize, in_flight: usize) -> io::Result<RawPhase> {
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
pub async fn group_sync_phase(dir: &Path, volume: u64, write_bytes: usize, in_flight: usize) -> io::Result<GroupSync> {
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
pub async fn log_phase(dir: &Path, volume: u64, args: &Args) -> io::Result<LogPhase> {
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
pub async fn sync_probe(dir: &Path, rounds: usize) -> io::Result<SyncProbe> {
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
