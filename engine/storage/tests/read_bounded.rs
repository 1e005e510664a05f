//! Reads bounded by a replicated high watermark: whole batches ending at or
//! before the limit, and long polls woken when that watermark moves.

mod common;

use std::path::Path;

use common::{batch, test_dir, values};
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::BatchHeader;
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::{Fetched, LogConfig, PartitionLog};
use futures::FutureExt;

async fn open(dir: &Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(DmaStorage, dir, config).await.expect("open")
}

/// `(base_offset, next_offset)` of every batch of a read.
fn spans(fetched: &Fetched) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for slice in &fetched.slices {
        let bytes = slice.to_contiguous();
        for b in corelog_format::iter_batches(&bytes, MAX_BATCH_BYTES_CEILING) {
            let h = BatchHeader::parse(b.unwrap()).unwrap();
            out.push((h.base_offset(), h.next_offset()));
        }
    }
    out
}

/// Every fetch offset against every limit, from the tail cache and (no
/// cache, small segments) from the files.
#[test]
fn read_bounded_never_serves_a_batch_past_the_limit() {
    for config in [LogConfig::default(), LogConfig { tail_cache_bytes: 0, segment_bytes: 4096, ..LogConfig::default() }]
    {
        let dir = test_dir();
        run_local(async {
            let log = open(dir.path(), config.clone()).await;
            for i in 0..12u64 {
                log.append(batch(i, 5, 60, 0)).await.unwrap(); // batch i holds 5i..5i+5
            }
            let end = log.log_end_offset();
            assert_eq!(end, 60);
            for offset in 0..end {
                let holding_end = (offset / 5 + 1) * 5;
                for limit in 0..=end + 3 {
                    let fetched = log.read_bounded(offset, 1 << 20, limit).await.unwrap();
                    let got = spans(&fetched);
                    assert_eq!(fetched.high_watermark, limit.min(end));
                    assert!(got.iter().all(|&(_, next)| next <= limit), "offset {offset} limit {limit}: {got:?}");
                    if limit < holding_end {
                        assert!(got.is_empty(), "offset {offset} limit {limit}: the batch straddles: {got:?}");
                    } else {
                        // From the batch holding `offset` on, up to the limit
                        // (a read from a file stops at its segment's end).
                        let want: Vec<_> = (offset / 5..limit.min(end) / 5).map(|i| (5 * i, 5 * i + 5)).collect();
                        assert!(!got.is_empty() && want.starts_with(&got), "offset {offset} limit {limit}: {got:?}");
                        if config.tail_cache_bytes > 0 {
                            assert_eq!(got, want, "the cache serves everything up to the limit");
                        }
                    }
                }
            }
            // The limit at the fetch offset: nothing, whatever the bytes allowed.
            assert!(log.read_bounded(25, 1 << 20, 25).await.unwrap().slices.is_empty());
            // A small max_bytes still ends at or before the limit.
            let one = log.read_bounded(10, 1, 40).await.unwrap();
            assert_eq!(spans(&one), vec![(10, 15)]);
            // Sequential bounded reads (read-ahead in play) see each record once.
            let mut offset = 0;
            let mut seen = Vec::new();
            while offset < 45 {
                let fetched = log.read_bounded(offset, 700, 45).await.unwrap();
                let got = values(&fetched);
                assert!(!got.is_empty(), "progress at {offset}");
                offset = got.last().unwrap().0 + 1;
                seen.extend(got.into_iter().map(|(o, _)| o));
            }
            assert_eq!(seen, (0..45).collect::<Vec<_>>());
            assert!(log.read_bounded(61, 1 << 20, 100).await.is_err(), "past the log end is still an error");
        });
    }
}

#[test]
fn the_replicated_high_watermark_bounds_consumers_and_wakes_long_polls() {
    let dir = test_dir();
    run_local(async {
        let log = open(dir.path(), LogConfig::default()).await;
        for i in 0..4u64 {
            log.append(batch(i, 5, 60, 0)).await.unwrap();
        }
        assert_eq!(log.replicated_high_watermark(), None);
        assert_eq!(log.consumer_high_watermark(), 20, "not replicated: the local watermark");

        let waiting = log.committed_changed();
        log.set_replicated_high_watermark(10);
        assert_eq!(log.consumer_high_watermark(), 10);
        assert!(waiting.now_or_never().is_some(), "the first value wakes long polls");
        let fetched = log.read_bounded(0, 1 << 20, log.consumer_high_watermark()).await.unwrap();
        assert_eq!(spans(&fetched), vec![(0, 5), (5, 10)]);
        assert_eq!(fetched.high_watermark, 10);

        let waiting = log.committed_changed();
        log.set_replicated_high_watermark(5);
        assert_eq!(log.consumer_high_watermark(), 5, "a new leader's may start lower");
        let mut waiting = Box::pin(waiting);
        assert!(waiting.as_mut().now_or_never().is_none(), "moving down wakes nobody");
        log.set_replicated_high_watermark(15);
        assert!(waiting.now_or_never().is_some(), "moving up does");

        log.set_replicated_high_watermark(1_000);
        assert_eq!(log.consumer_high_watermark(), 20, "never past what is committed here");
        assert_eq!(log.replicated_high_watermark(), Some(1_000));
        assert_eq!(log.read(0, 1 << 20).await.unwrap().high_watermark, 20, "read is the durable-end read");
    });
}
