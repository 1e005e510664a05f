//! Disk faults while writing, on real O_DIRECT files through `FaultyStorage`:
//! torn writes and EIO on write and fdatasync.

mod common;
mod fault_support;

#[allow(unused_imports)]
use common::{batch, read_all_values};
use corelog_runtime::run_local;
use corelog_storage::disk::{DmaStorage, Fault, FaultyStorage};
use corelog_storage::limits::BLOCK_SIZE;
use corelog_storage::{LogError, PartitionLog};
use fault_support::*;

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
