//! The raw-device baseline: plain O_DIRECT sequential writes and reads
//! through `corelog_runtime::DmaFile` on a glommio executor, with no log, index or
//! network in the way. `engine-bench` compares the partition log against
//! [`raw_phase`]; `corelog-bench` states every broker throughput as a
//! fraction of [`baseline`] (the same volume written, then read back).

use std::cell::{Cell, RefCell};
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use corelog_runtime::{DmaFile, ExecutorConfig};
use corelog_storage::limits::SEGMENT_PREALLOCATE_STEP;

use crate::probes::{DiskProbe, DiskStats, ThreadUsage};

/// Latency summary of a phase, µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

/// Decimal MB/s (engine-bench's unit).
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

/// Log-like record values: repetitive structure with varying digits.
pub fn record_value(i: usize, len: usize) -> Vec<u8> {
    let line = format!("{{\"seq\":{i},\"user\":\"u{}\",\"event\":\"click\",\"ok\":true}} ", i * 7919 % 10007);
    line.bytes().cycle().take(len).collect()
}

/// Raw sequential O_DIRECT writes.
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

/// Raw sequential O_DIRECT reads.
#[derive(Debug, Clone)]
pub struct RawRead {
    pub disk: Option<DiskStats>,
    pub bytes: u64,
    pub reads: u64,
    pub elapsed: Duration,
    pub read_latency: Latency,
    pub usage: ThreadUsage,
}

/// The file [`raw_phase`] writes in its directory (and [`raw_read_phase`] reads).
pub const RAW_FILE: &str = "raw.data";

/// Plain O_DIRECT sequential writes of `write_bytes`, `in_flight`
/// outstanding, preallocating in `SEGMENT_PREALLOCATE_STEP` steps like the
/// log, one final fdatasync. Leaves `dir/raw.data` behind.
pub async fn raw_phase(dir: &Path, volume: u64, write_bytes: usize, in_flight: usize) -> io::Result<RawPhase> {
    std::fs::create_dir_all(dir)?;
    let file = Rc::new(DmaFile::open_rw(&dir.join(RAW_FILE), true).await?);
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
            corelog_runtime::spawn(async move {
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

/// Plain O_DIRECT sequential reads of the first `volume` bytes of
/// `dir/raw.data` (what [`raw_phase`] wrote; the file is longer by its
/// preallocation), in `read_bytes` pieces, `in_flight` outstanding.
pub async fn raw_read_phase(dir: &Path, volume: u64, read_bytes: usize, in_flight: usize) -> io::Result<RawRead> {
    let file = Rc::new(DmaFile::open_read(&dir.join(RAW_FILE)).await?);
    let size = file.size().await?.min(volume);
    let next = Rc::new(Cell::new(0u64));
    let hist = Rc::new(RefCell::new(new_histogram()));
    let disk = DiskProbe::start(dir);
    let usage = ThreadUsage::now();
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let (file, next, hist) = (file.clone(), next.clone(), hist.clone());
            corelog_runtime::spawn(async move {
                let (mut bytes, mut reads, mut checksum) = (0u64, 0u64, 0u8);
                loop {
                    let pos = next.get();
                    if pos >= size {
                        return Ok::<_, io::Error>((bytes, reads, checksum));
                    }
                    let len = (size - pos).min(read_bytes as u64) as usize;
                    next.set(pos + len as u64);
                    let t = Instant::now();
                    let buf = file.read_at(pos, len).await?;
                    record(&hist, t);
                    if buf.len() != len {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("short read {}", buf.len())));
                    }
                    // Touch the data, as a consumer would.
                    checksum ^= buf[0] ^ buf[len - 1];
                    bytes += len as u64;
                    reads += 1;
                }
            })
        })
        .collect();
    let (mut bytes, mut reads) = (0, 0);
    for t in tasks {
        let (b, r, _) = t.join().await?;
        bytes += b;
        reads += r;
    }
    let elapsed = started.elapsed();
    let usage = ThreadUsage::now().since(usage);
    let disk = disk.finish();
    if let Ok(file) = Rc::try_unwrap(file) {
        file.close().await?;
    }
    let read_latency = Latency::of(&hist.borrow());
    Ok(RawRead { disk, bytes, reads, elapsed, read_latency, usage })
}

/// What [`baseline`] measured.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub write: RawPhase,
    pub read: RawRead,
}

/// Writes `volume` bytes into `dir/raw.data` with [`raw_phase`], reads it
/// back with [`raw_read_phase`] (`io_bytes` per I/O, `in_flight` of them
/// outstanding) and removes the file, on a fresh unpinned executor (the
/// calling thread blocks). `dir` must be on the disk under test.
pub fn baseline(dir: &Path, volume: u64, io_bytes: usize, in_flight: usize) -> io::Result<Baseline> {
    std::fs::create_dir_all(dir)?;
    let dir = std::fs::canonicalize(dir)?;
    let config = ExecutorConfig {
        placement: corelog_runtime::CpuPlacement::Unpinned,
        name: "raw-baseline".into(),
        ..ExecutorConfig::default()
    };
    let phase_dir = dir.clone();
    let result = corelog_runtime::spawn_cores(1, &config, move |_| {
        let dir = phase_dir.clone();
        async move {
            let write = raw_phase(&dir, volume, io_bytes, in_flight).await?;
            // Let the device settle: the read must not race write-back.
            // SAFETY: sync(2) has no preconditions.
            unsafe { libc::sync() };
            let read = raw_read_phase(&dir, write.bytes, io_bytes, in_flight).await?;
            Ok::<_, io::Error>(Baseline { write, read })
        }
    })
    .and_then(|mut handles| handles.remove(0).join())
    .and_then(|r| r);
    let removed = std::fs::remove_file(dir.join(RAW_FILE));
    let _ = std::fs::remove_dir(&dir); // only if empty
                                       // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    let baseline = result?;
    match removed {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(baseline),
    }
}
