//! Damage to stored Kafka batches is found and reported exactly like damage
//! to native ones (a torn tail cut on recovery, a flipped byte refused as
//! `CorruptBatch` with the rest readable), and a follower stores the
//! leader's Kafka batches byte for byte.

mod common;
mod kafka_support;

use std::io::{Read as _, Seek, SeekFrom, Write};

use bytes::Bytes;
use common::{batch, small_segments};
use corelog_format::kafka::Compression;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::ValidBatches;
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::{LogConfig, LogError, PartitionLog};
use kafka_support::*;

/// Overwrites `len` bytes at `pos` of `path` with `f` of what was there.
fn edit(path: &std::path::Path, pos: u64, len: usize, f: impl Fn(u8) -> u8) {
    let mut file = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut bytes = vec![0u8; len];
    file.seek(SeekFrom::Start(pos)).unwrap();
    file.read_exact(&mut bytes).unwrap();
    let bytes: Vec<u8> = bytes.into_iter().map(f).collect();
    file.seek(SeekFrom::Start(pos)).unwrap();
    file.write_all(&bytes).unwrap();
    file.sync_all().unwrap();
}

async fn append_kafka(log: &PartitionLog<DmaStorage>, count: usize) {
    for i in 0..count {
        let codec = Compression::ALL[i % Compression::ALL.len()];
        let (_, valid) = kafka_request(&[kafka_batch(codec, i as u64, 3, 1_000 * i as i64)]);
        log.append_valid(valid).await.unwrap();
    }
}

#[test]
fn a_torn_kafka_batch_at_the_tail_is_cut_on_recovery() {
    let dir = common::test_dir();
    let records = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        append_kafka(&log, 8).await;
        read_all(&log, 0).await
    });
    let bases = segment_bases(dir.path());
    assert_eq!(bases, vec![0]);
    let on_disk = batches_in(&seg_file(dir.path(), 0, "log"));
    let last = *on_disk.last().unwrap();
    assert!(last.kafka);
    // A torn write: the batch's second half never reached the disk (the
    // preallocated space reads as zeros).
    let half = last.len / 2;
    edit(&seg_file(dir.path(), 0, "log"), last.pos + half, (last.len - half) as usize, |_| 0);

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        let report = log.stats().recovery;
        assert_eq!(report.bad_batches, 1, "{report:?}");
        assert!(report.truncated_bytes >= last.len - half, "{report:?}");
        assert_eq!(log.log_end_offset(), last.base, "cut at the torn batch");
        assert_eq!(read_all(&log, 0).await, records[..last.base as usize].to_vec());
        // The log goes on where the cut left it.
        let (_, valid) = kafka_request(&[kafka_batch(Compression::Lz4, 77, 2, 9_000)]);
        assert_eq!(log.append_valid(valid).await.unwrap().base_offset, last.base);
    });
}

#[test]
fn a_flipped_byte_in_a_sealed_kafka_batch_is_corrupt_and_the_rest_readable() {
    let dir = common::test_dir();
    let cfg = small_segments(8 * 1024);
    let records = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        append_kafka(&log, 40).await;
        // A native batch in the same log, read across after the damage.
        log.append(batch(500, 3, 40, 50_000)).await.unwrap();
        read_all(&log, 0).await
    });
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 3, "{bases:?}");
    let victim = bases[1];
    let on_disk = batches_in(&seg_file(dir.path(), victim, "log"));
    assert!(on_disk.len() >= 3);
    let hit = on_disk[1];
    assert!(hit.kafka);
    // A byte in the records, under the CRC-32C.
    edit(&seg_file(dir.path(), victim, "log"), hit.pos + hit.wire_len - 3, 1, |b| b ^ 0x20);

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        assert_eq!(log.log_end_offset(), records.len() as u64, "damage in a sealed segment cuts nothing");
        for offset in hit.base..hit.next {
            match log.read(offset, 1 << 20).await {
                Err(LogError::CorruptBatch { offset: bad, next_offset, segment, position, reason }) => {
                    assert_eq!((bad, next_offset, segment, position), (hit.base, hit.next, victim, hit.pos));
                    assert!(reason.contains("crc"), "{reason}");
                }
                other => panic!("read at {offset} of the damaged batch: {:?}", other.map(|f| f.byte_len())),
            }
        }
        // Everything after the damaged batch reads, and everything before.
        let after = read_all(&log, hit.next).await;
        assert_eq!(after, records[hit.next as usize..].to_vec());
        let mut first = Vec::new();
        let mut offset = 0;
        while offset < hit.base {
            let fetched = log.read(offset, 1).await.unwrap();
            for r in stored_batches(&fetched).iter().flat_map(|b| records_of(b)) {
                offset = r.offset + 1;
                first.push(r);
            }
        }
        assert_eq!(first, records[..hit.base as usize].to_vec());
    });
}

