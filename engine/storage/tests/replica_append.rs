//! Follower appends: the leader's offsets and epochs kept byte for byte,
//! and everything that does not continue the log refused whole.

mod common;
mod epochs_support;

use std::path::Path;

use bytes::Bytes;
use common::test_dir;
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::{BatchSlice, FlushPolicy, LogConfig, PartitionLog, ReplicaAppendError};
use epochs_support::{append_n, headers, pairs, stamped, stored_batches, valid};

async fn open(dir: &Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(DmaStorage, dir, config).await.expect("open")
}

#[test]
fn a_follower_keeps_the_leaders_offsets_and_epochs_byte_for_byte() {
    let (leader_dir, follower_dir) = (test_dir(), test_dir());
    let config = LogConfig { flush: FlushPolicy::Always, ..LogConfig::default() };
    let from_leader = run_local(async {
        let leader = open(leader_dir.path(), config.clone()).await;
        leader.begin_leader_epoch(1).await.unwrap();
        append_n(&leader, 1, 2, 3).await;
        leader.begin_leader_epoch(2).await.unwrap();
        append_n(&leader, 2, 1, 4).await;
        let batches = stored_batches(&leader, 0).await;
        assert_eq!(headers(&batches), vec![(0, 1), (3, 1), (6, 2)]);

        let follower = open(follower_dir.path(), config.clone()).await;
        let fsyncs = follower.stats().fsyncs;
        let info = follower.append_replica(valid(&batches)).await.unwrap();
        assert_eq!((info.base_offset, info.last_offset), (0, 9));
        assert_eq!(follower.high_watermark(), 10, "durable (fdatasync'd) when it returns");
        assert!(follower.stats().fsyncs > fsyncs);
        assert_eq!(pairs(&follower), vec![(1, 0), (2, 6)]);
        assert_eq!(pairs(&follower), pairs(&leader));
        assert_eq!(follower.leader_epoch(), 2);
        let cached = follower.read(0, 1 << 20).await.unwrap();
        assert!(cached.slices.iter().all(|s| matches!(s, BatchSlice::Memory(_))), "the tail cache serves them");
        assert_eq!(stored_batches(&follower, 0).await, batches, "as the leader stores them");
        batches
    });
    run_local(async {
        let follower = open(follower_dir.path(), config).await;
        assert_eq!(stored_batches(&follower, 0).await, from_leader, "and as the file holds them");
        assert_eq!(pairs(&follower), vec![(1, 0), (2, 6)]);
    });
}

/// Asserts `append` was refused with nothing appended: the log's end and
/// epochs unchanged.
async fn refused(
    log: &PartitionLog,
    batches: &[Bytes],
    matches: impl Fn(&ReplicaAppendError) -> bool,
) -> ReplicaAppendError {
    let (end, epochs) = (log.log_end_offset(), pairs(log));
    let err = log.append_replica(valid(batches)).await.expect_err("refused");
    assert!(matches(&err), "unexpected refusal: {err}");
    assert_eq!(log.log_end_offset(), end, "nothing appended: {err}");
    assert_eq!(pairs(log), epochs, "no epoch recorded: {err}");
    assert!(log.failure().is_none(), "a refusal does not fail the log");
    err
}

#[test]
fn a_follower_refuses_gaps_overlaps_breaks_and_epochs_going_back() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        log.append_replica(valid(&[stamped(1, 3, 0, 1), stamped(2, 2, 3, 2)])).await.unwrap(); // 0..5
        assert_eq!(pairs(&log), vec![(1, 0), (2, 3)]);

        use ReplicaAppendError::*;
        let gap = refused(&log, &[stamped(3, 2, 6, 2)], |e| matches!(e, NotAtLogEnd { .. })).await;
        assert_eq!(gap.to_string(), "replica batches start at offset 6, but the log ends at 5");
        refused(&log, &[stamped(3, 2, 3, 2)], |e| matches!(e, NotAtLogEnd { base_offset: 3, log_end_offset: 5 })).await;
        // A break inside one append: its new epoch is not recorded either.
        let broken = [stamped(3, 2, 5, 3), stamped(4, 2, 8, 3)];
        refused(&log, &broken, |e| matches!(e, NotContiguous { base_offset: 8, expected: 7 })).await;
        refused(&log, &[stamped(5, 1, 5, 1)], |e| matches!(e, EpochWentBack { epoch: 1, latest: 2, .. })).await;
        let back_inside = [stamped(6, 1, 5, 4), stamped(7, 1, 6, 3)];
        refused(&log, &back_inside, |e| matches!(e, EpochWentBack { base_offset: 6, epoch: 3, latest: 4 })).await;

        // What continues the log is taken after all that.
        log.append_replica(valid(&[stamped(9, 2, 5, 2), stamped(10, 1, 7, 5)])).await.unwrap();
        assert_eq!(log.log_end_offset(), 8);
        assert_eq!(pairs(&log), vec![(1, 0), (2, 3), (5, 7)]);
    });
}

