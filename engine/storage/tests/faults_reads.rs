//! Flipped bits, on read (injected) and on disk (edited between two opens):
//! a damaged batch is reported or cut, never served.

mod common;
mod fault_support;

#[allow(unused_imports)]
use common::{batch, read_all_values};
use corelog_runtime::run_local;
use corelog_storage::disk::{DmaStorage, Fault, FaultyStorage};
use corelog_storage::{LogError, PartitionLog};
use fault_support::*;

// -------------------------------------------------------------- bit flips

/// A flipped bit read from a sealed segment is reported as corruption for
/// the batch it hits, never served; other segments read fine.
#[test]
fn bit_flip_on_read_of_a_sealed_segment_is_reported_never_served() {
    let dir = common::test_dir();
    let cfg = config(16 * 1024);
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        fill(&log, 0, 40, 3, 1000).await
    });
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 4, "segments: {bases:?}");
    let victim = bases[1];
    let batches = batches_in(&seg_file(dir.path(), victim, "log"));
    assert!(batches.len() >= 3, "{batches:?}");
    let hit = batches[1];
    eprintln!("flipping a bit of batch {hit:?} in segment {victim}");

    run_local(async {
        let storage = FaultyStorage::new(DmaStorage);
        let log = PartitionLog::open(storage.clone(), dir.path(), cfg).await.unwrap();
        assert_exactly(&log, &acked).await;
        storage.arm(Fault::FlipBitOnRead {
            path_contains: format!("{victim:020}.log"),
            pos: hit.pos + hit.len / 2,
            bit: 5,
        });
        for offset in [hit.base, hit.last] {
            match log.read(offset, 1 << 20).await {
                Err(LogError::CorruptBatch { segment, .. }) => assert_eq!(segment, victim),
                Err(e) => panic!("read at {offset}: expected Corrupt, got {e}"),
                Ok(f) => panic!("read at {offset} served {} bytes from a damaged batch", f.byte_len()),
            }
        }
        // The batch before it, alone, is still fine.
        let before = batches[0];
        let f = log.read(before.base, 1).await.expect("the undamaged batch before");
        let got = common::values(&f);
        assert_eq!(got.first().map(|v| v.0), Some(before.base));
        assert!(got.iter().all(|(o, _)| *o <= before.last), "only the undamaged batch is served");
        // Every other segment reads fine, whole.
        let want = expected(&acked);
        for (i, &base) in bases.iter().enumerate() {
            if base == victim {
                continue;
            }
            let next = bases.get(i + 1).copied().unwrap_or(log.log_end_offset());
            let got = common::values(&log.read(base, 1 << 20).await.expect("read other segment"));
            let want: Vec<_> = want.iter().filter(|(o, _)| *o >= base && *o < next).cloned().collect();
            assert!(got == want, "segment {base} reads back wrong");
        }
        // The disk itself is fine: without the fault everything reads.
        storage.disarm_all();
        assert_exactly(&log, &acked).await;
    });
}

/// A byte of the last batch of the active segment damaged on disk (in the
/// CRC-covered body, or in the base offset field the CRC does not cover):
/// recovery cuts the log at that batch.
fn bit_flip_on_disk_in_last_batch(at: fn(&OnDisk) -> u64) {
    let dir = common::test_dir();
    let cfg = config(64 * 1024);
    let acked = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        fill(&log, 0, 40, 3, 1000).await
    });
    let bases = segment_bases(dir.path());
    assert!(bases.len() >= 2, "{bases:?}");
    let active = *bases.last().unwrap();
    let last = *batches_in(&seg_file(dir.path(), active, "log")).last().unwrap();
    assert_eq!(last.base, acked.last().unwrap().base);
    flip_on_disk(&seg_file(dir.path(), active, "log"), at(&last), 0x10);

    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg.clone()).await.unwrap();
        let report = log.stats().recovery;
        eprintln!("{report:?}");
        assert_eq!(report.bad_batches, 1, "{report:?}");
        assert!(report.truncated_bytes >= last.len, "{report:?}");
        assert_eq!(log.log_end_offset(), last.base);
        let kept = &acked[..acked.len() - 1];
        assert_exactly(&log, kept).await;
        let next = append(&log, 500, 2, 100, 0).await.unwrap();
        assert_eq!(next.base, last.base);
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), cfg).await.unwrap();
        assert_eq!(log.stats().recovery.bad_batches, 0);
        assert_eq!(log.log_end_offset(), last.base + 2);
    });
}

#[test]
fn bit_flip_on_disk_in_the_last_batch_body_truncates_there() {
    bit_flip_on_disk_in_last_batch(|b| b.pos + b.len / 2);
}

#[test]
fn bit_flip_on_disk_in_the_last_batch_base_offset_truncates_there() {
    // base_offset (bytes 0..8) is not under the CRC; the scan's offset
    // continuity check must catch it.
    bit_flip_on_disk_in_last_batch(|b| b.pos + 2);
}
