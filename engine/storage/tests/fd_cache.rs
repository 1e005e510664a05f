//! Descriptors of many sealed segments through one small fd cache, with real
//! O_DIRECT files: every record reads back right, files closed and reopened
//! read the same bytes, and the process never holds more descriptors than
//! the active logs plus the cache (counted in /proc/self/fd).
//!
//! One test in this binary, so no other test's files are counted.

mod common;

use std::rc::Rc;

use common::{batch, small_segments, test_dir, values};
use corelog_storage::disk::DmaStorage;
use corelog_storage::{FdCache, PartitionLog};

/// Files the shared cache may keep open: far fewer than the sealed segments.
const CAPACITY: usize = 4;
/// More logs than the cache holds files: reading them in turn, every read
/// finds its file evicted and opens it again.
const LOGS: usize = 6;
const BATCHES_PER_LOG: u64 = 60;
/// Small segments, so each log rolls about ten times.
const SEGMENT_BYTES: u64 = 8 * 1024;
/// A dropped file's descriptor is released by the executor's next I/O
/// cycle, not at once: a few may still be on their way out when counted.
const CLOSING_SLACK: usize = 3;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

async fn open_logs(cache: &Rc<FdCache<DmaStorage>>, dirs: &[tempfile::TempDir]) -> Vec<PartitionLog> {
    let mut logs = Vec::new();
    for dir in dirs {
        logs.push(PartitionLog::open_with_cache(cache, dir.path(), small_segments(SEGMENT_BYTES)).await.expect("open"));
    }
    logs
}

/// Reads one batch-sized step of every log in turn (so consecutive reads hit
/// different segments and the cache keeps evicting), until all are read
/// whole; returns every (offset, value) per log, and the most descriptors
/// seen open after any read.
async fn read_round_robin(logs: &[PartitionLog]) -> (Vec<Vec<(u64, Vec<u8>)>>, usize) {
    let mut next = vec![0u64; logs.len()];
    let mut out = vec![Vec::new(); logs.len()];
    let mut most = 0;
    while next.iter().zip(logs).any(|(n, log)| *n < log.log_end_offset()) {
        for (i, log) in logs.iter().enumerate() {
            if next[i] >= log.log_end_offset() {
                continue;
            }
            // One batch at a time: every read is its own trip to a file.
            let fetched = log.read(next[i], 1).await.expect("read");
            for (offset, value) in values(&fetched) {
                if offset >= next[i] {
                    out[i].push((offset, value));
                    next[i] = offset + 1;
                }
            }
            most = most.max(open_fds());
        }
    }
    (out, most)
}

#[test]
fn sealed_segments_beyond_the_cache_read_back_with_bounded_descriptors() {
    let dirs: Vec<_> = (0..LOGS).map(|_| test_dir()).collect();
    corelog_runtime::run_local(async move {
        let baseline = open_fds();
        let cache = FdCache::new(DmaStorage, CAPACITY);
        let logs = open_logs(&cache, &dirs).await;
        let mut expected = vec![Vec::new(); LOGS];
        for tag in 0..BATCHES_PER_LOG {
            for (i, log) in logs.iter().enumerate() {
                let b = batch(tag * 100 + i as u64, 8, 100, 1_000 * tag as i64);
                let info = log.append(b.clone()).await.expect("append");
                let read = log.read(info.base_offset, usize::MAX).await.expect("read back");
                expected[i].extend(values(&read));
            }
        }
        for log in &logs {
            assert!(log.segment_count() >= 8, "only {} segments", log.segment_count());
        }
        let sealed: usize = logs.iter().map(|l| l.segment_count() - 1).sum();
        assert!(sealed > 4 * CAPACITY, "{sealed} sealed segments for a cache of {CAPACITY}");
        // Writing and rolling held nothing for the sealed segments.
        let bound = baseline + LOGS + CLOSING_SLACK;
        assert!(open_fds() <= bound, "{} descriptors open after writing, bound {bound}", open_fds());
        for log in &logs {
            log.flush().await.expect("flush");
        }
        drop(logs);

        // Recovery checks every segment, one at a time, and keeps only the
        // active logs open.
        let logs = open_logs(&cache, &dirs).await;
        let after_open = open_fds();
        assert!(after_open <= bound, "{after_open} descriptors open after recovery, bound {bound}");

        let bound = baseline + LOGS + CAPACITY + CLOSING_SLACK;
        let (first, most) = read_round_robin(&logs).await;
        assert_eq!(first, expected, "records read through the cache");
        assert!(most <= bound, "{most} descriptors open while reading, bound {bound}");
        let stats = cache.stats();
        assert!(stats.open <= CAPACITY, "{stats:?}");
        assert!(stats.opens > 2 * sealed as u64, "files were not closed and reopened while reading: {stats:?}");

        // And once more, now that every file was closed and reopened.
        let (second, most) = read_round_robin(&logs).await;
        assert_eq!(second, expected, "records read again after their files were reopened");
        assert!(most <= bound, "{most} descriptors open while reading again, bound {bound}");

        // Timestamp lookups read sealed segments through the cache too.
        for log in &logs {
            let (offset, _) = log.offset_for_timestamp(1_000).await.expect("lookup").expect("found");
            assert_eq!(offset, 8, "the second batch of each log holds timestamp 1000");
        }

        // Dropping the logs closes their cached files.
        drop(logs);
        assert_eq!(cache.stats().open, 0);
    });
}
