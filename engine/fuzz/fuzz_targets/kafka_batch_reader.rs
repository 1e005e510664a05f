//! Bytes as they arrive from a Kafka producer (and as they lie in a
//! segment), through every Kafka batch reader and the stored-batch view. Any
//! panic, overflow, out-of-bounds read or runaway allocation is a finding.
#![no_main]

use corelog_format::kafka::{compute_crc, validate_full, BatchHeader, DecodedBatch};
use corelog_format::limits::{DEFAULT_MAX_BATCH_BYTES, KAFKA_HEADER_LEN};
use corelog_format::stored::iter_stored;
use corelog_format::StoredBatch;
use libfuzzer_sys::fuzz_target;

const MAX: usize = DEFAULT_MAX_BATCH_BYTES;

fn read_all(bytes: &[u8]) -> usize {
    let mut n = 0;
    if let Ok(batch) = DecodedBatch::decode(bytes, MAX) {
        for r in batch.records() {
            n += r.value.map_or(0, <[u8]>::len) + r.key.map_or(0, <[u8]>::len);
            n += r.headers.iter().map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len)).sum::<usize>();
        }
        assert_eq!(batch.records().count(), batch.len());
        assert!(validate_full(bytes, MAX).is_ok());
    }
    if let Ok(stored) = StoredBatch::validate_full(bytes, MAX) {
        n += stored.stored_len() + stored.record_count() as usize;
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let mut n = read_all(data);
    for (_, batch) in iter_stored(data, MAX).flatten() {
        n += read_all(batch);
    }
    // libFuzzer cannot forge a CRC-32C, so almost every mutation would stop
    // at the CRC check. Also run a copy with the CRC fixed up, which takes
    // mutations on into the header checks, the decompressors and the record walk.
    let mut fixed = data.to_vec();
    if let Some(h) = BatchHeader::parse(&fixed) {
        let end = h.wire_length().unwrap_or(KAFKA_HEADER_LEN).clamp(KAFKA_HEADER_LEN, fixed.len());
        let crc = compute_crc(&fixed[..end]);
        if let Some(h) = BatchHeader::parse_mut(&mut fixed) {
            h.crc.set(crc);
        }
        n += read_all(&fixed);
    }
    std::hint::black_box(n);
});