/// A leader's stored bytes, as a follower fetches them, appended to the
/// follower keep their offsets and epochs, byte for byte.
#[test]
fn a_follower_stores_the_leaders_kafka_batches_byte_for_byte() {
    let (leader_dir, follower_dir) = (common::test_dir(), common::test_dir());
    run_local(async {
        let leader = PartitionLog::open(DmaStorage, leader_dir.path(), small_segments(8 * 1024)).await.unwrap();
        leader.set_leader_epoch(1);
        append_kafka(&leader, 6).await;
        leader.append(batch(300, 4, 30, 7_000)).await.unwrap();
        leader.set_leader_epoch(3);
        append_kafka(&leader, 20).await;
        let stored = all_stored(&leader, 0).await;

        let follower = PartitionLog::open(DmaStorage, follower_dir.path(), LogConfig::default()).await.unwrap();
        // Fetched in three responses: the first two appended at once, the
        // last staged and then finished (the follower's pipeline).
        let chunks = [&stored[..4], &stored[4..15], &stored[15..]];
        for (i, chunk) in chunks.iter().enumerate() {
            let bytes = Bytes::from(chunk.concat());
            let valid = ValidBatches::from_network(bytes, MAX_BATCH_BYTES_CEILING).unwrap();
            assert_eq!(valid.byte_len(), chunk.iter().map(Vec::len).sum::<usize>());
            if i < 2 {
                follower.append_replica(valid).await.unwrap();
            } else {
                let staged = follower.stage_replica(valid).await.unwrap();
                assert_eq!(staged.info().last_offset + 1, leader.log_end_offset());
                follower.finish_replica_append(staged).await.unwrap();
            }
        }
        assert_eq!(follower.log_end_offset(), leader.log_end_offset());
        assert_eq!(all_stored(&follower, 0).await, stored, "from the follower's tail cache");
        assert_eq!(follower.epoch_entries(), leader.epoch_entries());
        drop(follower);
        let follower = PartitionLog::open(DmaStorage, follower_dir.path(), LogConfig::default()).await.unwrap();
        assert_eq!(all_stored(&follower, 0).await, stored, "from the follower's segment");
        assert_eq!(follower.leader_epoch(), 3);

        // A replica batch that does not continue the log is refused whole.
        let again = ValidBatches::from_network(Bytes::from(stored[3].clone()), MAX_BATCH_BYTES_CEILING).unwrap();
        assert!(follower.append_replica(again).await.is_err());
        assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    });
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Every field of a stored Kafka batch: under the CRC-32C, outside it
/// (base offset, epoch, batchLength) and the padding after it.
#[test]
fn damage_anywhere_in_a_kafka_batch_is_reported_as_corrupt() {
    let dir = common::test_dir();
    let cfg = small_segments(8 * 1024);
    let records = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        append_kafka(&log, 40).await;
        read_all(&log, 0).await
    });
    let victim = segment_bases(dir.path())[1];
    let on_disk = batches_in(&seg_file(dir.path(), victim, "log"));
    let hit = *on_disk.iter().skip(1).find(|b| b.kafka && b.len > b.wire_len).expect("a padded Kafka batch");
    let cases: [(&str, u64, u8); 8] = [
        ("base offset sign bit", 0, 0x80),
        ("base offset low bit", 7, 0x01),
        ("batchLength", 11, 0x04),
        ("epoch sign bit", 12, 0x80),
        ("epoch low bit", 15, 0x01),
        ("magic", 16, 0x01),
        ("crc", 18, 0x10),
        ("records", hit.wire_len - 1, 0x08),
    ];
    for (what, at, mask) in cases.into_iter().chain([("padding", hit.wire_len, 0x01)]) {
        let copy = common::test_dir();
        copy_dir(dir.path(), copy.path());
        edit(&seg_file(copy.path(), victim, "log"), hit.pos + at, 1, |b| b ^ mask);
        run_local(async {
            let log = PartitionLog::open(DmaStorage, copy.path(), cfg.clone()).await.unwrap();
            match log.read(hit.base, 1 << 20).await {
                Err(LogError::CorruptBatch { offset, segment, position, .. }) => {
                    assert_eq!((offset, segment, position), (hit.base, victim, hit.pos), "{what}");
                }
                other => panic!("{what}: {:?}", other.map(|f| f.byte_len())),
            }
            assert_eq!(read_all(&log, hit.next).await, records[hit.next as usize..].to_vec(), "{what}");
        });
    }
}
