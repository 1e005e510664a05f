//! Recovery from disk faults, on real O_DIRECT files: torn writes, EIO on
//! write and fdatasync, flipped bits (on read and on disk), damaged or
//! missing indexes, and a missing segment. Faults are injected by
//! `FaultyStorage` over `DmaStorage`, or by editing the files with std::fs
//! between two opens of the log.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use common::{batch, read_all_values};
use corelog_engine::batch::{validate, BatchHeader, HEADER_LEN};
use corelog_engine::limits::{BLOCK_SIZE, MAX_BATCH_BYTES_CEILING};
use corelog_engine::runtime::run_local;
use corelog_engine::storage::{DmaStorage, Fault, FaultyStorage, Storage};
use corelog_engine::{LogConfig, LogError, PartitionLog};
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------- helpers

/// Small segments; no tail cache, so reads come from the files.
fn config(segment_bytes: u64) -> LogConfig {
    LogConfig { segment_bytes, tail_cache_bytes: 0, ..LogConfig::default() }
}

fn seg_file(dir: &Path, base: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{base:020}.{suffix}"))
}

/// Base offsets of the segments in `dir`, ascending.
fn segment_bases(dir: &Path) -> Vec<u64> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .expect("list dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
        .collect();
    bases.sort_unstable();
    bases
}

/// A valid batch found in a segment file by walking it with std::fs.
#[derive(Debug, Clone, Copy)]
struct OnDisk {
    pos: u64,
    len: u64,
    base: u64,
    last: u64,
}

/// The valid batches at the start of a `.log` file.
fn batches_in(path: &Path) -> Vec<OnDisk> {
    let bytes = std::fs::read(path).expect("read segment file");
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + HEADER_LEN <= bytes.len() {
        let Ok(header) = validate(&bytes[pos..], MAX_BATCH_BYTES_CEILING) else { break };
        let len = header.batch_length();
        out.push(OnDisk { pos: pos as u64, len: len as u64, base: header.base_offset(), last: header.last_offset() });
        pos += len;
    }
    out
}

/// XORs `mask` into the byte at `pos` of `path`: a plain read-modify-write.
fn flip_on_disk(path: &Path, pos: u64, mask: u8) {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("open for flip");
    let mut byte = [0u8];
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.read_exact(&mut byte).unwrap();
    byte[0] ^= mask;
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.write_all(&byte).unwrap();
    f.sync_all().unwrap();
}

/// An appended batch of `common::batch(tag, records, value_len, ts)`.
#[derive(Debug, Clone, Copy)]
struct Acked {
    base: u64,
    tag: u64,
    records: usize,
    value_len: usize,
    ts: i64,
}

impl Acked {
    fn end(&self) -> u64 {
        self.base + self.records as u64
    }
}

async fn append<S: Storage>(
    log: &PartitionLog<S>,
    tag: u64,
    records: usize,
    value_len: usize,
    ts: i64,
) -> Result<Acked, LogError> {
    let info = log.append(batch(tag, records, value_len, ts)).await?;
    assert_eq!(info.last_offset - info.base_offset + 1, records as u64);
    Ok(Acked { base: info.base_offset, tag, records, value_len, ts })
}

/// The (offset, value) pairs `acked` stands for, as `common::batch` makes them.
fn expected(acked: &[Acked]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for a in acked {
        for i in 0..a.records {
            let mut value = format!("{}:{i}:", a.tag).into_bytes();
            value.resize(a.value_len.max(value.len()), b'x');
            out.push((a.base + i as u64, value));
        }
    }
    out
}

/// Checks the log holds exactly `acked`, contiguous from offset 0, and ends there.
async fn assert_exactly<S: Storage>(log: &PartitionLog<S>, acked: &[Acked]) {
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.log_end_offset(), acked.last().map_or(0, Acked::end), "log end");
    let got = read_all_values(log, 0).await;
    let want = expected(acked);
    assert_eq!(got.len(), want.len(), "record count");
    for (g, w) in got.iter().zip(&want) {
        assert!(g == w, "offset {}: got {:?}, want {:?}", w.0, String::from_utf8_lossy(&g.1[..16.min(g.1.len())]), {
            String::from_utf8_lossy(&w.1[..16.min(w.1.len())])
        });
    }
}

