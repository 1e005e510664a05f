//! Helpers shared by the Kafka batch integration tests, and golden bytes from an independent implementation: kafka-python 3.0.12's
//! `DefaultRecordBatchBuilder` (magic 2), run offline with python-snappy
//! 0.7.3, lz4 4.4.5 and zstandard 0.25.0. The generator, for each codec:
//!
//! ```text
//! b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
//!         producer_id=pid, producer_epoch=epoch, base_sequence=seq, batch_size=1 << 20)
//! v = b"corelog stores kafka batches as they come " * 4
//! b.append(0, 1_700_000_000_000, b"key-0", v, [("h1", b"v1"), ("trace", None)])
//! b.append(1, 1_700_000_000_250, None, v + b"!", [])
//! b.append(2, 1_699_999_999_990, b"", None, [("e", b"")])
//! bytes(b.build())
//! ```
//!
//! NONE with (pid, epoch, seq) = (12345, 3, 42), the others with -1s.
//! SNAPPY is snappy-java's xerial framing (kafka-python's default);
//! SNAPPY_RAW is the NONE batch's records compressed as one raw snappy block
//! (`snappy.compress`), attributes set to 2 and batchLength and CRC (the
//! `crc32c` package) recomputed, as some non-Java clients send it.

#![allow(dead_code)]

use corelog_format::kafka::{compute_crc, BatchBuilder, BatchHeader, Compression};

/// 445 bytes.
pub const NONE: &str = concat!(
    "0000000000000000000001b10000000002f28db7bd0000000000020000018bcfe568000000018bcfe568fa0000000000",
    "00303900030000002a0000000382030000000a6b65792d30d002636f72656c6f672073746f726573206b61666b612062",
    "617463686573206173207468657920636f6d6520636f72656c6f672073746f726573206b61666b612062617463686573",
    "206173207468657920636f6d6520636f72656c6f672073746f726573206b61666b612062617463686573206173207468",
    "657920636f6d6520636f72656c6f672073746f726573206b61666b612062617463686573206173207468657920636f6d",
    "6520040468310476310a747261636501e20200f4030201d202636f72656c6f672073746f726573206b61666b61206261",
    "7463686573206173207468657920636f6d6520636f72656c6f672073746f726573206b61666b61206261746368657320",
    "6173207468657920636f6d6520636f72656c6f672073746f726573206b61666b61206261746368657320617320746865",
    "7920636f6d6520636f72656c6f672073746f726573206b61666b612062617463686573206173207468657920636f6d65",
    "20210012001304000102026500",
);
pub const GZIP: &str = concat!(
    "0000000000000000000000a100000000028b5544cf0001000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff000000031f8b08006c7f0f6b02ff6b62666060e0ca4eadd435b8c0949c5f949a939fae505c0264",
    "142b6427a665272a2425962467007989c50a2519a9950ac9f9b9a90a03ab928525c390a5cc90aba428313995f11113c3",
    "176626c64b43c6f98a0c420cc22c0c8c4c4ca90c000307b62b80010000",
);
/// 190 bytes.
pub const SNAPPY: &str = concat!(
    "0000000000000000000000b200000000027d9e06940002000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff0000000382534e415050590000000001000000010000006d8003d882030000000a6b65792d30d0",
    "02636f72656c6f672073746f726573206b61666b612062617463686573206173207468657920636f6d6520fe2a00f62a",
    "0054040468310476310a747261636501e20200f4030201d2febf00febf00a2bf002c210012001304000102026500",
);
/// 184 bytes.
pub const LZ4: &str = concat!(
    "0000000000000000000000ac0000000002f6ce2c670003000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff0000000304224d18684080010000000000005764000000ff2882030000000a6b65792d30d00263",
    "6f72656c6f672073746f726573206b61666b612062617463686573206173207468657920636f6d65202a006bff070404",
    "68310476310a747261636501e20200f4030201d2bf0096c021001200130400010202650000000000",
);
/// 172 bytes.
pub const ZSTD: &str = concat!(
    "0000000000000000000000a000000000022bf7011e0004000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff0000000328b52ffd6080002d0300940582030000000a6b65792d30d002636f72656c6f67207374",
    "6f726573206b61666b612062617463686573206173207468657920636f6d6520040468310476310a747261636501e202",
    "00f4030201d221001200130400010202650002004c4243b5db2d5550",
);
/// 170 bytes.
pub const SNAPPY_RAW: &str = concat!(
    "00000000000000000000009e0000000002fbb301650002000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff000000038003d882030000000a6b65792d30d002636f72656c6f672073746f726573206b61666b",
    "612062617463686573206173207468657920636f6d6520fe2a00f62a0054040468310476310a747261636501e20200f4",
    "030201d2febf00febf00a2bf002c210012001304000102026500",
);

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

pub fn golden() -> [(&'static str, Compression, Vec<u8>); 6] {
    [
        ("none", Compression::None, hex(NONE)),
        ("gzip", Compression::Gzip, hex(GZIP)),
        ("snappy", Compression::Snappy, hex(SNAPPY)),
        ("snappy raw", Compression::Snappy, hex(SNAPPY_RAW)),
        ("lz4", Compression::Lz4, hex(LZ4)),
        ("zstd", Compression::Zstd, hex(ZSTD)),
    ]
}

/// A record as pushed: (key, value, timestamp, headers).
pub type Input = (Option<Vec<u8>>, Option<Vec<u8>>, i64, Vec<(String, Option<Vec<u8>>)>);

/// Varied records: null and empty keys and values, headers with null values,
/// timestamps that go backwards.
pub fn sample_records(n: usize) -> Vec<Input> {
    (0..n)
        .map(|i| {
            let key = (i % 3 != 0).then(|| format!("key-{i}").into_bytes());
            let value = (i % 5 != 4).then(|| vec![(i % 251) as u8; i % 200]);
            let ts = 1_700_000_000_000 + (i as i64 * 13) % 1000 - 500;
            let headers = (0..i % 3).map(|h| (format!("h{h}"), (h != 1).then(|| vec![h as u8; h]))).collect();
            (key, value, ts, headers)
        })
        .collect()
}

pub fn build(codec: Compression, records: &[Input]) -> Vec<u8> {
    let mut b = BatchBuilder::new(codec);
    for (key, value, ts, headers) in records {
        let hs: Vec<(&str, Option<&[u8]>)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        b.push(key.as_deref(), value.as_deref(), *ts, &hs);
    }
    b.build().unwrap()
}

/// Recomputes the CRC after a deliberate change under it.
pub fn recrc(bytes: &mut [u8]) {
    let crc = compute_crc(bytes);
    if let Some(h) = BatchHeader::parse_mut(bytes) {
        h.crc.set(crc);
    }
}
