//! Crash test: kill -9 a process appending under load (group commit, segment
//! rolls; and in the second test retention recycling segment files that new
//! segments are written into) at random moments, then recover the log
//! in-process and check every acknowledged record, byte for byte, and that
//! no batch a recycled file held ever comes back.
//!
//! The child is the `crash_appender` binary (engine/storage/src/bin). Set
//! `CRASH_SEED=<n>` to replay a run; each iteration prints its stats to stderr
//! (`cargo test --test crash -- --nocapture`).

mod common;

#[allow(dead_code)]
#[path = "../src/bin/crash_appender.rs"]
mod appender;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{iter_batches, DecodedBatch};
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::PartitionLog;
use rand::{Rng, SeedableRng};

const ITERATIONS: u32 = 24;

/// An acknowledged append: `(base_offset, last_offset, content-id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ack {
    base: u64,
    last: u64,
    id: u64,
}

/// What one run of the child printed.
struct ChildRun {
    /// Log end the child saw after opening (if it got that far).
    open_end: Option<u64>,
    acks: Vec<Ack>,
    /// Segments the child wrote into recycled files (`retain` runs).
    reused: u64,
}

/// Runs the appender on `dir` for `run_for`, then SIGKILLs it.
fn run_child(dir: &Path, seed: u32, run_for: Duration, retain: bool) -> ChildRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_appender"))
        .arg(dir)
        .arg(seed.to_string())
        .args(retain.then_some("retain"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crash_appender");
    // Drain both pipes while the child runs so it never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).expect("read child stdout");
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stderr.read_to_end(&mut buf).expect("read child stderr");
        buf
    });
    std::thread::sleep(run_for);
    let early = child.try_wait().expect("try_wait");
    if early.is_none() {
        child.kill().expect("SIGKILL the child");
    }
    let status = child.wait().expect("wait for the child");
    let out = out.join().expect("stdout reader");
    let err = String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned();
    assert!(early.is_none(), "crash_appender exited on its own ({status}); stderr:\n{err}");

    // A line without its newline was cut by the kill: ignore it.
    let text = String::from_utf8(out).expect("child stdout is UTF-8");
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    let mut run = ChildRun { open_end: None, acks: Vec::new(), reused: 0 };
    for line in complete.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["OPEN", end] => run.open_end = Some(end.parse().expect("OPEN offset")),
            ["REUSED", n] => run.reused = n.parse().expect("REUSED count"),
            ["ACK", base, last, id] => run.acks.push(Ack {
                base: base.parse().expect("ACK base"),
                last: last.parse().expect("ACK last"),
                id: id.parse().expect("ACK id"),
            }),
            _ => panic!("unexpected line from crash_appender: {line:?}; stderr:\n{err}"),
        }
    }
    if !err.is_empty() {
        eprintln!("crash_appender stderr:\n{err}");
    }
    run
}

/// One batch as read back: `(base_offset, last_offset, content-id)`.
type Found = (u64, u64, u64);