/// Appends `n` batches (tags `first_tag..`) and returns them.
async fn fill<S: Storage>(
    log: &PartitionLog<S>,
    first_tag: u64,
    n: u64,
    records: usize,
    value_len: usize,
) -> Vec<Acked> {
    let mut acked = Vec::new();
    for tag in first_tag..first_tag + n {
        acked.push(append(log, tag, records, value_len, 10_000 + tag as i64 * 100).await.expect("append"));
    }
    acked
}

// ------------------------------------------------------------ torn writes

/// A write of a multi-block batch persists only `keep_blocks` blocks and
/// fails: the append fails, and after a reopen the log ends where the last
/// acked batch did, whatever reached the disk.
fn torn_write(keep_blocks: usize) {
    let dir = common::test_dir();
    let cfg = config(1024 * 1024);
    let (acked, torn_len) = run_local(async {
        let storage = FaultyStorage::new(DmaStorage);
        let log = PartitionLog::open(storage.clone(), dir.path(), cfg.clone()).await.unwrap();
        let acked = fill(&log, 0, 20, 3, 333).await;
        let end = log.log_end_offset();

        storage.arm(Fault::TearNextWrite { keep_blocks });
        let big = batch(999, 20, 1000, 0);
        let torn_len = big.len();
        assert!(torn_len > 4 * BLOCK_SIZE, "the torn batch spans many blocks");
        let err = log.append(big).await.expect_err("a torn write fails the append");
        assert!(matches!(err, LogError::Failed(_)), "{err}");
        assert!(log.failure().is_some());
        let refused = log.append(batch(1000, 1, 10, 0)).await.expect_err("a failed log refuses appends");
        assert!(matches!(refused, LogError::Failed(_)), "{refused}");
        eprintln!("keep_blocks {keep_blocks}: failed log reports end {} (acked end {end})", log.log_end_offset());
        (acked, torn_len)
    });
    let end = acked.last().unwrap().end();
    let segment = *segment_bases(dir.path()).last().unwrap();
    let on_disk = std::fs::metadata(seg_file(dir.path(), segment, "log")).unwrap().len();
    eprintln!("keep_blocks {keep_blocks}: torn batch of {torn_len} bytes, segment file is {on_disk} bytes");

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let report = log.stats().recovery;
        eprintln!("keep_blocks {keep_blocks}: {report:?}");
        assert_exactly(&log, &acked).await;
        if keep_blocks > 0 {
            // Part of the torn batch reached the disk: a bad batch, cut.
            assert_eq!(report.bad_batches, 1, "{report:?}");
            assert!(report.truncated_bytes > 0, "{report:?}");
        } else {
            assert_eq!(report.bad_batches, 0, "{report:?}");
        }
        assert!(log.read(end, 1 << 20).await.unwrap().slices.is_empty(), "nothing is served past the end");
        assert!(matches!(log.read(end + 1, 1 << 20).await, Err(LogError::OffsetOutOfRange { .. })));
        let next = append(&log, 2000, 5, 700, 0).await.unwrap();
        assert_eq!(next.base, end, "appends continue at the recovered end");
        let mut all = acked.clone();
        all.push(next);
        assert_exactly(&log, &all).await;
        all
    });
    // And the log recovered after the tear is itself clean.
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        assert_eq!(log.stats().recovery.bad_batches, 0);
        assert_eq!(log.log_end_offset(), end + 5);
    });
}

#[test]
fn torn_write_keeping_no_block_loses_only_the_failed_batch() {
    torn_write(0);
}

#[test]
fn torn_write_keeping_one_block_is_cut_at_recovery() {
    torn_write(1);
}

#[test]
fn torn_write_keeping_several_blocks_is_cut_at_recovery() {
    torn_write(3);
}

// -------------------------------------------------------------------- EIO

