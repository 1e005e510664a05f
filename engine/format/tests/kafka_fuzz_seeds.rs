//! Writes valid Kafka batches (kafka-python's golden ones, ours for every
//! codec, and stored segments of both formats) as a seed corpus for the
//! `kafka_batch_reader` fuzz target, so the fuzzer starts past the CRC:
//!
//! ```text
//! # tests run in engine/format/, so the path is relative to it
//! CORELOG_FUZZ_CORPUS=../fuzz/corpus/kafka_batch_reader \
//!     cargo test -p corelog-format --test kafka_fuzz_seeds -- --ignored
//! ```

mod kafka_support;

use corelog_format::kafka::Compression;
use corelog_format::stored::kafka_to_stored;
use kafka_support::{build, golden, sample_records};

#[test]
#[ignore = "writes files; run by hand to seed the fuzz corpus"]
fn kafka_write_fuzz_seed_corpus() {
    let Some(dir) = std::env::var_os("CORELOG_FUZZ_CORPUS") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::path::Path::new(&dir);
    for (name, _, bytes) in golden() {
        std::fs::write(dir.join(format!("kafka-python-{}", name.replace(' ', "-"))), &bytes).unwrap();
    }
    for codec in Compression::ALL {
        let mut segment = Vec::new();
        for n in [1, 2, 5, 20] {
            let bytes = build(codec, &sample_records(n));
            std::fs::write(dir.join(format!("{codec:?}-{n}")), &bytes).unwrap();
            segment.extend_from_slice(&kafka_to_stored(&bytes));
        }
        let mut native = corelog_format::BatchBuilder::new(corelog_format::Compression::None);
        native.push(Some(b"k"), b"native", 1, &[("h", b"v")]);
        segment.extend_from_slice(&native.build().unwrap());
        std::fs::write(dir.join(format!("{codec:?}-segment")), &segment).unwrap();
    }
}
