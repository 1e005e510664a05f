//! Model-based property test of the partition log: random sequences of
//! appends (sequential and concurrent), reads, truncations, reopens,
//! retention passes, timestamp lookups and flushes run against real O_DIRECT
//! files, and after every step the log is compared with a plain in-memory
//! model (a list of batches plus the log start offset).
//!
//! Segments are tiny (8–64 KiB) so nearly every append rolls, and the tail
//! cache is small or off so reads go to the segment files.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{iter_batches, BatchBuilder, Compression, DecodedBatch};
use corelog_runtime::{run_local, spawn};
use corelog_storage::disk::DmaStorage;
use corelog_storage::limits::DEFAULT_SEGMENT_MAX_AGE_MS;
use corelog_storage::{Fetched, FlushPolicy, LogConfig, LogError, PartitionLog};
use proptest::prelude::*;
use proptest::sample::Index;

type Log = PartitionLog<DmaStorage>;

// ---------------------------------------------------------------- batches

/// What one generated batch holds; the bytes follow from it and a tag.
#[derive(Debug, Clone)]
struct BatchSpec {
    records: usize,
    value_len: usize,
    timestamp: i64,
    /// Timestamp change from one record to the next (may be negative: records
    /// within a batch need not be in time order).
    ts_step: i64,
    keyed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    offset: u64,
    ts: i64,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
}

/// A record before it has an offset: (timestamp, key, value).
type NewRec = (i64, Option<Vec<u8>>, Vec<u8>);

/// Records of a batch spec, in push order.
fn spec_records(spec: &BatchSpec, tag: u64) -> Vec<NewRec> {
    (0..spec.records)
        .map(|i| {
            let ts = spec.timestamp + i as i64 * spec.ts_step;
            let key = (spec.keyed && i % 3 != 2).then(|| format!("k{tag}/{i}").into_bytes());
            let len = (spec.value_len + i * 131) % 3001;
            let mut value = format!("{tag}:{i}:").into_bytes();
            value.truncate(len);
            let fill = (tag as u8).wrapping_add(i as u8);
            value.resize(len, fill);
            (ts, key, value)
        })
        .collect()
}

fn build(records: &[NewRec]) -> BytesMut {
    let mut b = BatchBuilder::new(Compression::None);
    for (ts, key, value) in records {
        b.push(key.as_deref(), value, *ts, &[]);
    }
    b.build().expect("generated batch builds")
}

// ------------------------------------------------------------------ model

#[derive(Debug, Clone)]
struct MBatch {
    base: u64,
    recs: Vec<Rec>,
}

impl MBatch {
    fn next(&self) -> u64 {
        self.base + self.recs.len() as u64
    }
}

#[derive(Debug, Default)]
struct Model {
    start: u64,
    end: u64,
    /// Batches in offset order covering exactly [start, end).
    batches: Vec<MBatch>,
}

impl Model {
    fn push(&mut self, base: u64, records: Vec<NewRec>) {
        assert_eq!(base, self.end, "model: appended batch must start at the log end");
        let recs: Vec<Rec> = records
            .into_iter()
            .enumerate()
            .map(|(i, (ts, key, value))| Rec { offset: base + i as u64, ts, key, value })
            .collect();
        self.end = base + recs.len() as u64;
        self.batches.push(MBatch { base, recs });
    }

    /// Index of the batch holding `offset` (which must be in [start, end)).
    fn batch_index(&self, offset: u64) -> usize {
        let i = self.batches.partition_point(|b| b.next() <= offset);
        assert!(i < self.batches.len() && self.batches[i].base <= offset, "model has no batch at {offset}");
        i
    }

    fn is_boundary(&self, offset: u64) -> bool {
        offset == self.end || self.batches.iter().any(|b| b.base == offset)
    }

    /// Truncate semantics: the batch holding `offset` goes whole.
    fn truncate(&mut self, offset: u64) -> u64 {
        if offset >= self.end {
            return self.end;
        }
        let i = self.batch_index(offset);
        self.end = self.batches[i].base;
        self.batches.truncate(i);
        self.end
    }

