//! One byte of a stored batch damaged on disk where recovery does not look
//! (inside a sealed segment, or before the active segment's last index
//! entry), in any field: the CRC-covered body, or the header fields the CRC
//! does not cover (base offset, leader epoch) or that move what it covers
//! (batch length). Reads never serve the batch and never skip offsets: a
//! consumer reading from the start gets every record before it, then
//! `CorruptBatch` naming the batch's offset and where the log is readable
//! again; reading from there on gets the rest.

mod common;
mod fault_support;

use std::path::Path;

use corelog_runtime::run_local;
use corelog_storage::disk::{DmaStorage, Fault, FaultyStorage, Storage};
use corelog_storage::{LogConfig, LogError, PartitionLog};
use fault_support::*;

/// Bytes a consumer asks for per read: several reads per segment, so reads
/// start at index entries, continue from read-ahead windows, and walk over
/// batches before the offset they want.
const READ_BYTES: usize = 2048;

/// Reads like a consumer from `from`: each read at the offset after the
/// last record it got, until the log end or an error.
async fn consume<S: Storage>(log: &PartitionLog<S>, from: u64) -> (Vec<(u64, Vec<u8>)>, Option<LogError>) {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        match log.read(offset, READ_BYTES).await {
            Ok(fetched) => {
                let got: Vec<_> = common::values(&fetched).into_iter().filter(|(o, _)| *o >= offset).collect();
                let Some(last) = got.last().map(|(o, _)| *o) else { panic!("read at {offset} returned nothing") };
                for (o, v) in got {
                    assert_eq!(o, offset, "records must come without gaps");
                    out.push((o, v));
                    offset += 1;
                }
                assert_eq!(offset, last + 1);
            }
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// 200 batches of 3 records of 200 bytes (about 700 bytes each, so several
/// per index interval) in 32 KiB segments.
fn small_batches_log(dir: &Path, segment_bytes: u64) -> (LogConfig, Vec<Acked>) {
    let cfg = config(segment_bytes);
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir, cfg.clone()).await.unwrap();
        fill(&log, 0, 200, 3, 200).await
    });
    (cfg, acked)
}

/// Which damage the read reports, checked against the batch it hit.
fn assert_names(e: &LogError, segment: u64, hit: &OnDisk, next_offset: u64) {
    match e {
        LogError::CorruptBatch { offset, next_offset: next, segment: s, position, reason } => {
            assert_eq!((*offset, *next, *s, *position), (hit.base, next_offset, segment, hit.pos), "{e}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected CorruptBatch, got {other}"),
    }
}

/// Flips `mask` into the byte `at(batch)` of the batch in the middle of
/// the segment chosen by `pick` (from the segment bases), reopens, and checks
/// what consumers see.
fn damaged_batch_is_never_served(segment_bytes: u64, pick: fn(&[u64]) -> usize, at: fn(&OnDisk) -> u64, mask: u8) {
    let dir = common::test_dir();
    let (cfg, acked) = small_batches_log(dir.path(), segment_bytes);
    let bases = segment_bases(dir.path());
    let victim = bases[pick(&bases)];
    let victim_is_active = victim == *bases.last().unwrap();
    let batches = batches_in(&seg_file(dir.path(), victim, "log"));
    assert!(batches.len() >= 8, "{batches:?}");
    let hit = batches[batches.len() / 2];
    let next = batches[batches.len() / 2 + 1];
    eprintln!("damaging batch {hit:?} of segment {victim} (segments {bases:?}) at byte {}", at(&hit));
    let storage = FaultyStorage::new(DmaStorage);
    let mut fault = None;
    if victim_is_active {
        // The active segment's index reaches the disk only every 16 MiB, so
        // recovery scans (and cuts) a small one whole: damage it after the
        // open, on read, as a disk going bad under a running broker does.
        assert_eq!(mask.count_ones(), 1);
        let (path_contains, bit) = (format!("{victim:020}.log"), mask.trailing_zeros() as u8);
        fault = Some(Fault::FlipBitOnRead { path_contains, pos: at(&hit), bit });
    } else {
        flip_on_disk(&seg_file(dir.path(), victim, "log"), at(&hit), mask);
    }
    let want = expected(&acked);
    let end = acked.last().unwrap().end();

    run_local(async {
        let log = PartitionLog::open(storage.clone(), dir.path(), cfg).await.unwrap();
        if let Some(fault) = fault {
            storage.arm(fault);
        }
        assert_eq!(log.log_end_offset(), end, "recovery did not look here: nothing is cut");
        assert_eq!(log.segment_count(), bases.len());

        // From the start: every record before the damaged batch, then the error.
        let (got, err) = consume(&log, 0).await;
        let before: Vec<_> = want.iter().filter(|(o, _)| *o < hit.base).cloned().collect();
        assert_eq!(got.len(), before.len(), "records served before the damaged batch");
        assert!(got == before, "the records before the damaged batch read back wrong");
        assert_names(&err.expect("the damaged batch is reported"), victim, &hit, next.base);

        // Any offset inside it: the same error.
        for offset in hit.base..=hit.last {
            let e = log.read(offset, READ_BYTES).await.err().expect("never served");
            assert_names(&e, victim, &hit, next.base);
        }

        // From the next batch on (a read there may start at an index entry
        // before the damage and walk over it), and from every later batch of
        // the segment: the rest of the log, whole.
        let (rest, err) = consume(&log, next.base).await;
        assert!(err.is_none(), "{err:?}");
        let after: Vec<_> = want.iter().filter(|(o, _)| *o >= next.base).cloned().collect();
        assert!(rest == after, "the records after the damaged batch read back wrong");
        for b in &batches[batches.len() / 2 + 1..] {
            let got = common::values(&log.read(b.base, 1).await.expect("read after the damage"));
            assert_eq!(got.first().map(|v| v.0), Some(b.base));
        }
    });
}

/// The middle sealed segment (not the first, not the active one).
fn sealed(bases: &[u64]) -> usize {
    assert!(bases.len() >= 3, "{bases:?}");
    bases.len() / 2
}

/// The active segment: the only one with big segments.
fn active(bases: &[u64]) -> usize {
    assert_eq!(bases.len(), 1, "{bases:?}");
    0
}

const SMALL: u64 = 32 * 1024;
const ONE_SEGMENT: u64 = 1 << 30;

#[test]
fn flipped_body_byte_in_a_sealed_segment() {
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos + b.len / 2, 0x04);
}