/// `fault` is armed before a few concurrent appends (one group commit): all
/// of them fail, the log is failed and refuses appends; after a reopen the
/// acked data is intact and appends work.
fn eio(fault: Fault, batches_before: u64) {
    let dir = common::test_dir();
    let cfg = config(64 * 1024);
    let acked = run_local(async {
        let storage = FaultyStorage::new(DmaStorage);
        let log = PartitionLog::open(storage.clone(), dir.path(), cfg.clone()).await.unwrap();
        let acked = fill(&log, 0, batches_before, 4, 500).await;
        storage.arm(fault.clone());
        let results = futures::future::join_all((0..3).map(|k| append(&log, 100 + k, 4, 500, 0))).await;
        for r in &results {
            assert!(r.is_err(), "{fault:?}: an append acked although its write or sync failed: {r:?}");
        }
        assert!(log.failure().is_some(), "{fault:?}: the log is not failed");
        storage.disarm_all();
        let refused = append(&log, 200, 1, 10, 0).await.expect_err("a failed log refuses appends");
        assert!(matches!(refused, LogError::Failed(_)), "{refused}");
        assert!(log.failure().is_some(), "the failure is sticky");
        acked
    });
    let end = acked.last().unwrap().end();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let report = log.stats().recovery;
        assert_eq!(report.bad_batches, 0, "{fault:?}: {report:?}");
        assert!(log.failure().is_none());
        let recovered_end = log.log_end_offset();
        // Unacked batches may have reached the disk (e.g. the write worked
        // and only the sync failed); if they did, they are whole.
        let all = read_all_values(&log, 0).await;
        let want = expected(&acked);
        assert!(all.len() >= want.len());
        assert!(all[..want.len()] == want[..], "{fault:?}: acked records changed");
        for (o, v) in &all[want.len()..] {
            let tag = String::from_utf8_lossy(&v[..4]);
            assert!(["100:", "101:", "102:"].contains(&tag.as_ref()), "{fault:?}: unknown record at {o}: {tag}");
        }
        assert_eq!((recovered_end - end) % 4, 0, "{fault:?}: a partial batch survived");
        if fault == Fault::FailWrites {
            assert_eq!(recovered_end, end, "nothing was written");
        }
        eprintln!("{fault:?}: acked end {end}, recovered end {recovered_end}, {report:?}");
        let next = append(&log, 300, 2, 50, 0).await.unwrap();
        assert_eq!(next.base, recovered_end);
    });
}

#[test]
fn eio_on_write_fails_the_appends_and_the_log() {
    eio(Fault::FailWrites, 10);
}

#[test]
fn eio_on_fdatasync_fails_the_appends_and_the_log() {
    eio(Fault::FailSync, 10);
}

#[test]
fn eio_on_fdatasync_while_rolling_fails_the_log() {
    // 10 batches of ~2.2 KiB fill most of a 24 KiB segment: the next
    // appends roll, and sealing the segment needs an fdatasync.
    let dir = common::test_dir();
    let cfg = config(24 * 1024);
    let acked = run_local(async {
        let storage = FaultyStorage::new(DmaStorage);
        let log = PartitionLog::open(storage.clone(), dir.path(), cfg.clone()).await.unwrap();
        let acked = fill(&log, 0, 10, 4, 500).await;
        assert_eq!(log.segment_count(), 1);
        storage.arm(Fault::FailSync);
        let mut failed = false;
        for tag in 100..110 {
            if append(&log, tag, 4, 500, 0).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed && log.failure().is_some(), "no append failed");
        assert!(log.segment_count() <= 2);
        acked
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        let end = acked.last().unwrap().end();
        assert!(log.log_end_offset() >= end);
        let all = read_all_values(&log, 0).await;
        assert!(all[..expected(&acked).len()] == expected(&acked)[..]);
        let next = append(&log, 300, 2, 50, 0).await.unwrap();
        assert_eq!(next.base, all.len() as u64);
    });
}

// -------------------------------------------------------------- bit flips