    /// Retention moved the start to `new_start` (a batch boundary).
    fn advance_start(&mut self, new_start: u64) {
        assert!(new_start >= self.start && new_start <= self.end);
        assert!(self.is_boundary(new_start), "log start {new_start} is not a batch boundary");
        self.batches.retain(|b| b.base >= new_start);
        self.start = new_start;
    }

    /// The first record in offset order whose timestamp is >= `ts`.
    fn offset_for_timestamp(&self, ts: i64) -> Option<(u64, i64)> {
        self.batches.iter().flat_map(|b| &b.recs).find(|r| r.ts >= ts).map(|r| (r.offset, r.ts))
    }
}

// --------------------------------------------------------------- checking

/// One decoded batch of a fetch: (base offset, records, encoded length).
type Got = (u64, Vec<Rec>, usize);

fn decode_fetched(fetched: &Fetched) -> Vec<Got> {
    let mut out = Vec::new();
    for slice in &fetched.slices {
        for batch in iter_batches(&slice.to_contiguous(), MAX_BATCH_BYTES_CEILING) {
            let batch = batch.expect("served batches are valid");
            let decoded = DecodedBatch::decode(batch, MAX_BATCH_BYTES_CEILING).expect("served batches decode");
            let recs = decoded
                .records()
                .map(|r| {
                    assert!(r.headers.is_empty());
                    Rec { offset: r.offset, ts: r.timestamp, key: r.key.map(<[u8]>::to_vec), value: r.value.to_vec() }
                })
                .collect();
            out.push((decoded.header().base_offset(), recs, batch.len()));
        }
    }
    out
}

/// Checks a read at `offset` (in [start, end]) with `max_bytes` against the
/// model: whole committed batches (below the high watermark), the first one
/// holding `offset`, contiguous, equal to the model's, within `max_bytes`
/// unless it is a single batch. Between operations everything appended is
/// committed (an append returns once its batch is durable under the policy),
/// so the watermark is the log end. `concurrent`: the read ran alongside
/// appends, so the log end and the watermark it saw may be smaller.
fn check_read(model: &Model, offset: u64, max_bytes: usize, fetched: &Fetched, concurrent: bool) -> Option<u64> {
    let got = decode_fetched(fetched);
    let hw = fetched.high_watermark;
    assert_eq!(fetched.log_start_offset, model.start, "fetch log start");
    assert!(fetched.log_start_offset <= hw && hw <= fetched.log_end_offset, "fetch high watermark {hw} out of range");
    if concurrent {
        assert!(fetched.log_end_offset <= model.end, "fetch log end beyond the model");
    } else {
        assert_eq!(fetched.log_end_offset, model.end, "fetch log end");
        assert_eq!(hw, model.end, "fetch high watermark");
    }
    if offset >= hw {
        assert!(got.is_empty(), "read at {offset}, at or past the high watermark {hw}, returned batches");
        return None;
    }
    assert!(!got.is_empty(), "read at {offset} (high watermark {hw}) returned nothing");
    let first = model.batch_index(offset);
    let total: usize = got.iter().map(|g| g.2).sum();
    assert!(
        got.len() == 1 || total <= max_bytes,
        "read returned {total} bytes in {} batches, max {max_bytes}",
        got.len()
    );
    assert_eq!(total, fetched.byte_len());
    for (i, (base, recs, _)) in (first..).zip(&got) {
        let want = model.batches.get(i).unwrap_or_else(|| panic!("read returned batch {base} past the model end"));
        assert_eq!(*base, want.base, "read at {offset}: batch order");
        assert!(*recs == want.recs, "read at {offset}: batch {base} differs from the model");
        assert!(want.next() <= hw, "read at {offset} returned batch {base} past the high watermark {hw}");
    }
    Some(got.last().map(|g| g.0 + g.1.len() as u64).expect("non-empty"))
}

/// Reads the whole log from its start and compares every record.
async fn check_all(log: &Log, model: &Model, max_bytes: usize) {
    let mut offset = model.start;
    while offset < model.end {
        let fetched = log.read(offset, max_bytes).await.expect("read in range");
        offset = check_read(model, offset, max_bytes, &fetched, false).expect("progress");
    }
}

