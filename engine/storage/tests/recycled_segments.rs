//! Recycled segment files (segment/recycled.rs) on real O_DIRECT files:
//! retention keeps a deleted segment's log, the next roll writes into it,
//! and neither reads nor recovery ever see the old batches it still holds.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{batch, read_all_values, small_segments};
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::limits::BLOCK_SIZE;
use corelog_storage::{LogConfig, PartitionLog};

const SEGMENT_BYTES: u64 = 16 * 1024;

fn config() -> LogConfig {
    LogConfig { retention_bytes: Some(2 * SEGMENT_BYTES), ..small_segments(SEGMENT_BYTES) }
}

fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == suffix))
        .collect();
    found.sort();
    found
}

/// Appends batches tagged `from..` until the log has rolled `rolls` more
/// times; returns the next tag.
async fn append_until_rolled(log: &PartitionLog<DmaStorage>, mut tag: u64, rolls: u64) -> u64 {
    let target = log.stats().segments_rolled + rolls;
    while log.stats().segments_rolled < target {
        log.append(batch(tag, 5, 300, tag as i64)).await.unwrap();
        tag += 1;
    }
    tag
}

/// Every record from the log start: the values say which batch and record
/// each is, so a record from a recycled file's old bytes would show.
async fn check_contents(log: &PartitionLog<DmaStorage>) {
    let all = read_all_values(log, log.log_start_offset()).await;
    assert_eq!(all.len() as u64, log.log_end_offset() - log.log_start_offset());
    for (i, (offset, value)) in all.iter().enumerate() {
        assert_eq!(*offset, log.log_start_offset() + i as u64);
        // Batches of 5 records, tagged with their index: offset 5t + i.
        let expected = format!("{}:{}:", offset / 5, offset % 5);
        assert!(value.starts_with(expected.as_bytes()), "offset {offset}: {:?}", &value[..8]);
    }
}

/// Bytes of the active segment: the log's size minus its sealed files'.
fn active_size(log: &PartitionLog<DmaStorage>, dir: &Path) -> u64 {
    let logs = files_with_suffix(dir, "log");
    let sealed: u64 = logs[..logs.len() - 1].iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    log.size_bytes() - sealed
}

#[test]
fn retention_keeps_one_file_and_the_next_roll_writes_into_it() {
    let dir = common::test_dir();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), config()).await.unwrap();
        let tag = append_until_rolled(&log, 0, 6).await;
        let out = log.enforce_retention().await.unwrap();
        assert!(out.deleted_segments >= 2, "{out:?}");
        let recycled = files_with_suffix(dir.path(), "recycled");
        assert_eq!(recycled.len(), 1, "one file kept, the other victims deleted");
        let inode = std::fs::metadata(&recycled[0]).unwrap().ino();
        let stats = log.stats();
        assert_eq!((stats.segments_recycled, stats.segments_reused), (1, 0));
        // Its indexes went with the segment.
        assert_eq!(files_with_suffix(dir.path(), "index").len(), log.segment_count());
        check_contents(&log).await;

        let tag = append_until_rolled(&log, tag, 1).await;
        assert!(files_with_suffix(dir.path(), "recycled").is_empty());
        assert_eq!(log.stats().segments_reused, 1);
        let active = files_with_suffix(dir.path(), "log").pop().unwrap();
        assert_eq!(std::fs::metadata(&active).unwrap().ino(), inode, "the new segment is the recycled file");
        // Write into it past the old data's first batches, then read all.
        for t in tag..tag + 4 {
            log.append(batch(t, 5, 300, t as i64)).await.unwrap();
        }
        check_contents(&log).await;
        assert!(log.retention_due(), "a roll since the last pass, and a limit");
        log.enforce_retention().await.unwrap();
        assert!(!log.retention_due());
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), config()).await.unwrap();
        let report = log.stats().recovery;
        assert_eq!(report.bad_batches, 0, "old bytes after the new ones read as the log's end: {report:?}");
        assert_eq!(log.log_end_offset() % 5, 0);
        check_contents(&log).await;
    });
}

#[test]
fn a_recycled_segment_ending_on_a_block_boundary_reopens_clean() {
    let dir = common::test_dir();
    let end = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), config()).await.unwrap();
        let tag = append_until_rolled(&log, 0, 6).await;
        log.enforce_retention().await.unwrap();
        let mut tag = append_until_rolled(&log, tag, 1).await;
        assert_eq!(log.stats().segments_reused, 1);
        // One batch whose length brings the active segment to a block
        // boundary, past the recycled file's first old batches.
        let size = active_size(&log, dir.path());
        let mut want = BLOCK_SIZE as u64 - size % BLOCK_SIZE as u64;
        let fitting = loop {
            if let Some(v) = (0..600).find(|&v| batch(tag, 5, v, 0).len() as u64 == want) {
                break v;
            }
            want += BLOCK_SIZE as u64;
        };
        log.append(batch(tag, 5, fitting, tag as i64)).await.unwrap();
        tag += 1;
        assert_eq!(active_size(&log, dir.path()) % BLOCK_SIZE as u64, 0, "the segment ends on a block boundary");
        let active = files_with_suffix(dir.path(), "log").pop().unwrap();
        assert!(std::fs::metadata(&active).unwrap().len() > active_size(&log, dir.path()), "old bytes follow");
        check_contents(&log).await;
        assert_eq!(tag * 5, log.log_end_offset());
        log.log_end_offset()
    });
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), config()).await.unwrap();
        let report = log.stats().recovery;
        assert_eq!(report.bad_batches, 0, "a zero block marks the end: {report:?}");
        assert_eq!(log.log_end_offset(), end);
        check_contents(&log).await;
    });
}

#[test]
fn a_crash_right_after_reusing_a_file_recovers_an_empty_segment() {
    let dir = common::test_dir();
    let (end, active_len) = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), config()).await.unwrap();
        append_until_rolled(&log, 0, 6).await;
        log.enforce_retention().await.unwrap();
        assert_eq!(files_with_suffix(dir.path(), "recycled").len(), 1);
        (log.log_end_offset(), active_size(&log, dir.path()))
    });
    // What a roll does before it writes anything, the crash coming next:
    // the active segment trimmed to its data (and synced), the recycled
    // file renamed to the new segment's log, full of old batches from
    // offset 0 on.
    let active = files_with_suffix(dir.path(), "log").pop().unwrap();
    std::fs::OpenOptions::new().write(true).open(&active).unwrap().set_len(active_len).unwrap();
    let recycled = files_with_suffix(dir.path(), "recycled").pop().unwrap();
    let new_segment = dir.path().join(format!("{end:020}.log"));
    let stale_len = std::fs::metadata(&recycled).unwrap().len();
    std::fs::rename(&recycled, &new_segment).unwrap();
    run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), config()).await.unwrap();
        let report = log.stats().recovery;
        assert_eq!(report.bad_batches, 0, "old batches are not a torn write: {report:?}");
        assert_eq!(report.truncated_bytes, 0, "{report:?}");
        assert_eq!(log.log_end_offset(), end, "none of the old batches came back");
        let head = std::fs::read(&new_segment).unwrap();
        assert!(head[..stale_len as usize].iter().all(|&b| b == 0), "the old bytes were cut");
        check_contents(&log).await;
        let next = log.append(batch(end / 5, 5, 300, 0)).await.unwrap();
        assert_eq!(next.base_offset, end);
        check_contents(&log).await;
    });
}
