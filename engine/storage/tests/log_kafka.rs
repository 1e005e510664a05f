//! Kafka v2 batches in the partition log, next to native ones: stored as
//! they came (offsets and epoch stamped, zero padding added, never
//! re-encoded), and treated like native batches by offsets, indexes,
//! timestamps, retention, truncation, recovery and the tail cache.

mod common;
mod kafka_support;

use common::{batch, small_segments};
use corelog_format::kafka::{self, Compression};
use corelog_format::limits::{BATCH_ALIGNMENT, MAX_BATCH_BYTES_CEILING};
use corelog_format::stored::kafka_stored_len;
use corelog_format::{BatchFormat, StoredBatch};
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::{BatchSlice, LogConfig, PartitionLog};
use kafka_support::*;

/// What was appended, to compare the stored bytes against.
enum Appended {
    Kafka { wire: Vec<u8>, base: u64 },
    Native { bytes: Vec<u8>, base: u64 },
}

/// The stored bytes `appended` must read back as, under `epoch`.
fn expected_stored(appended: &Appended, epoch: u32) -> Vec<u8> {
    match appended {
        Appended::Kafka { wire, base } => {
            let mut out = wire.clone();
            out[..8].copy_from_slice(&(*base as i64).to_be_bytes());
            out[12..16].copy_from_slice(&(epoch as i32).to_be_bytes());
            out.resize(kafka_stored_len(wire.len()), 0);
            out
        }
        Appended::Native { bytes, base } => {
            let mut out = bytes.clone();
            out[..8].copy_from_slice(&base.to_le_bytes());
            out[12..16].copy_from_slice(&epoch.to_le_bytes());
            out
        }
    }
}

