//! The leader-epoch file (KIP-101/279) as the log keeps it: assigned by
//! leaders, answered as Kafka answers OffsetsForLeaderEpoch, cut by
//! truncation and retention, recovered (or rebuilt) at open.

mod common;
mod epochs_support;
mod fault_support;

use std::path::Path;

use common::{small_segments, test_dir};
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::{FlushPolicy, LogConfig, LogError, PartitionLog, LEADER_EPOCH_FILE_NAME};
use epochs_support::{append_n, headers, pairs, stored_batches, valid};
use fault_support::{batches_in, seg_file, segment_bases};

async fn open(dir: &Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(DmaStorage, dir, config).await.expect("open")
}

/// The file's bytes for `pairs`, built by hand from the documented layout.
fn file_bytes(pairs: &[(u32, u64)]) -> Vec<u8> {
    let mut out = b"CLEP".to_vec();
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (epoch, start) in pairs {
        out.extend_from_slice(&epoch.to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn leader_epochs_answer_as_kafka_and_survive_reopening() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        assert_eq!(log.latest_epoch(), None);
        assert_eq!(log.end_offset_for_epoch(0), None, "nothing cached: undefined");
        log.begin_leader_epoch(1).await.unwrap();
        assert_eq!(pairs(&log), vec![(1, 0)], "recorded before any append");
        assert_eq!(log.end_offset_for_epoch(1), Some((1, 0)));
        append_n(&log, 1, 3, 5).await; // offsets 0..15
        log.begin_leader_epoch(3).await.unwrap();
        append_n(&log, 3, 2, 5).await; // offsets 15..25
        assert_eq!(pairs(&log), vec![(1, 0), (3, 15)]);

        let answers: Vec<_> = (0..=4).map(|e| log.end_offset_for_epoch(e)).collect();
        let kafka = vec![
            Some((0, 0)),  // below the first epoch: the first epoch's start
            Some((1, 15)), // ends where epoch 3 starts
            Some((1, 15)), // never a leader: the epoch below it, same end
            Some((3, 25)), // the latest: the log end
            None,          // above the latest: undefined
        ];
        assert_eq!(answers, kafka);
        assert_eq!(log.latest_epoch(), Some(3));
        let stamped: Vec<u32> = headers(&stored_batches(&log, 0).await).into_iter().map(|(_, e)| e).collect();
        assert_eq!(stamped, vec![1, 1, 1, 3, 3]);
        // Again, or a lower epoch: nothing changes.
        log.begin_leader_epoch(3).await.unwrap();
        log.begin_leader_epoch(2).await.unwrap();
        assert_eq!(pairs(&log), vec![(1, 0), (3, 15)]);
        assert_eq!(log.leader_epoch(), 3);
    });
    let on_disk = std::fs::read(dir.path().join(LEADER_EPOCH_FILE_NAME)).unwrap();
    assert_eq!(on_disk, file_bytes(&[(1, 0), (3, 15)]), "the file is the documented layout");
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        assert_eq!(pairs(&log), vec![(1, 0), (3, 15)]);
        assert_eq!(log.end_offset_for_epoch(2), Some((1, 15)));
        assert_eq!(log.end_offset_for_epoch(3), Some((3, 25)));
        assert_eq!(log.leader_epoch(), 3);
    });
}

#[test]
fn appends_record_the_epoch_they_stamp_before_staging() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        append_n(&log, 0, 2, 4).await;
        assert_eq!(pairs(&log), vec![(0, 0)], "a new log's first append starts epoch 0");
        log.set_leader_epoch(4);
        assert_eq!(pairs(&log), vec![(0, 0)], "set_leader_epoch alone records nothing");
        append_n(&log, 4, 1, 4).await;
        assert_eq!(pairs(&log), vec![(0, 0), (4, 8)], "the first append under it does");
        // Appenders racing a new epoch all land after its entry or before it.
        log.set_leader_epoch(6);
        let racing = (0..8).map(|i| log.append(common::batch(600 + i, 2, 40, 0)));
        futures::future::try_join_all(racing).await.unwrap();
        assert_eq!(pairs(&log), vec![(0, 0), (4, 8), (6, 12)]);
        let stamped = headers(&stored_batches(&log, 0).await);
        assert!(stamped.iter().all(|&(base, epoch)| epoch
            == if base >= 12 {
                6
            } else if base >= 8 {
                4
            } else {
                0
            }));
    });
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        assert_eq!(pairs(&log), vec![(0, 0), (4, 8), (6, 12)]);
    });
}

