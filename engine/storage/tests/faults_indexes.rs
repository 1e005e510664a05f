//! Damaged or missing indexes are rebuilt from the log; a missing segment
//! removes every later one so the log stays contiguous.

mod common;
mod fault_support;

use std::path::Path;

#[allow(unused_imports)]
use common::{batch, read_all_values};
use corelog_format::BatchHeader;
use corelog_runtime::run_local;
use corelog_storage::disk::{DmaStorage, Storage};
use corelog_storage::limits::BLOCK_SIZE;
use corelog_storage::{LogConfig, PartitionLog};
use fault_support::*;
use rand::{Rng, SeedableRng};

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
fn index_case(damage: impl FnOnce(&Path, u64)) -> (corelog_storage::RecoveryReport, [Vec<u8>; 2], [Vec<u8>; 2]) {
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