/// Reads the whole log from its start and checks every record against the
/// content its key names: offsets contiguous from the start (0 unless
/// `retain`), every batch a whole, unmodified content, no content twice (an
/// old batch of a recycled file would be there twice, or out of place).
/// Returns the batches by base offset.
async fn check_log(log: &PartitionLog<DmaStorage>, retain: bool) -> HashMap<u64, Found> {
    if !retain {
        assert_eq!(log.log_start_offset(), 0, "nothing deletes segments without retention");
    }
    let end = log.log_end_offset();
    let mut batches = HashMap::new();
    let mut ids = HashSet::new();
    let mut next = log.log_start_offset();
    while next < end {
        let fetched = log.read(next, 1024 * 1024).await.unwrap_or_else(|e| panic!("read at {next} (end {end}): {e}"));
        assert!(!fetched.slices.is_empty(), "read at {next} < end {end} returned nothing");
        for slice in &fetched.slices {
            for bytes in iter_batches(&slice.to_contiguous(), MAX_BATCH_BYTES_CEILING) {
                let bytes = bytes.unwrap_or_else(|e| panic!("served batch near {next} is invalid: {e}"));
                let batch = DecodedBatch::decode(bytes, MAX_BATCH_BYTES_CEILING)
                    .unwrap_or_else(|e| panic!("served batch near {next} does not decode: {e}"));
                let base = batch.header().base_offset();
                assert_eq!(base, next, "gap or overlap: batch at {base}, expected {next}");
                let records: Vec<_> = batch.records().collect();
                let first_key = records[0].key.expect("our records have keys");
                let id = appender::id_from_key(first_key)
                    .unwrap_or_else(|| panic!("batch at {base}: foreign key {first_key:?}"));
                let want = appender::content(id);
                assert_eq!(records.len(), want.len(), "batch at {base} (id {id}): record count");
                for (i, (got, want)) in records.iter().zip(&want).enumerate() {
                    assert_eq!(got.offset, base + i as u64, "batch at {base}: offset of record {i}");
                    assert_eq!(got.key, Some(&want.key[..]), "batch at {base} (id {id}): key of record {i}");
                    assert!(got.value == want.value, "batch at {base} (id {id}): value of record {i} differs");
                    assert_eq!(got.timestamp, want.timestamp, "batch at {base} (id {id}): timestamp of record {i}");
                    assert!(got.headers.is_empty());
                }
                assert!(ids.insert(id), "content-id {id} appears twice in the log (second at {base})");
                let last = batch.header().last_offset();
                batches.insert(base, (base, last, id));
                next = last + 1;
            }
        }
    }
    assert_eq!(next, end, "read past the log end");
    batches
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_record() {
    crash_test(false);
}

#[test]
fn kill_9_while_retention_recycles_segments_loses_no_acknowledged_record() {
    crash_test(true);
}

/// `retain`: the child keeps a few segments and recycles the rest (acks
/// below the log start were deleted by retention, not lost).
fn crash_test(retain: bool) {
    let run_seed: u64 = match std::env::var("CRASH_SEED") {
        Ok(s) => s.parse().expect("CRASH_SEED is a number"),
        Err(_) => rand::random::<u32>().into(),
    };
    eprintln!("crash test seed {run_seed} (replay with CRASH_SEED={run_seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(run_seed);
    let started = Instant::now();
    let mut dir = common::test_dir();
    // Every ack the current dir has ever given (children and checker).
    let mut acked: Vec<Ack> = Vec::new();
    let mut expected_open: Option<u64> = None;
    let (mut total_acks, mut total_bad, mut reused) = (0usize, 0u64, 0u32);
    let (mut total_reused, mut max_start) = (0u64, 0u64);

    for iter in 0..ITERATIONS {
        if iter > 0 && rng.gen_bool(0.5) {
            dir = common::test_dir();
            acked.clear();
            expected_open = None;
        } else if iter > 0 {
            reused += 1;
        }
        let child_seed = (run_seed as u32).wrapping_mul(1000).wrapping_add(2 * iter);
        let checker_seed = child_seed.wrapping_add(1);
        let run_for = Duration::from_millis(rng.gen_range(20..=300));
        let t0 = Instant::now();
        let run = run_child(dir.path(), child_seed, run_for, retain);
        total_reused += run.reused;

        // The child reopened a cleanly closed log: it must see exactly its end.
        if let (Some(open), Some(want)) = (run.open_end, expected_open) {
            assert_eq!(open, want, "iteration {iter}: child opened the log at a different end");
        }
        for a in &run.acks {
            assert!(a.last >= a.base, "iteration {iter}: bad ack {a:?}");
            assert_eq!(a.last - a.base + 1, appender::content(a.id).len() as u64, "iteration {iter}: {a:?}");
            assert!(run.open_end.is_some_and(|o| a.base >= o), "iteration {iter}: ack {a:?} below the open end");
        }
        total_acks += run.acks.len();
        acked.extend(run.acks.iter().copied());

        let path = dir.path().to_path_buf();
        let (checker_ack, report, end, segments) = run_local(async {
            let log = PartitionLog::open(DmaStorage, &path, appender::config_for(retain))
                .await
                .unwrap_or_else(|e| panic!("iteration {iter}: reopen after kill: {e}"));
            let report = log.stats().recovery;
            let end = log.log_end_offset();
            let batches = check_log(&log, retain).await;
            let start = log.log_start_offset();
            max_start = max_start.max(start);
            for a in acked.iter().filter(|a| a.base >= start) {
                let found = batches.get(&a.base).copied();
                assert_eq!(
                    found,
                    Some((a.base, a.last, a.id)),
                    "iteration {iter}: acked batch {a:?} is not in the log"
                );
            }
            let max_acked_end = acked.iter().map(|a| a.last + 1).max().unwrap_or(0);
            assert!(end >= max_acked_end, "iteration {iter}: log end {end} < acked end {max_acked_end}");

            // No acked offset is ever handed out again.
            let id = appender::content_id(checker_seed, 0);
            let info = log.append(appender::build(id)).await.expect("append after recovery");
            assert_eq!(info.base_offset, end, "iteration {iter}: append after recovery got a reused offset");
            assert_eq!(log.log_end_offset(), info.last_offset + 1);
            let ack = Ack { base: info.base_offset, last: info.last_offset, id };
            (ack, report, end, log.segment_count())
        });
        acked.push(checker_ack);
        expected_open = Some(checker_ack.last + 1);
        total_bad += report.bad_batches;
        eprintln!(
            "iter {iter:2}: ran {:3} ms, {:4} acks (open at {:?}), recovered end {end} in {segments} segments, \
             report {report:?}, iteration took {} ms",
            run_for.as_millis(),
            run.acks.len(),
            run.open_end,
            t0.elapsed().as_millis(),
        );
    }
    eprintln!(
        "crash test: {ITERATIONS} kills, {total_acks} acks checked, {total_bad} bad batches recovered, \
         {reused} reused dirs, {} ms",
        started.elapsed().as_millis()
    );
    assert!(total_acks > 0, "no child ever acknowledged an append: the test checked nothing");
    if retain {
        eprintln!(
            "crash test (retain): {total_reused} segments written into recycled files, log start up to {max_start}"
        );
        assert!(total_reused > 0, "no child wrote a segment into a recycled file: the test checked no reuse");
    }
}
