//! The partition log end to end on real O_DIRECT files.

mod common;

use common::{batch, read_all_values, small_segments};
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::{LogConfig, LogError, PartitionLog};

#[test]
fn append_read_reopen() {
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        assert_eq!(log.log_end_offset(), 0);
        let a = log.append(batch(1, 10, 100, 1000)).await.unwrap();
        let b = log.append(batch(2, 5, 100, 2000)).await.unwrap();
        assert_eq!((a.base_offset, a.last_offset), (0, 9));
        assert_eq!((b.base_offset, b.last_offset), (10, 14));
        let all = read_all_values(&log, 0).await;
        assert_eq!(all.len(), 15);
        assert!(all[12].1.starts_with(b"2:2:"));
        assert!(log.read(16, 1000).await.is_err());
        assert_eq!(log.read(15, 1000).await.unwrap().slices.len(), 0);
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        assert_eq!(log.log_end_offset(), 15);
        assert_eq!(log.stats().recovery.bad_batches, 0);
        let all = read_all_values(&log, 3).await;
        assert_eq!(all.first().unwrap().0, 3);
        assert_eq!(all.len(), 12);
        let c = log.append(batch(3, 1, 10, 3000)).await.unwrap();
        assert_eq!(c.base_offset, 15);
    });
}

#[test]
fn rolls_segments_and_reads_across_them_after_reopen() {
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), small_segments(64 * 1024)).await.unwrap();
        for i in 0..100 {
            log.append(batch(i, 10, 300, i as i64 * 100)).await.unwrap();
        }
        assert!(log.segment_count() > 5, "segments: {}", log.segment_count());
        assert_eq!(read_all_values(&log, 0).await.len(), 1000);
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), small_segments(64 * 1024)).await.unwrap();
        assert_eq!(log.log_end_offset(), 1000);
        let all = read_all_values(&log, 0).await;
        assert_eq!(all.len(), 1000);
        for (i, (o, v)) in all.iter().enumerate() {
            assert_eq!(*o, i as u64);
            let want = format!("{}:{}:", i / 10, i % 10);
            assert!(v.starts_with(want.as_bytes()));
        }
        // Every batch's timestamps are tag*100 + i.
        assert_eq!(log.offset_for_timestamp(5005).await.unwrap(), Some((505, 5005)));
        assert_eq!(log.offset_for_timestamp(-1).await.unwrap(), Some((0, 0)));
        assert_eq!(log.offset_for_timestamp(1_000_000).await.unwrap(), None);
    });
}

#[test]
fn truncate_to_cuts_at_the_batch_boundary_and_appends_continue() {
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), small_segments(32 * 1024)).await.unwrap();
        for i in 0..50 {
            log.append(batch(i, 10, 200, 0)).await.unwrap();
        }
        let end = log.truncate_to(255).await.unwrap();
        assert_eq!(end, 250);
        assert_eq!(log.log_end_offset(), 250);
        let next = log.append(batch(99, 3, 10, 0)).await.unwrap();
        assert_eq!(next.base_offset, 250);
        let all = read_all_values(&log, 0).await;
        assert_eq!(all.len(), 253);
        assert!(all[251].1.starts_with(b"99:1:"));
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), small_segments(32 * 1024)).await.unwrap();
        assert_eq!(log.log_end_offset(), 253);
        assert_eq!(read_all_values(&log, 0).await.len(), 253);
    });
}