#[test]
fn a_damaged_epoch_file_fails_open_naming_the_file() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        log.begin_leader_epoch(2).await.unwrap();
        append_n(&log, 2, 2, 3).await;
    });
    let path = dir.path().join(LEADER_EPOCH_FILE_NAME);
    let good = std::fs::read(&path).unwrap();
    let mut flipped = good.clone();
    flipped[13] ^= 0x40;
    for (what, bytes) in [("flipped bit", flipped), ("cut short", good[..good.len() - 3].to_vec()), ("empty", vec![])] {
        std::fs::write(&path, &bytes).unwrap();
        let err = run_local(async { PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.err() })
            .unwrap_or_else(|| panic!("{what}: a damaged epoch file must not open"));
        let LogError::Io(io) = &err else { panic!("{what}: {err}") };
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData, "{what}: {err}");
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{what}: names the file: {message}");
        assert!(message.contains("damaged leader-epoch file"), "{what}: {message}");
    }
    std::fs::write(&path, &good).unwrap();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        assert_eq!(pairs(&log), vec![(2, 0)], "the good file opens again");
    });
}

#[test]
fn a_missing_epoch_file_is_rebuilt_from_the_batch_headers() {
    let dir = test_dir();
    let config = small_segments(4 * 1024);
    let before = run_local(async {
        let log = open(dir.path(), config.clone()).await;
        append_n(&log, 0, 20, 5).await;
        log.begin_leader_epoch(2).await.unwrap();
        append_n(&log, 2, 30, 5).await;
        log.begin_leader_epoch(7).await.unwrap();
        append_n(&log, 7, 10, 5).await;
        assert!(log.segment_count() > 3, "epochs span several segments");
        pairs(&log)
    });
    assert_eq!(before, vec![(0, 0), (2, 100), (7, 250)]);
    // As a log written before leader epochs were kept.
    std::fs::remove_file(dir.path().join(LEADER_EPOCH_FILE_NAME)).unwrap();
    run_local(async {
        let log = open(dir.path(), config.clone()).await;
        assert_eq!(pairs(&log), before, "rebuilt from the headers");
        assert_eq!(log.leader_epoch(), 7);
    });
    let saved = std::fs::read(dir.path().join(LEADER_EPOCH_FILE_NAME)).expect("saved once rebuilt");
    assert_eq!(saved, file_bytes(&before));
}

/// KIP-279: a follower whose last epoch diverged from the leader's log asks
/// the leader where that epoch ends there, truncates to it (dropping its own
/// later epoch), and replicates the leader's new epoch.
#[test]
fn a_follower_truncates_to_the_leaders_epoch_end_and_goes_on() {
    let (leader_dir, follower_dir) = (test_dir(), test_dir());
    run_local(async {
        let leader = open(leader_dir.path(), LogConfig::default()).await;
        let follower = open(follower_dir.path(), LogConfig::default()).await;
        leader.begin_leader_epoch(1).await.unwrap();
        append_n(&leader, 1, 10, 5).await; // 0..50
        follower.append_replica(valid(&stored_batches(&leader, 0).await)).await.unwrap();
        // The follower led epoch 2 for a while, writing what nobody replicated.
        follower.begin_leader_epoch(2).await.unwrap();
        append_n(&follower, 2, 4, 5).await; // 50..70
        assert_eq!(pairs(&follower), vec![(1, 0), (2, 50)]);
        // The old leader came back as leader of epoch 3 without those.
        leader.begin_leader_epoch(3).await.unwrap();
        append_n(&leader, 3, 3, 5).await; // 50..65

        let asked = follower.latest_epoch().unwrap();
        let (epoch, end) = leader.end_offset_for_epoch(asked).unwrap();
        assert_eq!((epoch, end), (1, 50));
        let local_end = follower.end_offset_for_epoch(epoch).unwrap().1;
        let new_end = follower.truncate_to(end.min(local_end)).await.unwrap();
        assert_eq!(new_end, 50);
        assert_eq!(pairs(&follower), vec![(1, 0)], "epoch 2 had no batch left");

        follower.append_replica(valid(&stored_batches(&leader, 50).await)).await.unwrap();
        assert_eq!(pairs(&follower), vec![(1, 0), (3, 50)]);
        assert_eq!(stored_batches(&follower, 0).await, stored_batches(&leader, 0).await, "byte for byte");
        assert_eq!(follower.end_offset_for_epoch(2), Some((1, 50)));
    });
    run_local(async {
        let follower = open(follower_dir.path(), LogConfig::default()).await;
        assert_eq!(pairs(&follower), vec![(1, 0), (3, 50)]);
        assert_eq!(follower.log_end_offset(), 65);
    });
}

#[test]
fn retention_clamps_the_epoch_covering_the_new_log_start() {
    let dir = test_dir();
    let mut config = small_segments(8 * 1024);
    run_local(async {
        let log = open(dir.path(), config.clone()).await;
        log.begin_leader_epoch(1).await.unwrap();
        append_n(&log, 1, 20, 5).await;
        log.begin_leader_epoch(2).await.unwrap();
        append_n(&log, 2, 40, 5).await;
        log.begin_leader_epoch(4).await.unwrap();
        append_n(&log, 4, 10, 5).await;
        assert_eq!(pairs(&log), vec![(1, 0), (2, 100), (4, 300)]);
        config.retention_bytes = Some(log.size_bytes() / 3);
        log.set_config(config.clone());
        let out = log.enforce_retention().await.unwrap();
        assert!(out.deleted_segments > 0);
        let start = log.log_start_offset();
        assert!(start > 100 && start < 300, "the new start {start} is inside epoch 2");
        assert_eq!(pairs(&log), vec![(2, start), (4, 300)]);
        assert_eq!(log.end_offset_for_epoch(1), Some((1, start)), "below the first: its start");
        start
    });
    run_local(async {
        let log = open(dir.path(), config).await;
        let start = log.log_start_offset();
        assert_eq!(pairs(&log), vec![(2, start), (4, 300)]);
    });
}