#[test]
fn kafka_and_native_batches_interleave_and_read_back_as_stored() {
    let dir = common::test_dir();
    let (appended, from_cache) = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        log.set_leader_epoch(5);
        let mut appended = Vec::new();
        let mut blobs = Vec::new();
        for (i, codec) in Compression::ALL.into_iter().enumerate() {
            let tag = i as u64 * 10;
            let wires = vec![kafka_batch(codec, tag, 3 + i, 1_000), kafka_batch(codec, tag + 1, 1, 2_000)];
            let (blob, valid) = kafka_request(&wires);
            assert_eq!(valid.len(), 2);
            let info = log.append_valid(valid).await.unwrap();
            let mut base = info.base_offset;
            for wire in wires {
                let n = kafka::validate(&wire, MAX_BATCH_BYTES_CEILING).unwrap().record_count() as u64;
                appended.push(Appended::Kafka { wire, base });
                base += n;
            }
            assert_eq!(base, info.last_offset + 1, "dense offsets");
            blobs.push(blob);
            let native = batch(tag + 2, 2, 30, 3_000);
            let info = log.append(native.clone()).await.unwrap();
            assert_eq!(info.base_offset, base);
            appended.push(Appended::Native { bytes: native.to_vec(), base });
        }
        // The tail cache serves the request's own memory, header stamped,
        // padding added.
        let fetched = log.read(0, 1 << 20).await.unwrap();
        let mut kafka_seen = 0;
        for slice in &fetched.slices {
            let BatchSlice::Memory(cached) = slice else { panic!("served from the tail cache") };
            if StoredBatch::peek(&cached.header).unwrap().format() == BatchFormat::Kafka {
                kafka_seen += 1;
                let in_a_request = blobs.iter().any(|b| b.as_ptr_range().contains(&cached.rest.as_ptr()));
                assert!(in_a_request, "the cached records are the request's bytes, not a copy");
                assert_eq!(cached.len() % BATCH_ALIGNMENT, 0);
                assert!(cached.padding.iter().all(|&b| b == 0));
            }
        }
        assert_eq!(kafka_seen, 10);
        let stored = stored_batches(&fetched);
        log.flush().await.unwrap();
        (appended, stored)
    });
    assert_eq!(from_cache.len(), appended.len());
    for (got, want) in from_cache.iter().zip(&appended) {
        assert_eq!(got, &expected_stored(want, 5), "stored = input with offset and epoch stamped, + padding");
        // The stamped fields are outside the CRC: the stored batch still
        // passes the full check of its format.
        StoredBatch::validate_full(got, MAX_BATCH_BYTES_CEILING).unwrap();
    }
    let records: Vec<Read> = from_cache.iter().flat_map(|b| records_of(b)).collect();
    assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..records.len() as u64).collect::<Vec<_>>());

    // Reopened, the same bytes come from the segment file.
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        assert_eq!(log.log_end_offset(), records.len() as u64);
        let fetched = log.read(0, 1 << 20).await.unwrap();
        assert!(fetched.slices.iter().all(|s| matches!(s, BatchSlice::Disk(_))), "cache is empty after a reopen");
        assert_eq!(stored_batches(&fetched), from_cache);
        assert_eq!(read_all(&log, 0).await, records);
        // A read from inside a Kafka batch (offsets 0..=2) starts at it.
        let inside = log.read(1, 1).await.unwrap();
        assert_eq!(stored_batches(&inside), vec![from_cache[0].clone()]);
    });
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Appends `count` Kafka batches of 4 records (codecs in turn, a native
/// batch after every 5th), batch `i` at `ts(i)`; returns each batch's
/// (base offset, first timestamp).
async fn fill(log: &PartitionLog<DmaStorage>, count: usize, ts: impl Fn(usize) -> i64) -> Vec<(u64, i64)> {
    let mut out = Vec::new();
    for i in 0..count {
        let codec = Compression::ALL[i % Compression::ALL.len()];
        let (_, valid) = kafka_request(&[kafka_batch(codec, i as u64, 4, ts(i))]);
        out.push((log.append_valid(valid).await.unwrap().base_offset, ts(i)));
        if i % 5 == 4 {
            out.push((log.append(batch(1_000 + i as u64, 2, 50, ts(i))).await.unwrap().base_offset, ts(i)));
        }
    }
    out
}

#[test]
fn kafka_batches_roll_recover_and_are_found_by_offset_and_time() {
    let dir = common::test_dir();
    let cfg = small_segments(12 * 1024);
    let now = 1_800_000_000_000i64;
    let (batches, records) = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let batches = fill(&log, 60, |i| now - 10 * DAY_MS + i as i64 * 1_000).await;
        assert!(log.segment_count() >= 3, "rolled: {} segments", log.segment_count());
        let records = read_all(&log, 0).await;
        (batches, records)
    });
    assert_eq!(records.len(), 60 * 4 + 12 * 2);
    assert_eq!(records.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..records.len() as u64).collect::<Vec<_>>());
    let bases = segment_bases(dir.path());
    let in_sealed = batches_in(&seg_file(dir.path(), bases[1], "log"));
    assert!(in_sealed.iter().any(|b| b.kafka) && in_sealed.iter().all(|b| b.len % BATCH_ALIGNMENT as u64 == 0));
    assert_eq!(in_sealed[0].base, bases[1], "a segment starts at its first batch's offset");
    for suffix in ["index", "timeindex"] {
        let len = std::fs::metadata(seg_file(dir.path(), bases[1], suffix)).unwrap().len();
        assert!(len > 0, "a sealed segment of Kafka batches has {suffix} entries");
    }

    run_local(async {
        // Recovery scans every segment's tail, Kafka batches included.
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        assert_eq!(log.log_end_offset(), records.len() as u64);
        assert_eq!(log.segment_count(), bases.len());
        assert_eq!(read_all(&log, 0).await, records);
        // By offset: from any record, the batch holding it first.
        for offset in [0, 5, 121, records.len() as u64 - 1] {
            let first = records_of(&stored_batches(&log.read(offset, 1).await.unwrap())[0]);
            assert!(first.first().unwrap().offset <= offset && first.last().unwrap().offset >= offset);
        }
        // By time: the first record at or after the timestamp, through the
        // time index and the batch's own records.
        // (Entries 7, 40 and the last but one are Kafka batches; the native batch
        // after the last repeats its timestamps.)
        for (base, ts) in [batches[7], batches[40], batches[batches.len() - 2]] {
            assert_eq!(log.offset_for_timestamp(ts + 2).await.unwrap(), Some((base + 2, ts + 2)));
        }
        assert_eq!(log.offset_for_timestamp(i64::MIN).await.unwrap(), Some((0, batches[0].1)));
        assert_eq!(log.offset_for_timestamp(now).await.unwrap(), None);

        // Retention by size keeps at least the bytes asked for, whole segments.
        let size = log.size_bytes();
        log.set_config(LogConfig { retention_bytes: Some(size / 2), ..cfg.clone() });
        let outcome = log.enforce_retention_at(now as u64).await.unwrap();
        assert!(outcome.deleted_segments > 0);
        assert!(log.size_bytes() >= size / 2);
        let start = log.log_start_offset();
        assert!(segment_bases(dir.path()).contains(&start));
        assert_eq!(read_all(&log, start).await, records[start as usize..].to_vec());
    });
}

