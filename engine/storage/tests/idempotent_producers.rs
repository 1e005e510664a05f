//! Idempotent producers in the partition log: Kafka's sequence rules on a
//! leader's appends, duplicates answered with their first offsets, the state
//! rebuilt after a restart (from the log, and from the roll's snapshot),
//! kept by followers, and cut by truncations.

mod common;

use bytes::Bytes;
use common::test_dir;
use corelog_format::{kafka, BatchBuilder, Compression, ValidBatches};
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::producers::SequenceError;
use corelog_storage::{FlushPolicy, LogConfig, LogError, PartitionLog};

async fn open(dir: &std::path::Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(DmaStorage, dir, config).await.expect("open")
}

/// A native batch of `records` records from producer `id` at `epoch`, first sequence `seq`.
fn native(id: i64, epoch: i16, seq: i32, records: usize) -> ValidBatches {
    let mut b = BatchBuilder::new(Compression::None);
    for i in 0..records {
        b.push(None, format!("{id}:{seq}:{i}").as_bytes(), 1_000, &[]);
    }
    b.set_producer(id, epoch, seq);
    ValidBatches::from_network(b.build().unwrap().freeze(), 1 << 20).unwrap()
}

/// The same as a Kafka v2 batch.
fn kafka_batch(id: i64, epoch: i16, seq: i32, records: usize) -> ValidBatches {
    let mut b = kafka::BatchBuilder::new(kafka::Compression::None).producer(id, epoch, seq);
    for i in 0..records {
        b.push(None, Some(format!("{id}:{seq}:{i}").as_bytes()), 1_000, &[]);
    }
    ValidBatches::from_kafka_network(Bytes::from(b.build().unwrap()), 1 << 20).unwrap()
}

fn config() -> LogConfig {
    LogConfig { flush: FlushPolicy::Always, ..LogConfig::default() }
}

#[test]
fn sequences_are_checked_and_a_retry_gets_its_first_offsets() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), config()).await;
        assert_eq!(log.append_valid(native(7, 0, 0, 3)).await.unwrap().base_offset, 0);
        assert_eq!(log.append_valid(kafka_batch(7, 0, 3, 2)).await.unwrap().base_offset, 3);
        // The retry of either batch: nothing appended, its offsets named.
        match log.append_valid(native(7, 0, 0, 3)).await {
            Err(LogError::DuplicateBatch { first_offset: 0, last_offset: 2 }) => {}
            other => panic!("{other:?}"),
        }
        match log.append_valid(kafka_batch(7, 0, 3, 2)).await {
            Err(LogError::DuplicateBatch { first_offset: 3, last_offset: 4 }) => {}
            other => panic!("{other:?}"),
        }
        // A gap, an older epoch, an unknown producer not at 0: refused.
        assert!(matches!(
            log.append_valid(native(7, 0, 9, 1)).await,
            Err(LogError::Sequence(SequenceError::OutOfOrderSequence { expected: 5, got: 9, .. }))
        ));
        log.append_valid(native(7, 1, 0, 1)).await.unwrap();
        assert!(matches!(
            log.append_valid(native(7, 0, 5, 1)).await,
            Err(LogError::Sequence(SequenceError::InvalidProducerEpoch { .. }))
        ));
        assert!(matches!(
            log.append_valid(native(8, 0, 4, 1)).await,
            Err(LogError::Sequence(SequenceError::UnknownProducerId { .. }))
        ));
        // Batches without a producer id are never checked.
        log.append_valid(native(-1, -1, -1, 2)).await.unwrap();
        log.append_valid(native(-1, -1, -1, 2)).await.unwrap();
        assert_eq!(log.log_end_offset(), 10);
    });
}

