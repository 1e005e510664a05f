//! A roll lets the log go before its old segment is sealed (log trimmed,
//! indexes written whole; log/roll.rs): appends into the new segment go on
//! while that seal is slow, and a crash before it ends loses nothing. Nor
//! does it hold the log for the directory sync its new files need.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{batch, ended, read_all_values, small_segments, test_dir};
use corelog_runtime::run_local;
use corelog_storage::disk::{DmaStorage, Fault, FaultyStorage};
use corelog_storage::{FlushPolicy, LogConfig, PartitionLog};

const SEGMENT_BYTES: u64 = 16 * 1024;

#[test]
fn appends_go_on_while_a_rolled_segment_seals_and_a_crash_before_it_ends_loses_none() {
    let dir = test_dir();
    let path = dir.path().to_path_buf();
    run_local(async move {
        let storage = FaultyStorage::new(DmaStorage);
        let log = Rc::new(PartitionLog::open(storage.clone(), &path, small_segments(SEGMENT_BYTES)).await.unwrap());
        // The seal starts by trimming the old log: held there.
        storage.arm(Fault::StallTruncate { path_contains: ".log".into() });
        let mut acked = 0u64;
        let mut tag = 0u64;
        // Appends, each as its own task, until one rolls: that one waits
        // for its seal, which cannot end.
        let (roller, roller_done) = loop {
            let done = Rc::new(Cell::new(None));
            {
                let (log, done, tag) = (log.clone(), done.clone(), tag);
                corelog_runtime::spawn_detached(async move {
                    let info = log.append(batch(tag, 5, 300, tag as i64)).await.unwrap();
                    done.set(Some(info.last_offset + 1));
                });
            }
            tag += 1;
            match corelog_runtime::timeout(Duration::from_millis(500), ended(&done)).await {
                Some(end) => acked = end,
                None => break (tag - 1, done),
            }
            assert!(tag < 1000, "no append ever rolled");
        };
        assert_eq!(log.stats().segments_rolled, 1, "the append that waits is the one that rolled");
        // The rolled segment is not sealed, yet the log is not held: these
        // land in the new segment and are acknowledged (durable).
        for _ in 0..3 {
            let info = corelog_runtime::timeout(Duration::from_secs(5), log.append(batch(tag, 5, 300, tag as i64)))
                .await
                .expect("an append while a rolled segment seals is not held up by it")
                .unwrap();
            tag += 1;
            acked = info.last_offset + 1;
        }
        assert!(acked > (roller + 1) * 5, "acked past the roller's batch");
        // A crash now (the seal never ends): the last segment's successor
        // exists while it is untrimmed and its indexes are not sealed.
        let reopened = PartitionLog::open(DmaStorage, &path, small_segments(SEGMENT_BYTES)).await.unwrap();
        let report = reopened.stats().recovery;
        assert_eq!((report.bad_batches, report.segments_removed), (0, 0), "{report:?}");
        assert!(report.indexes_rebuilt >= 1, "the unsealed segment's indexes are rebuilt: {report:?}");
        assert!(reopened.log_end_offset() >= acked);
        let all = read_all_values(&reopened, 0).await;
        assert!(all.len() as u64 >= acked, "{} records back, {acked} acknowledged", all.len());
        for (i, (offset, value)) in all.iter().enumerate() {
            assert_eq!(*offset, i as u64);
            let expected = format!("{}:{}:", offset / 5, offset % 5);
            assert!(value.starts_with(expected.as_bytes()), "offset {offset}");
        }
        // And once the seal can end, the roller's append is acknowledged.
        drop(reopened);
        storage.disarm_all();
        let end = corelog_runtime::timeout(Duration::from_secs(5), ended(&roller_done)).await;
        assert_eq!(end, Some((roller + 1) * 5));
    });
}

/// A roll does not sync the directory under the log: the new segment's
/// first fdatasync syncs it beside the data. With directory syncs held,
/// appends that need no sync go on across rolls, and nothing in a new
/// segment becomes durable (a flush returns) until the directory is synced.
#[test]
fn a_roll_leaves_the_directory_sync_to_the_new_segments_first_fdatasync() {
    let dir = test_dir();
    let path = dir.path().to_path_buf();
    run_local(async move {
        let storage = FaultyStorage::new(DmaStorage);
        let config =
            LogConfig { flush: FlushPolicy::Interval(Duration::from_secs(3600)), ..small_segments(SEGMENT_BYTES) };
        let log = Rc::new(PartitionLog::open(storage.clone(), &path, config).await.unwrap());
        storage.arm(Fault::StallSyncDir);
        let mut tag = 0u64;
        // Into the first new segment and on (a second roll would sync the
        // first one whole, its name too, and wait).
        let mut after_roll = 0;
        while after_roll < 3 {
            after_roll += u64::from(log.stats().segments_rolled == 1);
            corelog_runtime::timeout(Duration::from_secs(5), log.append(batch(tag, 5, 300, tag as i64)))
                .await
                .expect("a roll does not wait for the directory sync")
                .unwrap();
            tag += 1;
            assert!(tag < 1000, "no append ever rolled");
        }
        assert_eq!(log.stats().segments_rolled, 1);
        let flushed = Rc::new(Cell::new(false));
        {
            let (log, flushed) = (log.clone(), flushed.clone());
            corelog_runtime::spawn_detached(async move {
                log.flush().await.unwrap();
                flushed.set(true);
            });
        }
        corelog_runtime::sleep(Duration::from_millis(300)).await;
        assert!(!flushed.get(), "the new segment was made durable before its directory entry");
        storage.disarm_all();
        corelog_runtime::timeout(Duration::from_secs(5), async {
            while !flushed.get() {
                corelog_runtime::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("the flush ends once the directory syncs");
        let reopened = PartitionLog::open(DmaStorage, &path, small_segments(SEGMENT_BYTES)).await.unwrap();
        assert_eq!(reopened.log_end_offset(), tag * 5);
    });
}