#[test]
fn retention_by_age_reads_kafka_max_timestamps() {
    let dir = common::test_dir();
    let cfg = small_segments(4096);
    let now = 1_800_000_000_000i64;
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        // Old batches first, then recent ones: only segments whose newest
        // record (the Kafka batches' maxTimestamp) is old may go.
        let batches =
            fill(&log, 60, |i| if i < 30 { now - 10 * DAY_MS + i as i64 } else { now - 1_000 + i as i64 }).await;
        let first_recent = batches.iter().find(|(_, ts)| *ts > now - DAY_MS).unwrap().0;
        log.set_config(LogConfig { retention_ms: Some(DAY_MS as u64), ..cfg.clone() });
        let outcome = log.enforce_retention_at(now as u64).await.unwrap();
        assert!(outcome.deleted_segments > 0);
        let start = log.log_start_offset();
        assert!(start > 0 && start <= first_recent, "start {start}, first recent record {first_recent}");
        // Nothing left is entirely old but the one segment straddling the change.
        let records = read_all(&log, start).await;
        assert_eq!(records.first().unwrap().offset, start);
        assert_eq!(records.last().unwrap().offset + 1, log.log_end_offset());
        assert!(log.enforce_retention_at(now as u64).await.unwrap().deleted_segments == 0);
    });
}

#[test]
fn truncation_in_a_kafka_run_drops_the_batch_holding_the_offset() {
    let dir = common::test_dir();
    let cfg = small_segments(8192);
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let batches = fill(&log, 20, |i| 1_000 * i as i64).await;
        let records = read_all(&log, 0).await;
        // The 12th batch is a Kafka one of 4 records: cut in its middle.
        let (base, _) = batches[12];
        assert_eq!(log.truncate_to(base + 2).await.unwrap(), base);
        assert_eq!(log.log_end_offset(), base);
        assert_eq!(read_all(&log, 0).await, records[..base as usize].to_vec());
        // Appends go on from there, and all of it survives a reopen.
        let (_, valid) = kafka_request(&[kafka_batch(Compression::Zstd, 99, 3, 50_000)]);
        assert_eq!(log.append_valid(valid).await.unwrap().base_offset, base);
        drop(log);
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        assert_eq!(log.log_end_offset(), base + 3);
        let after = read_all(&log, 0).await;
        assert_eq!(after[..base as usize], records[..base as usize]);
        assert!(after[base as usize].value.starts_with(b"99:0:"));
    });
}

#[test]
fn a_kafka_batch_that_cannot_carry_its_offset_or_epoch_is_refused_whole() {
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        let (_, valid) = kafka_request(&[kafka_batch(Compression::None, 1, 2, 0)]);
        log.append_valid(valid).await.unwrap();
        // Kafka's partitionLeaderEpoch is an i32.
        log.set_leader_epoch(1 << 31);
        let (_, two) =
            kafka_request(&[kafka_batch(Compression::None, 2, 2, 0), kafka_batch(Compression::None, 3, 1, 0)]);
        let err = log.append_valid(two.clone()).await.unwrap_err();
        assert!(matches!(err, corelog_storage::LogError::InvalidBatch(_)), "{err}");
        assert_eq!(log.log_end_offset(), 2, "nothing staged");
        // A native batch carries a u32 epoch.
        assert_eq!(log.append(batch(4, 1, 10, 0)).await.unwrap().base_offset, 2);
        // Kafka's baseOffset is an i64.
        log.restart_at(1 << 63).await.unwrap();
        let err = log.append_valid(two).await.unwrap_err();
        assert!(matches!(err, corelog_storage::LogError::InvalidBatch(_)), "{err}");
        assert_eq!(log.log_end_offset(), 1 << 63);
        assert_eq!(log.append(batch(5, 1, 10, 0)).await.unwrap().base_offset, 1 << 63);
    });
}

#[test]
fn a_bounded_read_from_disk_stops_before_the_kafka_batch_straddling_its_limit() {
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        let batches = fill(&log, 12, |i| 1_000 * i as i64).await;
        drop(log);
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        let all = stored_batches(&log.read(0, 1 << 20).await.unwrap());
        assert_eq!(all.len(), batches.len());
        // A limit inside the 8th batch (a Kafka one): the seven before it.
        let (base, _) = batches[7];
        let fetched = log.read_bounded(0, 1 << 20, base + 1).await.unwrap();
        assert!(fetched.slices.iter().all(|s| matches!(s, BatchSlice::Disk(_))));
        assert_eq!(stored_batches(&fetched), all[..7].to_vec());
        assert_eq!(fetched.high_watermark, base + 1);
        assert!(log.read_bounded(base, 1 << 20, base + 1).await.unwrap().slices.is_empty());
    });
}