#[test]
fn the_state_is_rebuilt_after_a_restart_from_the_log_and_from_the_rolls_snapshot() {
    let dir = test_dir();
    let small = LogConfig { segment_bytes: 4096, ..config() };
    run_local(async {
        let log = open(dir.path(), small.clone()).await;
        let mut seq = 0;
        for _ in 0..30 {
            log.append_valid(native(7, 0, seq, 4)).await.unwrap();
            seq += 4;
        }
        assert!(log.segment_count() >= 3, "rolled, so a snapshot was taken");
        assert!(dir.path().join("producer-state").exists());
    });
    run_local(async {
        let log = open(dir.path(), small.clone()).await;
        // The last batch (offsets 116..=119) is recognised after the restart.
        match log.append_valid(native(7, 0, 116, 4)).await {
            Err(LogError::DuplicateBatch { first_offset: 116, last_offset: 119 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(log.append_valid(native(7, 0, 120, 1)).await.unwrap().base_offset, 120);
    });
    // Without the snapshot the log alone gives the same answer.
    std::fs::remove_file(dir.path().join("producer-state")).unwrap();
    run_local(async {
        let log = open(dir.path(), small).await;
        match log.append_valid(native(7, 0, 120, 1)).await {
            Err(LogError::DuplicateBatch { first_offset: 120, last_offset: 120 }) => {}
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn a_follower_keeps_the_state_so_a_new_leader_recognises_retries() {
    let (leader_dir, follower_dir) = (test_dir(), test_dir());
    run_local(async {
        let leader = open(leader_dir.path(), config()).await;
        leader.begin_leader_epoch(1).await.unwrap();
        leader.append_valid(native(7, 0, 0, 3)).await.unwrap();
        leader.append_valid(kafka_batch(9, 2, 0, 2)).await.unwrap();
        let fetched = leader.read(0, 1 << 20).await.unwrap();
        let bytes: Vec<u8> = fetched.slices.iter().flat_map(|s| s.to_contiguous().into_owned()).collect();
        let follower = open(follower_dir.path(), config()).await;
        follower.append_replica(ValidBatches::from_network(Bytes::from(bytes), 1 << 20).unwrap()).await.unwrap();
        // Promoted: the follower leads at epoch 2 and sees the retries.
        follower.begin_leader_epoch(2).await.unwrap();
        assert!(matches!(
            follower.append_valid(native(7, 0, 0, 3)).await,
            Err(LogError::DuplicateBatch { first_offset: 0, last_offset: 2 })
        ));
        assert!(matches!(
            follower.append_valid(kafka_batch(9, 2, 0, 2)).await,
            Err(LogError::DuplicateBatch { first_offset: 3, last_offset: 4 })
        ));
        assert_eq!(follower.append_valid(native(7, 0, 3, 1)).await.unwrap().base_offset, 5);
    });
}

#[test]
fn a_truncated_batch_may_come_again() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), config()).await;
        log.append_valid(native(7, 0, 0, 3)).await.unwrap();
        log.append_valid(native(7, 0, 3, 3)).await.unwrap();
        assert_eq!(log.truncate_to(3).await.unwrap(), 3);
        // The cut batch is no duplicate any more: it is appended again.
        assert_eq!(log.append_valid(native(7, 0, 3, 3)).await.unwrap().base_offset, 3);
        log.restart_at(100).await.unwrap();
        assert!(matches!(
            log.append_valid(native(7, 0, 6, 1)).await,
            Err(LogError::Sequence(SequenceError::UnknownProducerId { .. }))
        ));
    });
}

/// A producer's pipelined batches, appended by tasks started in order:
/// they are staged in that order although the first waits for the
/// producer state to load and some wait for segment rolls, so none is
/// refused for a gap and offsets follow the sequences.
#[test]
fn pipelined_appends_stage_in_call_order_across_loads_and_rolls() {
    let dir = test_dir();
    run_local(async {
        let config = LogConfig { segment_bytes: 32 * 1024, ..config() };
        let log = std::rc::Rc::new(open(dir.path(), config).await);
        // Big and small batches in turn: when a big one must roll the
        // segment, the small one behind it would still fit the old one.
        let batch = |seq: i32, value_len: usize| {
            let mut b = BatchBuilder::new(Compression::None);
            for i in 0..10 {
                b.push(None, &vec![b'a' + (i % 26) as u8; value_len], 1_000, &[]);
            }
            b.set_producer(7, 0, seq);
            ValidBatches::from_network(b.build().unwrap().freeze(), 1 << 20).unwrap()
        };
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (log, batches) = (log.clone(), batch(i * 10, if i % 2 == 0 { 900 } else { 10 }));
                corelog_runtime::spawn(async move { log.append_valid(batches).await })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let info = task.join().await.unwrap_or_else(|e| panic!("batch {i}: {e}"));
            assert_eq!(info.base_offset, i as u64 * 10);
        }
        assert!(log.stats().segments_rolled >= 2, "the test needs rolls");
    });
}
