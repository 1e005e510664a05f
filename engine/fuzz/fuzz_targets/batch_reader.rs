//! Bytes as they arrive from the network, through every batch reader. Any
//! panic, overflow, out-of-bounds read or runaway allocation is a finding.
#![no_main]

use corelog_format::{
    compute_crc, iter_batches, validate_full, BatchHeader, DecodedBatch, HEADER_LEN,
};
use corelog_format::limits::DEFAULT_MAX_BATCH_BYTES;
use libfuzzer_sys::fuzz_target;

const MAX: usize = DEFAULT_MAX_BATCH_BYTES;

fn read_all(bytes: &[u8]) -> usize {
    let mut n = 0;
    if let Ok(batch) = DecodedBatch::decode(bytes, MAX) {
        for r in batch.records() {
            n += r.value.len() + r.key.map_or(0, <[u8]>::len) + r.headers.len();
        }
        assert_eq!(batch.records().count(), batch.len());
        assert!(validate_full(bytes, MAX).is_ok());
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let mut n = read_all(data);
    for batch in iter_batches(data, MAX).flatten() {
        n += read_all(batch);
    }
    // libFuzzer cannot forge a CRC, so almost every mutation would stop at the
    // CRC check. Also run a copy with the CRC fixed up, which takes mutations
    // on into the header checks, the decompressors and bytecheck.
    let mut fixed = data.to_vec();
    if let Some(h) = BatchHeader::parse(&fixed) {
        let end = h.batch_length().clamp(HEADER_LEN, fixed.len());
        let crc = compute_crc(&fixed[..end]);
        if let Some(h) = BatchHeader::parse_mut(&mut fixed) {
            h.crc.set(crc);
        }
        n += read_all(&fixed);
    }
    std::hint::black_box(n);
});