/// A flipped bit read from a sealed segment is reported as corruption for
/// the batch it hits, never served; other segments read fine.
#[test]
fn bit_flip_on_read_of_a_sealed_segment_is_reported_never_served() {
    let dir = common::test_dir();
    let cfg = config(16 * 1024);
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        fill(&log, 0, 40, 3, 1000).await
    });
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 4, "segments: {bases:?}");
    let victim = bases[1];
    let batches = batches_in(&seg_file(dir.path(), victim, "log"));
    assert!(batches.len() >= 3, "{batches:?}");
    let hit = batches[1];
    eprintln!("flipping a bit of batch {hit:?} in segment {victim}");

    run_local(async {
        let storage = FaultyStorage::new(DmaStorage);
        let log = PartitionLog::open(storage.clone(), dir.path(), cfg).await.unwrap();
        assert_exactly(&log, &acked).await;
        storage.arm(Fault::FlipBitOnRead {
            path_contains: format!("{victim:020}.log"),
            pos: hit.pos + hit.len / 2,
            bit: 5,
        });
        for offset in [hit.base, hit.last] {
            match log.read(offset, 1 << 20).await {
                Err(LogError::Corrupt { segment, .. }) => assert_eq!(segment, victim),
                Err(e) => panic!("read at {offset}: expected Corrupt, got {e}"),
                Ok(f) => panic!("read at {offset} served {} bytes from a damaged batch", f.byte_len()),
            }
        }
        // The batch before it, alone, is still fine.
        let before = batches[0];
        let f = log.read(before.base, 1).await.expect("the undamaged batch before");
        let got = common::values(&f);
        assert_eq!(got.first().map(|v| v.0), Some(before.base));
        assert!(got.iter().all(|(o, _)| *o <= before.last), "only the undamaged batch is served");
        // Every other segment reads fine, whole.
        let want = expected(&acked);
        for (i, &base) in bases.iter().enumerate() {
            if base == victim {
                continue;
            }
            let next = bases.get(i + 1).copied().unwrap_or(log.log_end_offset());
            let got = common::values(&log.read(base, 1 << 20).await.expect("read other segment"));
            let want: Vec<_> = want.iter().filter(|(o, _)| *o >= base && *o < next).cloned().collect();
            assert!(got == want, "segment {base} reads back wrong");
        }
        // The disk itself is fine: without the fault everything reads.
        storage.disarm_all();
        assert_exactly(&log, &acked).await;
    });
}

/// A byte of the last batch of the active segment damaged on disk (in the
/// CRC-covered body, or in the base offset field the CRC does not cover):
/// recovery cuts the log at that batch.
fn bit_flip_on_disk_in_last_batch(at: fn(&OnDisk) -> u64) {
    let dir = common::test_dir();
    let cfg = config(64 * 1024);
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        fill(&log, 0, 40, 3, 1000).await
    });
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 2, "{bases:?}");
    let active = *bases.last().unwrap();
    let last = *batches_in(&seg_file(dir.path(), active, "log")).last().unwrap();
    assert_eq!(last.base, acked.last().unwrap().base);
    flip_on_disk(&seg_file(dir.path(), active, "log"), at(&last), 0x10);

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let report = log.stats().recovery;
        eprintln!("{report:?}");
        assert_eq!(report.bad_batches, 1, "{report:?}");
        assert!(report.truncated_bytes >= last.len, "{report:?}");
        assert_eq!(log.log_end_offset(), last.base);
        let kept = &acked[..acked.len() - 1];
        assert_exactly(&log, kept).await;
        let next = append(&log, 500, 2, 100, 0).await.unwrap();
        assert_eq!(next.base, last.base);
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        assert_eq!(log.stats().recovery.bad_batches, 0);
        assert_eq!(log.log_end_offset(), last.base + 2);
    });
}

#[test]
fn bit_flip_on_disk_in_the_last_batch_body_truncates_there() {
    bit_flip_on_disk_in_last_batch(|b| b.pos + b.len / 2);
}

#[test]
fn bit_flip_on_disk_in_the_last_batch_base_offset_truncates_there() {
    // base_offset (bytes 0..8) is not under the CRC; the scan's offset
    // continuity check must catch it.
    bit_flip_on_disk_in_last_batch(|b| b.pos + 2);
}

// ---------------------------------------------------------------- indexes

/// 60 batches of 4 records with timestamps 10_000 + 100 * tag + i, in 32 KiB
/// segments (several index entries each).
fn indexed_log(dir: &Path) -> (LogConfig, Vec<Acked>) {
    let cfg = config(32 * 1024);
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir, cfg.clone()).await.unwrap();
        fill(&log, 0, 60, 4, 500).await
    });
    (cfg, acked)
}