#[test]
fn retention_deletes_whole_sealed_segments() {
    let dir = common::test_dir();
    run_local(async {
        let mut config = small_segments(16 * 1024);
        let log = PartitionLog::open(DmaStorage, dir.path(), config.clone()).await.unwrap();
        for i in 0..40 {
            log.append(batch(i, 5, 300, i as i64 * 1000)).await.unwrap();
        }
        let before = log.segment_count();
        config.retention_bytes = Some(40 * 1024);
        log.set_config(config.clone());
        let out = log.enforce_retention().await.unwrap();
        assert!(out.deleted_segments > 0);
        assert_eq!(log.segment_count(), before - out.deleted_segments as usize);
        assert!(log.size_bytes() >= 40 * 1024);
        let start = log.log_start_offset();
        assert!(start > 0);
        assert!(matches!(log.read(0, 100).await, Err(LogError::OffsetOutOfRange { .. })));
        assert_eq!(read_all_values(&log, start).await.len() as u64, 200 - start);

        config.retention_bytes = None;
        config.retention_ms = Some(1);
        log.set_config(config);
        // Every timestamp is tiny, so everything sealed is expired.
        log.enforce_retention().await.unwrap();
        assert_eq!(log.segment_count(), 1);
    });
}

#[test]
fn concurrent_appenders_share_fsyncs_and_none_is_starved() {
    use std::rc::Rc;
    let dir = common::test_dir();
    run_local(async {
        // Small chunks: most chunks fill and are written early, while another
        // appender's flush is in flight.
        let config = LogConfig { write_chunk_bytes: 8 * 1024, segment_bytes: 512 * 1024, ..LogConfig::default() };
        let log = Rc::new(PartitionLog::open(DmaStorage, dir.path(), config.clone()).await.unwrap());
        let tasks: Vec<_> = (0..8u64)
            .map(|t| {
                let log = log.clone();
                corelog_runtime::spawn(async move {
                    for i in 0..40u64 {
                        log.append(batch(t * 1000 + i, 3, 1500, 0)).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.join().await;
        }
        let stats = log.stats();
        assert_eq!(stats.appended_batches, 320);
        assert!(stats.fsyncs < 320, "appends shared fdatasyncs: {} for 320 batches", stats.fsyncs);
        assert_eq!(read_all_values(&log, 0).await.len(), 960);
        drop(log);
        let log = PartitionLog::open(DmaStorage, dir.path(), config).await.unwrap();
        assert_eq!(log.stats().recovery.bad_batches, 0);
        let all = read_all_values(&log, 0).await;
        assert_eq!(all.len(), 960);
        // Every task's batches are all there, each record intact.
        for t in 0..8u64 {
            for i in 0..40u64 {
                let prefix = format!("{}:", t * 1000 + i);
                assert_eq!(all.iter().filter(|(_, v)| v.starts_with(prefix.as_bytes())).count(), 3);
            }
        }
    });
}

#[test]
fn sequential_disk_reads_are_read_ahead_and_truncation_drops_the_window() {
    let dir = common::test_dir();
    run_local(async {
        // No tail cache: every read goes to the segment file.
        let config = LogConfig { tail_cache_bytes: 0, ..small_segments(64 << 20) };
        let log = PartitionLog::open(DmaStorage, dir.path(), config).await.unwrap();
        for i in 0..300 {
            log.append(batch(i, 10, 1000, 0)).await.unwrap(); // ~10 KiB batches, ~3 MiB in all
        }
        let all = read_all_values(&log, 0).await;
        assert_eq!(all.len(), 3000);
        for (i, (o, v)) in all.iter().enumerate() {
            assert_eq!(*o, i as u64);
            assert!(v.starts_with(format!("{}:{}:", i / 10, i % 10).as_bytes()), "offset {o}");
        }
        let hits = log.stats().read_ahead_hits;
        assert!(hits >= 5, "sequential reads after the first come from the read-ahead: {hits}");

        // A read leaves a window for offset 1000 on; truncating below it and
        // appending other batches at the same offsets must not serve the window.
        let first = common::values(&log.read(900, 100 * 1024).await.unwrap());
        let next = first.last().unwrap().0 + 1;
        assert_eq!(log.truncate_to(next - 50).await.unwrap(), next - 50);
        for i in 0..20 {
            log.append(batch(1000 + i, 10, 1000, 0)).await.unwrap();
        }
        let after = common::values(&log.read(next, 100 * 1024).await.unwrap());
        let (o, v) = after.iter().find(|(o, _)| *o == next).expect("offset is there again");
        let want = format!("{}:{}:", 1000 + (o - (next - 50)) / 10, (o - (next - 50)) % 10);
        assert!(
            v.starts_with(want.as_bytes()),
            "offset {o} holds {:?}, want {want}",
            String::from_utf8_lossy(&v[..12])
        );
        assert_eq!(log.stats().read_ahead_hits, hits, "the old window was dropped, not used");
    });
}

/// Long-poll fetches that time out drop their wait; on a partition that
/// never moves nothing drains them, so the log must prune them itself.
#[test]
fn abandoned_commit_waits_do_not_accumulate() {
    use corelog_storage::limits::MIN_COMMIT_WAITERS_TO_PRUNE;
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        let live: Vec<_> = (0..10).map(|_| log.committed_changed()).collect();
        for _ in 0..100_000 {
            drop(log.committed_changed());
        }
        let bound = MIN_COMMIT_WAITERS_TO_PRUNE.max(2 * live.len()) + 1;
        assert!(log.commit_waiters() <= bound, "{} waiters held, bound {bound}", log.commit_waiters());
        // Pruning keeps the live ones: an append wakes every one of them.
        log.append(batch(1, 1, 10, 0)).await.unwrap();
        for wait in live {
            assert_eq!(wait.await, Ok(()));
        }
        assert_eq!(log.commit_waiters(), 0);
    });
}

/// The active segment's index files are opened only to be written; one that
/// cannot be opened (out of descriptors, here: a directory in its place)
/// leaves its entries for a later write instead of failing the log.
#[test]
fn an_index_file_that_cannot_be_opened_is_written_later_and_the_log_goes_on() {
    let dir = common::test_dir();
    let index = dir.path().join("00000000000000000000.index");
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        for i in 0..20 {
            log.append(batch(i, 10, 100, 1000)).await.unwrap();
        }
        std::fs::remove_file(&index).unwrap();
        std::fs::create_dir(&index).unwrap();
        log.flush().await.expect("a flush whose index write cannot open its file");
        assert_eq!(log.failure(), None);
        log.append(batch(20, 10, 100, 1000)).await.expect("appends go on");
        std::fs::remove_dir(&index).unwrap();
        log.flush().await.unwrap();
    });
    // Written at the second flush: the entries point at the batches.
    assert!(std::fs::metadata(&index).unwrap().len() > 0, "the index was not written after all");
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        assert_eq!(log.stats().recovery.indexes_rebuilt, 0);
        let all = read_all_values(&log, 0).await;
        assert_eq!(all.len(), 210);
        assert!(all[205].1.starts_with(b"20:5:"));
    });
}