#[test]
fn flipped_low_base_offset_bit_in_a_sealed_segment() {
    // base_offset is outside the CRC: +32, inside the log's offsets.
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos, 0x20);
}

#[test]
fn flipped_high_base_offset_bit_in_a_sealed_segment() {
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos + 7, 0x80);
}

#[test]
fn flipped_leader_epoch_bit_in_a_sealed_segment() {
    // leader_epoch is outside the CRC too: above the log's epoch.
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos + 12, 0x01);
}

#[test]
fn flipped_batch_length_bit_in_a_sealed_segment() {
    // +16 bytes: the claimed end lands inside the next batch, so the read
    // has to find the next batch by scanning.
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos + 8, 0x10);
}

#[test]
fn flipped_high_batch_length_bit_in_a_sealed_segment() {
    // Out of bounds: no claimed end at all.
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos + 11, 0x80);
}

#[test]
fn flipped_crc_and_magic_bytes_in_a_sealed_segment() {
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos + 20, 0x01);
    damaged_batch_is_never_served(SMALL, sealed, |b| b.pos + 16, 0x02);
}

#[test]
fn flipped_base_offset_bit_in_the_active_segment() {
    // Before the active segment's last index entry: recovery's tail scan
    // does not see it either.
    damaged_batch_is_never_served(ONE_SEGMENT, active, |b| b.pos + 1, 0x01);
}

#[test]
fn flipped_body_byte_in_the_active_segment() {
    damaged_batch_is_never_served(ONE_SEGMENT, active, |b| b.pos + b.len - 20, 0x40);
}

/// A damaged batch in a sealed segment's tail, which recovery does scan: the
/// segment is kept whole (a sealed segment was synced before its successor
/// existed, so this is damage, not a torn write) instead of being cut with
/// every later segment; reads refuse the batch and go on at the next segment.
#[test]
fn damage_in_a_sealed_segment_tail_keeps_the_segment_and_every_later_one() {
    let dir = common::test_dir();
    let (cfg, acked) = small_batches_log(dir.path(), SMALL);
    let bases = segment_bases(dir.path());
    let victim_at = sealed(&bases);
    let victim = bases[victim_at];
    let hit = *batches_in(&seg_file(dir.path(), victim, "log")).last().unwrap();
    flip_on_disk(&seg_file(dir.path(), victim, "log"), hit.pos + hit.len / 2, 0x08);
    let want = expected(&acked);

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let report = log.stats().recovery;
        assert_eq!((report.bad_batches, report.truncated_bytes, report.segments_removed), (1, 0, 0), "{report:?}");
        assert_eq!(log.segment_count(), bases.len());
        assert_eq!(log.log_end_offset(), acked.last().unwrap().end());

        let (got, err) = consume(&log, 0).await;
        assert!(got[..] == want[..got.len()] && got.len() as u64 == hit.base);
        assert_names(&err.expect("reported"), victim, &hit, bases[victim_at + 1]);
        let (rest, err) = consume(&log, bases[victim_at + 1]).await;
        assert!(err.is_none(), "{err:?}");
        assert!(rest[..] == want[hit.last as usize + 1..]);

        // Appends go on after the untouched active segment.
        let more = append(&log, 1000, 2, 100, 0).await.unwrap();
        assert_eq!(more.base, acked.last().unwrap().end());
    });
    // And the next open finds the same (nothing was rewritten).
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        assert_eq!(log.stats().recovery.bad_batches, 1);
        assert_eq!(log.segment_count(), bases.len());
    });
}

