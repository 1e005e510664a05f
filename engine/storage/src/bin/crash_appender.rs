//! Test driver for the crash test (`engine/storage/tests/crash.rs`); not a tool for
//! operators.
//!
//! `crash_appender <dir> <seed> [retain]` opens (and so recovers) a partition
//! log in `<dir>` with small segments and `FlushPolicy::Always`, prints
//! `OPEN <log end offset>`, then appends forever from several concurrent
//! tasks (so group commit is exercised) and prints, for every acknowledged
//! append, `ACK <base_offset> <last_offset> <content-id>`, flushing stdout
//! after each line. With `retain`, the log keeps [`RETAINED_SEGMENTS`]
//! segments and a task runs retention after every roll, as the broker does,
//! so segment files are recycled and written into again; it prints
//! `REUSED <count>` whenever the count of segments written into a recycled
//! file grows. The test kills it with SIGKILL at a random moment.
//!
//! Every batch's content is a pure function of its content-id (see
//! [`content`]), so a checker can recompute each record byte for byte; every
//! record's key starts with the content-id, so even a batch that reached the
//! disk without being acknowledged can be recognised and checked.
//!
//! The test includes this file as a module (`#[path]`) to share [`content`].

use std::cell::Cell;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::BytesMut;
use corelog_format::{BatchBuilder, Compression};
use corelog_runtime::{run_local, spawn};
use corelog_storage::disk::DmaStorage;
use corelog_storage::{FlushPolicy, LogConfig, PartitionLog};

/// Small, so segments roll many times during a run of a few hundred ms.
pub const SEGMENT_BYTES: u64 = 256 * 1024;
/// Staging chunk size for the crash runs (the default is 1 MiB).
pub const WRITE_CHUNK_BYTES_UNDER_TEST: usize = 16 * 1024;
/// Concurrent appenders (they share fdatasyncs: group commit).
pub const TASKS: usize = 4;
pub const MAX_RECORDS: u64 = 50;
pub const MAX_VALUE_BYTES: u64 = 2000;

/// Segments' worth of bytes a `retain` run keeps.
pub const RETAINED_SEGMENTS: u64 = 3;

/// The log config of a run, with retention or without.
pub fn config_for(retain: bool) -> LogConfig {
    LogConfig { retention_bytes: retain.then_some(RETAINED_SEGMENTS * SEGMENT_BYTES), ..config() }
}

/// The log config the appender and the checker both open the log with.
pub fn config() -> LogConfig {
    // Small staging chunks so chunks fill and are written early (while other
    // appenders' fdatasyncs run), as 1 MiB batches do with the default size.
    LogConfig {
        segment_bytes: SEGMENT_BYTES,
        flush: FlushPolicy::Always,
        write_chunk_bytes: WRITE_CHUNK_BYTES_UNDER_TEST,
        ..LogConfig::default()
    }
}

/// The content-id of batch number `n` of a run with `seed`.
pub fn content_id(seed: u32, n: u32) -> u64 {
    (u64::from(seed) << 32) | u64::from(n)
}

/// One record of a batch's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRecord {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub timestamp: i64,
}

/// splitmix64: tiny, stable across crate versions (the content must never
/// change under the checker's feet).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `1..=max`.
    fn one_to(&mut self, max: u64) -> u64 {
        1 + self.next() % max
    }
}

/// The key prefix every record of batch `id` carries.
pub fn key_prefix(id: u64) -> String {
    format!("{id:016x}:")
}

/// The content-id a record key names, if it is one of ours.
pub fn id_from_key(key: &[u8]) -> Option<u64> {
    let hex = key.get(..16)?;
    if key.get(16) != Some(&b':') {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// The records of batch `id`: 1..=50 records, values of 1..=2000 bytes.
pub fn content(id: u64) -> Vec<ContentRecord> {
    let mut rng = SplitMix(id ^ 0x243F_6A88_85A3_08D3);
    let records = rng.one_to(MAX_RECORDS);
    let base_ts = 1_600_000_000_000 + (id & 0xFFFF_FFFF) as i64 * 10;
    (0..records)
        .map(|i| {
            let len = rng.one_to(MAX_VALUE_BYTES) as usize;
            let mut value = Vec::with_capacity(len + 8);
            while value.len() < len {
                value.extend_from_slice(&rng.next().to_le_bytes());
            }
            value.truncate(len);
            let key = format!("{}{i}", key_prefix(id)).into_bytes();
            ContentRecord { key, value, timestamp: base_ts + (rng.next() % 20) as i64 }
        })
        .collect()
}

/// Batch `id` encoded, ready to append.
pub fn build(id: u64) -> BytesMut {
    let mut b = BatchBuilder::new(Compression::None);
    for r in content(id) {
        b.push(Some(&r.key), &r.value, r.timestamp, &[]);
    }
    b.build().expect("crash test batches build")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let retain = match args.get(3).map(String::as_str) {
        None => false,
        Some("retain") => true,
        Some(_) => usage(&args),
    };
    if !(3..=4).contains(&args.len()) {
        usage(&args);
    }
    let dir = PathBuf::from(&args[1]);
    let seed: u32 = args[2].parse().unwrap_or_else(|e| {
        eprintln!("bad seed {:?}: {e}", args[2]);
        std::process::exit(2);
    });
    run_local(async move {
        let log = match PartitionLog::open(DmaStorage, &dir, config_for(retain)).await {
            Ok(log) => Rc::new(log),
            Err(e) => {
                eprintln!("crash_appender: open {}: {e}", dir.display());
                std::process::exit(1);
            }
        };
        emit(&format!("OPEN {}", log.log_end_offset()));
        if retain {
            let log = log.clone();
            corelog_runtime::spawn_detached(async move {
                let mut reported = 0;
                loop {
                    if log.retention_due() {
                        if let Err(e) = log.enforce_retention().await {
                            eprintln!("crash_appender: retention failed: {e}");
                            std::process::exit(1);
                        }
                    }
                    let reused = log.stats().segments_reused;
                    if reused > reported {
                        reported = reused;
                        emit(&format!("REUSED {reused}"));
                    }
                    corelog_runtime::sleep(std::time::Duration::from_millis(1)).await;
                }
            });
        }
        let next = Rc::new(Cell::new(0u32));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (log, next) = (log.clone(), next.clone());
                spawn(async move {
                    loop {
                        let n = next.get();
                        next.set(n + 1);
                        let id = content_id(seed, n);
                        match log.append(build(id)).await {
                            Ok(info) => emit(&format!("ACK {} {} {id}", info.base_offset, info.last_offset)),
                            Err(e) => {
                                eprintln!("crash_appender: append of batch {n} failed: {e}");
                                std::process::exit(1);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.join().await;
        }
    });
}

fn usage(args: &[String]) -> ! {
    eprintln!("usage: {} <dir> <seed> [retain]", args.first().map_or("crash_appender", |a| a.as_str()));
    std::process::exit(2);
}

/// One line on stdout, flushed: once printed, the test may rely on it.
fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(1);
    }
}