#[test]
fn max_timestamp_lookup_finds_the_newest_record_in_any_segment() {
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), small_segments(32 * 1024)).await.unwrap();
        assert_eq!(log.offset_of_max_timestamp().await.unwrap(), None, "empty log");
        // Timestamps go back and forth: the newest record sits in an early
        // segment, and a later batch repeats its timestamp.
        for i in 0..40u64 {
            let ts = if i == 7 { 900_000 } else { 1000 * i as i64 };
            log.append(batch(i, 10, 200, ts)).await.unwrap();
        }
        log.append(batch(40, 1, 10, 900_009)).await.unwrap();
        assert!(log.stats().segments_rolled > 1, "the test needs several segments");
        // Batch 7 holds offsets 70..80 with timestamps 900_000 + i: the
        // newest is offset 79 at 900_009; offset 400 repeats it, later.
        assert_eq!(log.offset_of_max_timestamp().await.unwrap(), Some((79, 900_009)));
        log.append(batch(41, 2, 10, 2_000_000)).await.unwrap();
        assert_eq!(log.offset_of_max_timestamp().await.unwrap(), Some((402, 2_000_001)));
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), small_segments(32 * 1024)).await.unwrap();
        assert_eq!(log.offset_of_max_timestamp().await.unwrap(), Some((402, 2_000_001)), "after reopen");
    });
}