/// Cheap invariants checked after every operation.
fn check_state(log: &Log, model: &Model, dir: &Path) {
    assert_eq!(log.failure(), None);
    assert_eq!(log.log_start_offset(), model.start, "log start");
    assert_eq!(log.log_end_offset(), model.end, "log end");
    assert_eq!(log.high_watermark(), model.end, "high watermark: every returned append is committed");
    let bases: BTreeSet<u64> = std::fs::read_dir(dir)
        .expect("list dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".log")).and_then(|s| s.parse().ok()))
        .collect();
    assert_eq!(bases.len(), log.segment_count(), "segment files {bases:?}");
    assert_eq!(bases.first().copied(), Some(model.start), "first segment is the log start");
    for b in &bases {
        assert!(model.is_boundary(*b), "segment base {b} is not a batch boundary");
    }
}

fn segment_file_len(dir: &Path, base: u64) -> u64 {
    std::fs::metadata(dir.join(format!("{base:020}.log"))).expect("segment file").len()
}

// -------------------------------------------------------------- operations

#[derive(Debug, Clone)]
enum Op {
    Append(BatchSpec),
    /// Batches appended from concurrently spawned tasks, plus optionally a
    /// concurrent read at a point of [start, end] chosen before the appends.
    AppendConcurrent {
        batches: Vec<BatchSpec>,
        read: Option<(Index, usize)>,
    },
    Read {
        at: Index,
        max_bytes: usize,
    },
    /// A read just below the start or just past the end must be refused.
    ReadOutOfRange {
        below: bool,
    },
    ReadAll {
        max_bytes: usize,
    },
    Truncate {
        at: Index,
    },
    /// Truncating below the log start must be refused.
    TruncateBelowStart,
    Reopen,
    Retention {
        bytes: u64,
    },
    TimestampLookup {
        ts: i64,
    },
    Flush,
}

fn batch_spec() -> impl Strategy<Value = BatchSpec> {
    (1usize..20, 0usize..3000, -100i64..10_000, -3i64..=3, any::<bool>()).prop_map(
        |(records, value_len, timestamp, ts_step, keyed)| BatchSpec { records, value_len, timestamp, ts_step, keyed },
    )
}

fn op() -> impl Strategy<Value = Op> {
    let ts = prop_oneof![
        8 => -200i64..10_200,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ];
    prop_oneof![
        8 => batch_spec().prop_map(Op::Append),
        3 => (prop::collection::vec(batch_spec(), 2..6), prop::option::of((any::<Index>(), 0usize..100_000)))
            .prop_map(|(batches, read)| Op::AppendConcurrent { batches, read }),
        4 => (any::<Index>(), 0usize..200_000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => any::<bool>().prop_map(|below| Op::ReadOutOfRange { below }),
        1 => prop_oneof![Just(1usize), 1usize..300_000].prop_map(|max_bytes| Op::ReadAll { max_bytes }),
        2 => any::<Index>().prop_map(|at| Op::Truncate { at }),
        1 => Just(Op::TruncateBelowStart),
        2 => Just(Op::Reopen),
        2 => (0u64..300_000).prop_map(|bytes| Op::Retention { bytes }),
        3 => ts.prop_map(|ts| Op::TimestampLookup { ts }),
        1 => Just(Op::Flush),
    ]
}

fn config() -> impl Strategy<Value = LogConfig> {
    let flush = prop_oneof![
        Just(FlushPolicy::Always),
        Just(FlushPolicy::Interval(Duration::ZERO)),
        Just(FlushPolicy::Interval(Duration::from_millis(5))),
        Just(FlushPolicy::Interval(Duration::from_secs(3600))),
    ];
    let age = prop_oneof![6 => Just(DEFAULT_SEGMENT_MAX_AGE_MS), 1 => Just(0u64), 1 => Just(20u64)];
    let cache = prop_oneof![Just(0usize), Just(4096), Just(16 * 1024), Just(1 << 20)];
    (8u64..=64, flush, age, cache).prop_map(|(kib, flush, segment_max_age_ms, tail_cache_bytes)| LogConfig {
        segment_bytes: kib * 1024,
        segment_max_age_ms,
        flush,
        tail_cache_bytes,
        ..LogConfig::default()
    })
}

/// Offset in [lo, hi] picked by `at`.
fn pick(at: &Index, lo: u64, hi: u64) -> u64 {
    lo + at.index((hi - lo + 1) as usize) as u64
}

async fn run_ops(dir: &Path, config: LogConfig, ops: Vec<Op>) {
    let mut log = Rc::new(Log::open(DmaStorage, dir, config.clone()).await.expect("open"));
    let mut model = Model::default();
    let mut tag = 0u64;
    for op in ops {
        match op {
            Op::Append(spec) => {
                tag += 1;
                let records = spec_records(&spec, tag);
                let info = log.append(build(&records)).await.expect("append");
                assert_eq!(info.base_offset, model.end, "append base offset");
                assert_eq!(info.last_offset, model.end + records.len() as u64 - 1, "append last offset");
                model.push(info.base_offset, records);
            }
            Op::AppendConcurrent { batches, read } => {
                let mut tasks = Vec::new();
                for spec in &batches {
                    tag += 1;
                    let records = spec_records(spec, tag);
                    let bytes = build(&records);
                    let log = log.clone();
                    tasks.push((records, spawn(async move { log.append(bytes).await })));
                }
                let reader = read.map(|(at, max_bytes)| {
                    let offset = pick(&at, model.start, model.end);
                    let log = log.clone();
                    (offset, max_bytes, spawn(async move { log.read(offset, max_bytes).await }))
                });
                let mut done = Vec::new();
                for (records, task) in tasks {
                    let info = task.join().await.expect("concurrent append");
                    assert_eq!(info.last_offset + 1 - info.base_offset, records.len() as u64);
                    done.push((info.base_offset, records));
                }
                // Offsets follow the order the appends were staged in, which
                // need not be spawn order: the model takes what was returned.
                done.sort_by_key(|d| d.0);
                for (base, records) in done {
                    model.push(base, records);
                }
                if let Some((offset, max_bytes, task)) = reader {
                    let fetched = task.join().await.expect("concurrent read");
                    check_read(&model, offset, max_bytes, &fetched, true);
                }
            }
            Op::Read { at, max_bytes } => {
                let offset = pick(&at, model.start, model.end);
                let fetched = log.read(offset, max_bytes).await.expect("read in range");
                check_read(&model, offset, max_bytes, &fetched, false);
            }
            Op::ReadOutOfRange { below } => {
                let offset = if below {
                    match model.start.checked_sub(1) {
                        Some(o) => o,
                        None => continue,
                    }
                } else {
                    model.end + 1
                };
                match log.read(offset, 1 << 20).await {
                    Err(LogError::OffsetOutOfRange { offset: o, log_start, log_end }) => {
                        assert_eq!((o, log_start, log_end), (offset, model.start, model.end));
                    }
                    Err(e) => panic!("read at {offset}: unexpected error {e}"),
                    Ok(_) => panic!("read at {offset} outside [{}, {}] succeeded", model.start, model.end),
                }
            }
            Op::ReadAll { max_bytes } => check_all(&log, &model, max_bytes).await,
            Op::Truncate { at } => {
                let offset = pick(&at, model.start, model.end);
                let want = model.truncate(offset);
                let got = log.truncate_to(offset).await.expect("truncate");
                assert_eq!(got, want, "truncate_to({offset}) new end");
                check_all(&log, &model, 64 * 1024).await;
            }
            Op::TruncateBelowStart => {
                let Some(offset) = model.start.checked_sub(1) else { continue };
                match log.truncate_to(offset).await {
                    Err(LogError::OffsetOutOfRange { .. }) => {}
                    other => panic!("truncate_to({offset}) below start {}: {:?}", model.start, other.map(|_| ())),
                }
            }
            Op::Reopen => {
                drop(Rc::try_unwrap(log).ok().expect("no task holds the log"));
                log = Rc::new(Log::open(DmaStorage, dir, config.clone()).await.expect("reopen"));
                let report = log.stats().recovery;
                assert_eq!(report.bad_batches, 0, "clean reopen found bad batches: {report:?}");
                assert_eq!(report.segments_removed, 0, "clean reopen removed segments: {report:?}");
                assert_eq!(report.segments as usize, log.segment_count());
                check_state(&log, &model, dir);
                check_all(&log, &model, 64 * 1024).await;
            }
            Op::Retention { bytes } => {
                let before_segments = log.segment_count();
                log.set_config(LogConfig { retention_bytes: Some(bytes), ..config.clone() });
                let outcome = log.enforce_retention().await.expect("retention");
                log.set_config(config.clone());
                assert_eq!(log.segment_count(), before_segments - outcome.deleted_segments as usize);
                let new_start = log.log_start_offset();
                assert_eq!(new_start > model.start, outcome.deleted_segments > 0, "start moves iff segments go");
                model.advance_start(new_start);
                let size = log.size_bytes();
                if outcome.deleted_segments > 0 {
                    assert!(size >= bytes, "retention left {size} bytes, below the limit {bytes}");
                }
                if log.segment_count() > 1 {
                    // The oldest remaining sealed segment had to stay.
                    let first = segment_file_len(dir, new_start);
                    assert!(
                        size - first < bytes,
                        "retention kept segment {new_start} ({first} bytes of {size}) needlessly, limit {bytes}"
                    );
                }
                check_all(&log, &model, 64 * 1024).await;
            }
            Op::TimestampLookup { ts } => {
                let got = log.offset_for_timestamp(ts).await.expect("timestamp lookup");
                assert_eq!(got, model.offset_for_timestamp(ts), "offset_for_timestamp({ts})");
            }
            Op::Flush => log.flush().await.expect("flush"),
        }
        check_state(&log, &model, dir);
    }
    check_all(&log, &model, 64 * 1024).await;
    let ts_probe = model.batches.first().and_then(|b| b.recs.first()).map(|r| r.ts);
    if let Some(ts) = ts_probe {
        assert_eq!(log.offset_for_timestamp(ts).await.expect("lookup"), model.offset_for_timestamp(ts));
    }
}

/// Cases per run: 64 by default (about 10 s); set `LOG_MODEL_CASES` for a
/// longer hunt.
fn cases() -> u32 {
    std::env::var("LOG_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn log_matches_model(config in config(), ops in prop::collection::vec(op(), 1..=40)) {
        let dir = common::test_dir();
        run_local(run_ops(dir.path(), config, ops));
    }
}

/// A timestamp lookup racing appends must answer from committed records
/// only, like a read: an offset at or past the high watermark names a record
/// no consumer can read yet and that a crash could take back. (It once
/// scanned up to the written, not the committed, position.)
#[test]
fn timestamp_lookup_never_returns_uncommitted_offsets() {
    use rand::Rng;
    let dir = common::test_dir();
    run_local(async {
        let config = LogConfig { segment_bytes: 1 << 30, ..LogConfig::default() };
        let log = Rc::new(Log::open(DmaStorage, dir.path(), config).await.expect("open"));
        let mut rng = rand::thread_rng();
        let mut bad = Vec::new();
        // Each round races 400 appends (timestamps rising with the round)
        // against 400 lookups of timestamps within the round.
        for round in 0..40i64 {
            let mut tasks = Vec::new();
            for i in 0..400i64 {
                let (delay_a, delay_q) = (rng.gen_range(0..3000u64), rng.gen_range(0..3000u64));
                let target = round * 4000 + rng.gen_range(0..4000i64);
                let l = log.clone();
                tasks.push(spawn(async move {
                    corelog_runtime::sleep(Duration::from_micros(delay_a)).await;
                    l.append(build(&[(round * 4000 + i * 10, None, vec![1; 10])])).await.expect("append");
                    None
                }));
                let l = log.clone();
                tasks.push(spawn(async move {
                    corelog_runtime::sleep(Duration::from_micros(delay_q)).await;
                    let found = l.offset_for_timestamp(target).await.expect("lookup");
                    let hw = l.high_watermark();
                    found.filter(|(offset, _)| *offset >= hw).map(|(offset, _)| (target, offset, hw))
                }));
            }
            for t in tasks {
                bad.extend(t.join().await);
            }
        }
        assert!(bad.is_empty(), "lookups past the high watermark (target, offset, hw): {bad:?}");
    });
}
