//! Sparse index lookups: what locating a fetch's start position costs.
//!
//! An entry is made at most once per `INDEX_INTERVAL_BYTES` (4 KiB) of log,
//! so 100k entries index ~400 MiB of small batches (a 1 GiB segment tops out
//! at ~262k; one of ~1 MiB batches holds ~1k): the binary searches are ~17
//! probes deep, the worst realistic case.
//! Targets are precomputed and cycled so the timed loop is the lookup alone;
//! `random` defeats the cache and branch predictor, `sequential` is a
//! consumer walking forward.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use corelog_storage::segment::offset_index::{lookup_offset, OffsetEntry};
use corelog_storage::segment::time_index::{lookup_time, TimeEntry};

const ENTRIES: usize = 100_000;
/// Average records per index interval (offset stride between entries).
const OFFSET_STRIDE: u32 = 4;
/// Bytes per index interval (position stride).
const POSITION_STRIDE: u32 = 4096;
/// Milliseconds between entries' running max timestamps.
const TIME_STRIDE: i64 = 10;
const TS0: i64 = 1_700_000_000_000;
const TARGETS: usize = 4096;

/// Deterministic xorshift so runs are comparable without a rand dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn offset_entries(n: usize) -> Vec<OffsetEntry> {
    (0..n as u32).map(|i| OffsetEntry { relative_offset: i * OFFSET_STRIDE, position: i * POSITION_STRIDE }).collect()
}

fn time_entries(n: usize) -> Vec<TimeEntry> {
    (0..n as u32)
        .map(|i| TimeEntry {
            max_timestamp: TS0 + i64::from(i) * TIME_STRIDE,
            relative_offset: i * OFFSET_STRIDE,
            position: i * POSITION_STRIDE,
        })
        .collect()
}

/// Lookup targets spanning the whole index (plus a little past its end).
fn targets(n: usize, random: bool) -> Vec<u64> {
    let span = n as u64 + 16;
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..TARGETS as u64).map(|i| if random { xorshift(&mut s) % span } else { i * span / TARGETS as u64 }).collect()
}

fn bench_offset(c: &mut Criterion) {
    let entries = offset_entries(ENTRIES);
    // Sanity: hits land on the entry at or below, misses below the first entry.
    assert_eq!(lookup_offset(&entries, 4 * 777 + 3).relative_offset, 4 * 777);
    assert_eq!(lookup_offset(&[], 5), OffsetEntry { relative_offset: 0, position: 0 });

    let mut g = c.benchmark_group("offset_index_lookup");
    g.throughput(Throughput::Elements(1));
    for (name, random) in [("random", true), ("sequential", false)] {
        let queries: Vec<u32> = targets(ENTRIES, random)
            .into_iter()
            .map(|t| (t as u32) * OFFSET_STRIDE + (t as u32 % OFFSET_STRIDE))
            .collect();
        g.bench_function(BenchmarkId::new(name, ENTRIES), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % queries.len();
                lookup_offset(black_box(&entries), black_box(queries[i]))
            })
        });
    }
    g.finish();
}

fn bench_time(c: &mut Criterion) {
    let entries = time_entries(ENTRIES);
    // Sanity: the last entry strictly below the target.
    assert_eq!(lookup_time(&entries, TS0 + 10 * 50).max_timestamp, TS0 + 10 * 49);
    assert_eq!(lookup_time(&entries, TS0).max_timestamp, i64::MIN);

    let mut g = c.benchmark_group("time_index_lookup");
    g.throughput(Throughput::Elements(1));
    for (name, random) in [("random", true), ("sequential", false)] {
        let queries: Vec<i64> =
            targets(ENTRIES, random).into_iter().map(|t| TS0 + t as i64 * TIME_STRIDE + (t as i64 % 7)).collect();
        g.bench_function(BenchmarkId::new(name, ENTRIES), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % queries.len();
                lookup_time(black_box(&entries), black_box(queries[i]))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_offset, bench_time);
criterion_main!(benches);
