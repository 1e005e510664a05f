//! The measured phases: the ideal group commit, the fdatasync probe, and
//! appends through the partition log (the raw O_DIRECT writes are
//! `corelog_benches::raw::raw_phase`, shared with `corelog-bench`).

use std::cell::{Cell, RefCell};
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use corelog_benches::probes::*;
pub use corelog_benches::raw::{mb_per_s, new_histogram, raw_phase, record, record_value, Latency, RawPhase};
use corelog_format::limits::DEFAULT_MAX_BATCH_BYTES;
use corelog_format::{BatchBuilder, Compression};
use corelog_runtime::DmaFile;
use corelog_storage::disk::DmaStorage;
use corelog_storage::limits::SEGMENT_PREALLOCATE_STEP;
use corelog_storage::{LogConfig, LogStats, PartitionLog};

use super::{Args, POOL_BATCHES};

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

/// Removes a phase's files and makes the deletion (and any discard it
/// triggers) settle before the next phase starts timing.
pub fn remove_phase_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    Ok(())
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
                corelog_runtime::spawn(async move {
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
        write_behind: args.write_behind,
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
            corelog_runtime::spawn(async move {
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