/// Reads every batch on its own and looks up every batch by time.
async fn assert_lookups<S: Storage>(log: &PartitionLog<S>, acked: &[Acked]) {
    assert_exactly(log, acked).await;
    for (k, a) in acked.iter().enumerate() {
        let f = log.read(a.base + 1, 1).await.unwrap_or_else(|e| panic!("read at {}: {e}", a.base + 1));
        let got = common::values(&f);
        assert_eq!(got.first().map(|v| v.0), Some(a.base), "read at {}", a.base + 1);
        assert!(got[..a.records] == expected(&[*a])[..]);
        let found = log.offset_for_timestamp(a.ts).await.unwrap_or_else(|e| panic!("time lookup {}: {e}", a.ts));
        assert_eq!(found, Some((a.base, a.ts)), "offset_for_timestamp({})", a.ts);
        let found = log.offset_for_timestamp(a.ts + 2).await.unwrap();
        assert_eq!(found, Some((a.base + 2, a.ts + 2)), "offset_for_timestamp({})", a.ts + 2);
        if let Some(n) = acked.get(k + 1) {
            let found = log.offset_for_timestamp(a.ts + 50).await.unwrap();
            assert_eq!(found, Some((n.base, n.ts)), "offset_for_timestamp({})", a.ts + 50);
        }
    }
    let last = acked.last().unwrap();
    assert_eq!(log.offset_for_timestamp(last.ts + 1000).await.unwrap(), None);
}

/// Deterministic garbage bytes.
fn garbage(len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xBAD_1DE);
    (0..len).map(|_| rng.gen()).collect()
}

/// Damages a sealed segment's indexes with `damage`, reopens, checks every
/// lookup; returns the recovery report and the segment's original index files.
fn index_case(damage: impl FnOnce(&Path, u64)) -> (corelog_engine::RecoveryReport, [Vec<u8>; 2], [Vec<u8>; 2]) {
    let dir = common::test_dir();
    let (cfg, acked) = indexed_log(dir.path());
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 4, "{bases:?}");
    let victim = bases[1];
    let read_indexes =
        || ["index", "timeindex"].map(|s| std::fs::read(seg_file(dir.path(), victim, s)).unwrap_or_default());
    let original = read_indexes();
    assert!(original[0].len() >= 3 * 8, "the victim has several offset index entries");
    assert!(original[1].len() >= 3 * 16, "the victim has several time index entries");
    damage(dir.path(), victim);
    let report = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        assert_eq!(log.segment_count(), bases.len());
        assert_lookups(&log, &acked).await;
        log.stats().recovery
    });
    eprintln!("{report:?}");
    assert_eq!(report.bad_batches, 0);
    assert_eq!(report.segments_removed, 0);
    (report, original, read_indexes())
}

#[test]
fn missing_index_files_are_rebuilt() {
    let (_report, original, rebuilt) = index_case(|dir, base| {
        std::fs::remove_file(seg_file(dir, base, "index")).unwrap();
        std::fs::remove_file(seg_file(dir, base, "timeindex")).unwrap();
    });
    assert!(rebuilt == original, "the rebuilt index files differ from the ones written at seal time");
}

#[test]
fn garbage_offset_index_is_rebuilt() {
    let (_report, original, rebuilt) = index_case(|dir, base| {
        let path = seg_file(dir, base, "index");
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        let garbage = garbage(len.max(BLOCK_SIZE));
        std::fs::write(&path, garbage).unwrap();
    });
    assert!(rebuilt == original, "the garbage offset index was not rewritten");
}

#[test]
fn garbage_time_index_is_rebuilt() {
    let (_report, original, rebuilt) = index_case(|dir, base| {
        let path = seg_file(dir, base, "timeindex");
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        let garbage = garbage(len.max(BLOCK_SIZE));
        std::fs::write(&path, garbage).unwrap();
    });
    assert!(rebuilt == original, "the garbage time index was not rewritten");
}

/// An index whose every entry points one byte past a batch boundary: in
/// order and inside the segment, so it looks plausible, but wrong.
#[test]
fn shifted_index_entries_are_rebuilt() {
    let (report, original, rebuilt) = index_case(|dir, base| {
        for (suffix, entry, pos_at) in [("index", 8, 4), ("timeindex", 16, 12)] {
            let path = seg_file(dir, base, suffix);
            let mut bytes = std::fs::read(&path).unwrap();
            for e in bytes.chunks_exact_mut(entry) {
                let p = u32::from_le_bytes(e[pos_at..pos_at + 4].try_into().unwrap());
                e[pos_at..pos_at + 4].copy_from_slice(&(p + 1).to_le_bytes());
            }
            std::fs::write(&path, bytes).unwrap();
        }
    });
    assert!(report.indexes_rebuilt >= 1, "{report:?}");
    assert!(rebuilt == original, "the shifted indexes were not rewritten");
}

