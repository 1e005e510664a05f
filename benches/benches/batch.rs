//! Record-batch micro-benchmarks: what one produce costs the producer
//! (build), the broker (validate_full) and recovery (validate), against the
//! floor of hashing the same bytes.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use corelog_format::limits::DEFAULT_MAX_BATCH_BYTES;
use corelog_format::{validate, validate_full, BatchBuilder, Compression};
use rkyv::util::AlignedVec;

const RECORD_BYTES: usize = 1024;
/// A 1 MiB batch of 1 KiB records: fill to just under the default limit.
const BATCH_BUDGET: usize = DEFAULT_MAX_BATCH_BYTES;

const CODECS: [(&str, Compression); 3] =
    [("none", Compression::None), ("lz4", Compression::Lz4), ("zstd", Compression::Zstd)];

/// Log-like values (repetitive structure, varying digits) so compression
/// ratios are realistic rather than all-zero or all-random.
fn values(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let line = format!("{{\"seq\":{i},\"user\":\"u{}\",\"event\":\"click\",\"ok\":true}} ", i * 7919 % 10007);
            line.bytes().cycle().take(RECORD_BYTES).collect()
        })
        .collect()
}

fn fill(codec: Compression, values: &[Vec<u8>]) -> BatchBuilder {
    let mut b = BatchBuilder::new(codec);
    for (i, v) in values.iter().enumerate() {
        if b.estimated_size() + RECORD_BYTES + 128 > BATCH_BUDGET {
            break;
        }
        b.push(Some(&(i as u64).to_le_bytes()), v, 1_700_000_000_000 + i as i64, &[]);
    }
    b
}

fn aligned(bytes: &[u8]) -> AlignedVec {
    let mut v = AlignedVec::with_capacity(bytes.len());
    v.extend_from_slice(bytes);
    v
}

fn bench_build(c: &mut Criterion) {
    let values = values(BATCH_BUDGET / RECORD_BYTES);
    let mut g = c.benchmark_group("batch_build");
    g.throughput(Throughput::Bytes(BATCH_BUDGET as u64));
    for (name, codec) in CODECS {
        // Pushing copies the payload; included, since a producer pays it too.
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| fill(codec, black_box(&values)).build().unwrap())
        });
    }
    g.finish();
}

fn bench_validate(c: &mut Criterion) {
    let values = values(BATCH_BUDGET / RECORD_BYTES);
    let mut g = c.benchmark_group("batch_validate");
    g.throughput(Throughput::Bytes(BATCH_BUDGET as u64));
    let plain = aligned(&fill(Compression::None, &values).build().unwrap());
    g.bench_function("crc_only", |b| {
        b.iter(|| validate(black_box(&plain), DEFAULT_MAX_BATCH_BYTES).unwrap().record_count())
    });
    for (name, codec) in CODECS {
        let bytes = aligned(&fill(codec, &values).build().unwrap());
        g.bench_function(BenchmarkId::new("full", name), |b| {
            b.iter(|| validate_full(black_box(&bytes), DEFAULT_MAX_BATCH_BYTES).unwrap().record_count())
        });
    }
    g.finish();
}

fn bench_crc(c: &mut Criterion) {
    let data = vec![0x5Au8; 1024 * 1024];
    let mut g = c.benchmark_group("crc32fast");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("1MiB", |b| b.iter(|| crc32fast::hash(black_box(&data))));
    g.finish();
}

criterion_group!(benches, bench_build, bench_validate, bench_crc);
criterion_main!(benches);