#[test]
fn replica_appends_roll_segments_and_mix_with_cached_reads() {
    let dir = test_dir();
    let config = LogConfig { segment_bytes: 4096, ..LogConfig::default() };
    run_local(async {
        let log = open(dir.path(), config.clone()).await;
        let mut sent = Vec::new();
        let mut base = 0;
        for i in 0..40u64 {
            let b = stamped(i, 4, base, 1 + (i / 10) as u32);
            base += 4;
            log.append_replica(valid(std::slice::from_ref(&b))).await.unwrap();
            sent.push(b);
        }
        assert!(log.segment_count() > 3);
        assert_eq!(pairs(&log), vec![(1, 0), (2, 40), (3, 80), (4, 120)]);
        assert_eq!(stored_batches(&log, 0).await, sent);
    });
    run_local(async {
        let log = open(dir.path(), config).await;
        assert_eq!(pairs(&log), vec![(1, 0), (2, 40), (3, 80), (4, 120)]);
        assert_eq!(log.log_end_offset(), 160);
    });
}

#[test]
fn staged_replica_batches_count_in_the_log_end_and_are_durable_once_finished() {
    let (leader_dir, follower_dir) = (test_dir(), test_dir());
    let config = LogConfig { flush: FlushPolicy::Always, ..LogConfig::default() };
    run_local(async {
        let leader = open(leader_dir.path(), config.clone()).await;
        leader.begin_leader_epoch(1).await.unwrap();
        append_n(&leader, 1, 4, 3).await;
        let batches = stored_batches(&leader, 0).await;

        let follower = open(follower_dir.path(), config.clone()).await;
        let (first, rest) = batches.split_at(1);
        let staged = follower.stage_replica(valid(first)).await.unwrap();
        assert_eq!((staged.info().base_offset, staged.info().last_offset), (0, 2));
        assert_eq!(follower.log_end_offset(), 3, "staged: in the log end");
        assert_eq!(follower.high_watermark(), 0, "not durable yet");
        // The next fetch's batches stage behind them before the first finish.
        let next = follower.stage_replica(valid(rest)).await.unwrap();
        assert_eq!(follower.log_end_offset(), 12);
        let info = follower.finish_replica_append(next).await.unwrap();
        assert_eq!(info.last_offset, 11);
        // One group commit covered both.
        assert_eq!(follower.high_watermark(), 12);
        follower.finish_replica_append(staged).await.unwrap();
        assert_eq!(stored_batches(&follower, 0).await, batches);
    });
    run_local(async {
        let follower = open(follower_dir.path(), config).await;
        assert_eq!(follower.log_end_offset(), 12, "synced before the finish returned");
    });
}

#[test]
fn a_leader_serves_staged_batches_to_followers_before_they_are_durable() {
    let dir = test_dir();
    // A sync interval long enough that nothing commits during the test.
    let config =
        LogConfig { flush: FlushPolicy::Interval(std::time::Duration::from_secs(3600)), ..LogConfig::default() };
    run_local(async {
        let log = open(dir.path(), config).await;
        log.begin_leader_epoch(1).await.unwrap();
        let woken = log.appended_changed();
        let staged = log.stage_replica(valid(&[stamped(0, 3, 0, 1)])).await.unwrap();
        assert!(woken.await.is_ok(), "staging wakes replica long polls");
        // Interval commits once written: read before the write.
        assert_eq!(log.high_watermark(), 0);
        assert!(log.read(0, 1 << 20).await.unwrap().slices.is_empty(), "consumers see only committed batches");
        let fetched = log.read_staged(0, 1 << 20).await.unwrap();
        assert_eq!(fetched.slices.len(), 1, "followers see the staged batch");
        assert_eq!(fetched.high_watermark, 3);
        assert!(log.read_staged(3, 1 << 20).await.unwrap().slices.is_empty());
        log.finish_replica_append(staged).await.unwrap();
        assert_eq!(log.high_watermark(), 3);
    });
}

#[test]
fn a_follower_below_the_leaders_log_start_restarts_its_log_there() {
    let dir = test_dir();
    let config = LogConfig { flush: FlushPolicy::Always, segment_bytes: 4096, ..LogConfig::default() };
    run_local(async {
        let log = open(dir.path(), config.clone()).await;
        let mut base = 0;
        for i in 0..20u64 {
            log.append_replica(valid(&[stamped(i, 4, base, 1)])).await.unwrap();
            base += 4;
        }
        assert!(log.segment_count() > 1);
        // Offsets are never reused: not below the log end.
        assert!(log.restart_at(79).await.is_err());
        assert_eq!(log.log_end_offset(), 80);
        log.restart_at(500).await.unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset(), log.high_watermark()), (500, 500, 500));
        assert_eq!(log.segment_count(), 1);
        assert!(pairs(&log).is_empty(), "the old epochs are gone");
        assert!(log.read(0, 1 << 20).await.is_err(), "below the new start");
        log.append_replica(valid(&[stamped(99, 3, 500, 7)])).await.unwrap();
        assert_eq!(pairs(&log), vec![(7, 500)]);
    });
    run_local(async {
        let log = open(dir.path(), config).await;
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (500, 503));
        assert_eq!(pairs(&log), vec![(7, 500)]);
        assert_eq!(stored_batches(&log, 500).await.len(), 1);
    });
}