/// One middle entry of a sealed segment's offset index damaged on disk
/// (a flipped low bit: still in order, now pointing inside a batch).
#[test]
fn damaged_middle_offset_index_entry_is_rebuilt() {
    let (report, original, rebuilt) = index_case(|dir, base| {
        let path = seg_file(dir, base, "index");
        let entries = std::fs::metadata(&path).unwrap().len() / 8;
        // Entry 1 of several: byte 4 is the low byte of its position.
        assert!(entries >= 3);
        flip_on_disk(&path, 8 + 4, 0x01);
    });
    eprintln!("{report:?}");
    assert!(rebuilt == original, "the damaged offset index entry is still on disk");
}

/// One middle entry of a sealed segment's time index damaged on disk (a
/// flipped low bit of its position: still in order, now inside a batch).
#[test]
fn damaged_middle_time_index_entry_is_rebuilt() {
    let (report, original, rebuilt) = index_case(|dir, base| {
        let path = seg_file(dir, base, "timeindex");
        let entries = std::fs::metadata(&path).unwrap().len() / 16;
        // Entry 1 of several: byte 12 is the low byte of its position.
        assert!(entries >= 3);
        flip_on_disk(&path, 16 + 12, 0x01);
    });
    eprintln!("{report:?}");
    assert!(rebuilt == original, "the damaged time index entry is still on disk");
}

// ---------------------------------------------------------------- segments

/// A middle segment's files are gone: the log keeps the contiguous prefix
/// before the gap and removes every later segment.
#[test]
fn missing_middle_segment_removes_every_later_segment() {
    let dir = common::test_dir();
    let cfg = config(16 * 1024);
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        fill(&log, 0, 40, 3, 1000).await
    });
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 5, "{bases:?}");
    let gone = bases[2];
    for suffix in ["log", "index", "timeindex"] {
        std::fs::remove_file(seg_file(dir.path(), gone, suffix)).unwrap();
    }
    let kept: Vec<Acked> = acked.iter().copied().filter(|a| a.base < gone).collect();
    assert_eq!(kept.last().unwrap().end(), gone);

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let report = log.stats().recovery;
        eprintln!("{report:?}");
        assert_eq!(report.segments_removed, bases.len() as u64 - 3, "{report:?}");
        assert_eq!(log.segment_count(), 2);
        assert_exactly(&log, &kept).await;
        let next = append(&log, 500, 3, 100, 0).await.unwrap();
        assert_eq!(next.base, gone);
    });
    // The append rolled the full segment into a new one at `gone`.
    assert_eq!(segment_bases(dir.path()), [bases[0], bases[1], gone], "later segments are deleted");
    for &base in &bases[3..] {
        for suffix in ["log", "index", "timeindex"] {
            assert!(!seg_file(dir.path(), base, suffix).exists(), "{base}.{suffix} survived");
        }
    }
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        assert_eq!(log.stats().recovery.segments_removed, 0);
        assert_eq!(log.log_end_offset(), gone + 3);
    });
}

/// Sanity of the helper the tests above rely on.
#[test]
fn batches_in_finds_every_batch_of_a_segment() {
    let dir = common::test_dir();
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), config(1 << 20)).await.unwrap();
        fill(&log, 0, 5, 2, 100).await
    });
    let found = batches_in(&seg_file(dir.path(), 0, "log"));
    assert_eq!(found.iter().map(|b| b.base).collect::<Vec<_>>(), acked.iter().map(|a| a.base).collect::<Vec<_>>());
    assert!(found.windows(2).all(|w| w[0].pos + w[0].len == w[1].pos));
    let header = BatchHeader::parse(&std::fs::read(seg_file(dir.path(), 0, "log")).unwrap()).map(|h| h.record_count());
    assert_eq!(header, Some(2));
}
