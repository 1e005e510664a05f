//! Writes valid batches as a seed corpus for the `batch_reader` fuzz target,
//! so the fuzzer starts past the CRC instead of having to discover it:
//!
//! ```text
//! # tests run in engine/format/, so the path is relative to it
//! CORELOG_FUZZ_CORPUS=../fuzz/corpus/batch_reader \
//!     cargo test -p corelog-format --test batch_fuzz_seeds -- --ignored
//! ```

mod batch_support;

use batch_support::{build, sample_records, CODECS};

#[test]
#[ignore = "writes files; run by hand to seed the fuzz corpus"]
fn batch_write_fuzz_seed_corpus() {
    let Some(dir) = std::env::var_os("CORELOG_FUZZ_CORPUS") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::path::Path::new(&dir);
    for codec in CODECS {
        let mut fetch = Vec::new();
        for n in [1, 2, 5, 20] {
            let bytes = build(codec, &sample_records(n));
            std::fs::write(dir.join(format!("{codec:?}-{n}")), &bytes).unwrap();
            fetch.extend_from_slice(&bytes);
        }
        std::fs::write(dir.join(format!("{codec:?}-fetch")), &fetch).unwrap();
    }
}