/// Time lookups refuse the damaged batch too, naming it.
#[test]
fn timestamp_lookup_over_a_damaged_batch_names_it() {
    let dir = common::test_dir();
    let (cfg, acked) = small_batches_log(dir.path(), SMALL);
    let bases = segment_bases(dir.path());
    let victim = bases[sealed(&bases)];
    let batches = batches_in(&seg_file(dir.path(), victim, "log"));
    let (hit, next) = (batches[batches.len() / 2], batches[batches.len() / 2 + 1]);
    flip_on_disk(&seg_file(dir.path(), victim, "log"), hit.pos + hit.len / 2, 0x01);
    let ts = acked.iter().find(|a| a.base == hit.base).unwrap().ts;

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        let e = log.offset_for_timestamp(ts).await.expect_err("the damaged batch is not looked into");
        assert_names(&e, victim, &hit, next.base);
        let later = acked.iter().find(|a| a.base == next.base).unwrap().ts;
        assert_eq!(log.offset_for_timestamp(ts - 98).await.unwrap(), Some((hit.base - 1, ts - 98)));
        // A lookup past it scans from a time-index entry: before the damage
        // it fails the same way, after it finds the record.
        match log.offset_for_timestamp(later).await {
            Ok(found) => assert_eq!(found, Some((next.base, later))),
            Err(e) => assert_names(&e, victim, &hit, next.base),
        }
    });
}

/// Leader epochs: the log resumes at the last batch's epoch when reopened,
/// and never goes back, so stored batches stay at or below it.
#[test]
fn leader_epoch_resumes_at_the_last_batch_and_never_goes_back() {
    let dir = common::test_dir();
    let cfg = config(SMALL);
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        fill(&log, 0, 20, 3, 200).await;
        log.set_leader_epoch(5);
        fill(&log, 20, 20, 3, 200).await;
        log.set_leader_epoch(3); // ignored
        fill(&log, 40, 5, 3, 200).await;
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        let (got, err) = consume(&log, 0).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got.len(), 45 * 3);
        let more = append(&log, 100, 1, 10, 0).await.unwrap();
        let f = log.read(more.base, 1).await.unwrap();
        let bytes = f.slices[0].to_contiguous();
        let header = corelog_format::BatchHeader::parse(&bytes).unwrap();
        assert_eq!(header.leader_epoch(), 5, "appended after reopening, at the last batch's epoch");
    });
}

/// After a damaged batch whose length field is damaged too, the read scans
/// for the next batch. A record whose value is itself a well-formed batch,
/// with offsets that would fit, must not be taken for it: a candidate counts
/// only if the batch after it checks out too and continues its offsets.
#[test]
fn a_batch_inside_a_record_is_not_taken_for_the_next_batch() {
    let dir = common::test_dir();
    let cfg = config(ONE_SEGMENT);
    let (trojan_base, acked) = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let mut acked = fill(&log, 0, 20, 3, 200).await;
        let trojan_base = log.log_end_offset();
        // A stored-looking batch of one record whose base offset lies inside
        // the batch that carries it, so its offsets fit where it sits.
        let mut inner = common::batch(999, 1, 10, 0);
        inner[..8].copy_from_slice(&(trojan_base + 1).to_le_bytes());
        // Copies of it behind 0..16 bytes of padding: one of them sits at a
        // 16-aligned file position, where a batch could start.
        let mut b = corelog_format::BatchBuilder::new(corelog_format::Compression::None);
        for pad in 0..16 {
            let mut value = vec![b'p'; pad];
            value.extend_from_slice(&inner);
            b.push(None, &value, 0, &[]);
        }
        log.append(b.build().unwrap()).await.unwrap();
        acked.extend(fill(&log, 100, 20, 3, 200).await);
        (trojan_base, acked)
    });
    let path = seg_file(dir.path(), 0, "log");
    let batches = batches_in(&path);
    let at = batches.iter().position(|b| b.base == trojan_base).unwrap();
    let (trojan, next) = (batches[at], batches[at + 1]);
    assert_eq!(next.base, trojan_base + 16);
    // Its length field: +16, so where it claims to end is no batch.
    let storage = FaultyStorage::new(DmaStorage);
    run_local(async {
        let log = PartitionLog::open(storage.clone(), dir.path(), cfg).await.unwrap();
        storage.arm(Fault::FlipBitOnRead { path_contains: ".log".into(), pos: trojan.pos + 8, bit: 4 });
        for offset in [trojan_base, trojan_base + 1, trojan_base + 15] {
            let e = log.read(offset, READ_BYTES).await.err().expect("never served");
            assert_names(&e, 0, &trojan, next.base);
        }
        let (rest, err) = consume(&log, next.base).await;
        assert!(err.is_none(), "{err:?}");
        let want: Vec<_> = expected(&acked).into_iter().filter(|(o, _)| *o >= next.base).collect();
        assert!(rest == want);
    });
}
