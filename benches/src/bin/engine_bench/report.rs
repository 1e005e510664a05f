//! Printing a run: the human report and the one-line JSON summary.

use corelog_storage::limits::{BLOCK_SIZE, DEFAULT_SEGMENT_BYTES, SEGMENT_PREALLOCATE_STEP, WRITE_CHUNK_BYTES};

use super::phases::*;
use super::{policy_name, write_behind_name, Args};

#[derive(Debug, Clone)]
pub struct Report {
    pub load_before: String,
    pub load_after: String,
    pub raw: RawPhase,
    pub probe: Option<SyncProbe>,
    pub group: Option<GroupSync>,
    pub log: LogPhase,
}

/// fdatasync latency after a 1 MiB O_DIRECT write that extends the file into
/// preallocated (unwritten, KEEP_SIZE) space, as every log append does,
/// versus after overwriting already-written blocks, versus with nothing dirty.
pub fn print_report(args: &Args, r: &Report) {
    let raw_mbs = mb_per_s(r.raw.bytes, r.raw.elapsed);
    let log_mbs = mb_per_s(r.log.bytes, r.log.elapsed);
    let s = &r.log.stats;
    let mean_fsync = if s.fsyncs > 0 { s.fsync_micros_total as f64 / s.fsyncs as f64 } else { 0.0 };
    let (rl, al) = (&r.raw.write_latency, &r.log.append_latency);
    println!(
        "engine-bench  dir={}  volume={:.2} GiB  in-flight={}  policy={}  write-behind={}",
        args.dir.display(),
        args.gib,
        args.in_flight,
        policy_name(args.policy),
        write_behind_name(args.write_behind)
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

pub fn json_summary(args: &Args, r: &Report) -> serde_json::Value {
    let raw_mbs = mb_per_s(r.raw.bytes, r.raw.elapsed);
    let log_mbs = mb_per_s(r.log.bytes, r.log.elapsed);
    let s = &r.log.stats;
    serde_json::json!({
        "gib": args.gib,
        "batch_bytes": args.batch_bytes,
        "record_bytes": args.record_bytes,
        "in_flight": args.in_flight,
        "policy": policy_name(args.policy),
        "write_behind": write_behind_name(args.write_behind),
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
