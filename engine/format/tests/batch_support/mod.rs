//! Helpers shared by the batch integration tests.
#![allow(dead_code)]

use corelog_format::{compute_crc, BatchBuilder, BatchHeader, Compression};
use rkyv::util::AlignedVec;

pub const CODECS: [Compression; 3] = [Compression::None, Compression::Lz4, Compression::Zstd];

/// One record as pushed: (key, value, timestamp, headers).
pub type Input = (Option<Vec<u8>>, Vec<u8>, i64, Vec<(String, Vec<u8>)>);

/// A varied set of records: keys absent and present, headers on some, empty
/// values, timestamps that go backwards.
pub fn sample_records(n: usize) -> Vec<Input> {
    (0..n)
        .map(|i| {
            let key = (i % 3 != 0).then(|| format!("key-{i}").into_bytes());
            let value = if i % 7 == 0 { Vec::new() } else { vec![(i % 251) as u8; i % 200] };
            let ts = 1_700_000_000_000 + (i as i64 * 13) % 1000 - 500;
            let headers = (0..i % 3).map(|h| (format!("h{h}"), vec![h as u8; h])).collect();
            (key, value, ts, headers)
        })
        .collect()
}

pub fn build(codec: Compression, records: &[Input]) -> Vec<u8> {
    let mut b = BatchBuilder::new(codec);
    for (key, value, ts, headers) in records {
        let hs: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
        b.push(key.as_deref(), value, *ts, &hs);
    }
    b.build().expect("build").to_vec()
}

/// Copies into a 16-aligned buffer, as a block-aligned read would deliver.
pub fn aligned(bytes: &[u8]) -> AlignedVec {
    let mut v = AlignedVec::with_capacity(bytes.len());
    v.extend_from_slice(bytes);
    v
}

/// Applies `f` to the header, then recomputes the CRC so only the checks
/// after the CRC can catch the change.
pub fn rewrite(bytes: &mut [u8], f: impl FnOnce(&mut BatchHeader)) {
    f(BatchHeader::parse_mut(bytes).expect("header"));
    recrc(bytes);
}

/// Recomputes the CRC over the batch's own length (clamped to the buffer).
pub fn recrc(bytes: &mut [u8]) {
    let Some(h) = BatchHeader::parse(bytes) else {
        return;
    };
    let end = h.batch_length().clamp(corelog_format::HEADER_LEN, bytes.len());
    let crc = compute_crc(&bytes[..end]);
    BatchHeader::parse_mut(bytes).expect("header").crc.set(crc);
}
