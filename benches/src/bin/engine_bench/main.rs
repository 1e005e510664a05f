//! engine-bench: how close the partition log's durable append path gets to
//! the disk's own O_DIRECT sequential write bandwidth.
//!
//! One run, one pinned executor, two phases over the same volume:
//! 1. raw: plain O_DIRECT sequential writes of `--batch-bytes` through
//!    `corelog_runtime::DmaFile`, `--in-flight` of them outstanding, preallocating in
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

mod phases;
mod report;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_runtime::ExecutorConfig;
use corelog_storage::limits::BLOCK_SIZE;
use corelog_storage::{FlushPolicy, WriteBehind};

const GIB: f64 = (1u64 << 30) as f64;
/// Distinct prebuilt batches; appends cycle through clones of them.
pub const POOL_BATCHES: usize = 64;

#[derive(Parser, Debug, Clone)]
#[command(name = "engine-bench", about = "Partition-log append throughput vs raw O_DIRECT writes")]
pub struct Args {
    /// Scratch directory; must be on a real disk (not tmpfs). Emptied afterwards.
    #[arg(long, default_value = "./engine-bench-data")]
    pub dir: PathBuf,
    /// Volume written by each phase, in GiB (fractions allowed).
    #[arg(long, default_value_t = 4.0)]
    pub gib: f64,
    /// Size of one raw write and (approximately) of one batch.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub batch_bytes: usize,
    /// Value size of each record.
    #[arg(long, default_value_t = 1024)]
    pub record_bytes: usize,
    /// Concurrent writes (raw) / appender tasks (log).
    #[arg(long, default_value_t = 4)]
    pub in_flight: usize,
    /// Flush policy of the log: `always` or `interval:<ms>`.
    #[arg(long, default_value = "always", value_parser = parse_policy)]
    pub policy: FlushPolicy,
    /// When the log writes a full staging chunk: `always` (at once, also
    /// during a flush) or `between-flushes` (never while a flush runs).
    #[arg(long, default_value = "always", value_parser = parse_write_behind)]
    pub write_behind: WriteBehind,
    /// Also print a one-line JSON summary (last line of stdout).
    #[arg(long)]
    pub json: bool,
    /// Diagnostic: each appender yields to the other tasks after every
    /// append, as a broker connection task would while awaiting its next
    /// request. Off by default (appenders loop back-to-back).
    #[arg(long)]
    pub yield_between: bool,
    /// Skip the short fdatasync probe (extending vs overwriting writes).
    #[arg(long)]
    pub no_probe: bool,
    /// Also run an ideal group-commit baseline (rounds of --in-flight raw
    /// writes, one fdatasync per round) between the raw and log phases.
    #[arg(long)]
    pub group_sync: bool,
    /// Diagnostic: run the executor unpinned instead of on CPU 0.
    #[arg(long)]
    pub no_pin: bool,
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

fn parse_write_behind(s: &str) -> Result<WriteBehind, String> {
    [WriteBehind::Always, WriteBehind::BetweenFlushes]
        .into_iter()
        .find(|w| write_behind_name(*w) == s)
        .ok_or_else(|| format!("expected `always` or `between-flushes`, got `{s}`"))
}

pub fn write_behind_name(w: WriteBehind) -> &'static str {
    match w {
        WriteBehind::Always => "always",
        WriteBehind::BetweenFlushes => "between-flushes",
    }
}

pub fn policy_name(p: FlushPolicy) -> String {
    match p {
        FlushPolicy::Always => "always".into(),
        FlushPolicy::Interval(d) => format!("interval:{}", d.as_millis()),
    }
}

/// CPU time and page faults of the calling thread (the executor).
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

fn main() {
    let mut args = Args::parse();
    if let Err(e) = validate_args(&args) {
        eprintln!("engine-bench: {e}");
        std::process::exit(2);
    }
    // glommio 0.9 opens directories (corelog_runtime::sync_dir) with openat(-1, ..),
    // which fails with EBADF for a relative path: hand the log an absolute one.
    match std::fs::canonicalize(&args.dir) {
        Ok(abs) => args.dir = abs,
        Err(e) => {
            eprintln!("engine-bench: {}: {e}", args.dir.display());
            std::process::exit(2);
        }
    }
    let config = ExecutorConfig {
        placement: if args.no_pin {
            corelog_runtime::CpuPlacement::Unpinned
        } else {
            corelog_runtime::CpuPlacement::Spread
        },
        name: "engine-bench".into(),
        ..ExecutorConfig::default()
    };
    let main_args = args.clone();
    let result = corelog_runtime::spawn_cores(1, &config, move |_core| run(main_args.clone()))
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

use corelog_benches::probes::*;
use phases::*;
use report::*;