/// Entries are durable before their batches: a process that dies without a
/// flush keeps them. A crash that loses the tail where an epoch started (its
/// unsynced writes) leaves an entry past the recovered end: dropped at open,
/// and from the file too.
#[test]
fn epochs_survive_a_crash_and_ones_past_the_recovered_end_are_dropped() {
    let dir = test_dir();
    let config =
        LogConfig { flush: FlushPolicy::Interval(std::time::Duration::from_secs(3600)), ..LogConfig::default() };
    run_local(async {
        let log = open(dir.path(), config.clone()).await;
        log.begin_leader_epoch(1).await.unwrap();
        append_n(&log, 1, 4, 5).await;
        log.begin_leader_epoch(5).await.unwrap();
        append_n(&log, 5, 3, 5).await;
        // Dropped without a flush: the process dies here.
    });
    // A half-written save left its temporary file behind.
    std::fs::write(dir.path().join(format!("{LEADER_EPOCH_FILE_NAME}.tmp")), b"torn").unwrap();
    run_local(async {
        let log = open(dir.path(), config.clone()).await;
        assert_eq!(log.log_end_offset(), 35);
        assert_eq!(pairs(&log), vec![(1, 0), (5, 20)], "the entries survived");
    });
    // The power went too: the unsynced tail from epoch 5 on never reached
    // the disk.
    let segment = *segment_bases(dir.path()).last().unwrap();
    let path = seg_file(dir.path(), segment, "log");
    let cut = batches_in(&path).into_iter().find(|b| b.base == 20).unwrap().pos;
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut).unwrap();
    run_local(async {
        let log = open(dir.path(), config.clone()).await;
        assert_eq!(log.log_end_offset(), 20);
        assert_eq!(pairs(&log), vec![(1, 0)], "epoch 5 has no batch left");
        assert_eq!(log.end_offset_for_epoch(5), None);
    });
    let on_disk = std::fs::read(dir.path().join(LEADER_EPOCH_FILE_NAME)).unwrap();
    assert_eq!(on_disk, file_bytes(&[(1, 0)]), "and the file says so");
}

/// A torn write (FaultyStorage) right after a new epoch began: the append
/// fails, the entry is on disk, its batch is not; reopening drops it.
#[test]
fn a_torn_first_batch_of_an_epoch_leaves_no_entry_after_reopening() {
    use corelog_storage::disk::{Fault, FaultyStorage};
    let dir = test_dir();
    let config = LogConfig { flush: FlushPolicy::Always, ..LogConfig::default() };
    run_local(async {
        let storage = FaultyStorage::new(DmaStorage);
        let log = PartitionLog::open(storage.clone(), dir.path(), config.clone()).await.unwrap();
        log.begin_leader_epoch(1).await.unwrap();
        append_n(&log, 1, 3, 5).await;
        log.set_leader_epoch(2);
        storage.arm(Fault::TearNextWrite { keep_blocks: 0 });
        let err = log.append(common::batch(7, 5, 40, 0)).await.expect_err("torn");
        assert!(matches!(err, LogError::Failed(_)), "{err}");
        assert_eq!(pairs(&log), vec![(1, 0), (2, 15)], "recorded before staging");
    });
    run_local(async {
        let log = open(dir.path(), config).await;
        assert_eq!(log.log_end_offset(), 15);
        assert_eq!(pairs(&log), vec![(1, 0)]);
        append_n(&log, 1, 1, 5).await;
        assert_eq!(pairs(&log), vec![(1, 0)], "the log goes on under its last batch's epoch");
    });
}

/// With the file there, opening trusts it (no scan of the batch headers,
/// which keeps a restart of many partitions fast): a file saying something
/// the headers do not is what the log reports.
#[test]
fn opening_trusts_an_existing_epoch_file_without_scanning() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        append_n(&log, 0, 3, 5).await;
        assert_eq!(pairs(&log), vec![(0, 0)]);
    });
    std::fs::write(dir.path().join(LEADER_EPOCH_FILE_NAME), file_bytes(&[(9, 0)])).unwrap();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        assert_eq!(pairs(&log), vec![(9, 0)], "read from the file, not rebuilt from the headers");
        assert_eq!(log.leader_epoch(), 9, "the log's epoch is at least the file's latest");
    });
}
