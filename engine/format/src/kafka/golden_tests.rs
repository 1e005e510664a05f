//! Golden bytes from an independent implementation: kafka-python 3.0.12's
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

use super::*;
use crate::error::BatchError;

const MAX: usize = 1 << 20;

/// 445 bytes.
pub(super) const NONE: &str = concat!(
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
pub(super) const GZIP: &str = concat!(
    "0000000000000000000000a100000000028b5544cf0001000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff000000031f8b08006c7f0f6b02ff6b62666060e0ca4eadd435b8c0949c5f949a939fae505c0264",
    "142b6427a665272a2425962467007989c50a2519a9950ac9f9b9a90a03ab928525c390a5cc90aba428313995f11113c3",
    "176626c64b43c6f98a0c420cc22c0c8c4c4ca90c000307b62b80010000",
);
/// 190 bytes.
pub(super) const SNAPPY: &str = concat!(
    "0000000000000000000000b200000000027d9e06940002000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff0000000382534e415050590000000001000000010000006d8003d882030000000a6b65792d30d0",
    "02636f72656c6f672073746f726573206b61666b612062617463686573206173207468657920636f6d6520fe2a00f62a",
    "0054040468310476310a747261636501e20200f4030201d2febf00febf00a2bf002c210012001304000102026500",
);
/// 184 bytes.
pub(super) const LZ4: &str = concat!(
    "0000000000000000000000ac0000000002f6ce2c670003000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff0000000304224d18684080010000000000005764000000ff2882030000000a6b65792d30d00263",
    "6f72656c6f672073746f726573206b61666b612062617463686573206173207468657920636f6d65202a006bff070404",
    "68310476310a747261636501e20200f4030201d2bf0096c021001200130400010202650000000000",
);
/// 172 bytes.
pub(super) const ZSTD: &str = concat!(
    "0000000000000000000000a000000000022bf7011e0004000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff0000000328b52ffd6080002d0300940582030000000a6b65792d30d002636f72656c6f67207374",
    "6f726573206b61666b612062617463686573206173207468657920636f6d6520040468310476310a747261636501e202",
    "00f4030201d221001200130400010202650002004c4243b5db2d5550",
);
/// 170 bytes.
pub(super) const SNAPPY_RAW: &str = concat!(
    "00000000000000000000009e0000000002fbb301650002000000020000018bcfe568000000018bcfe568faffffffffff",
    "ffffffffffffffffff000000038003d882030000000a6b65792d30d002636f72656c6f672073746f726573206b61666b",
    "612062617463686573206173207468657920636f6d6520fe2a00f62a0054040468310476310a747261636501e20200f4",
    "030201d2febf00febf00a2bf002c210012001304000102026500",
);

pub(super) fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

pub(super) fn golden() -> [(&'static str, Compression, Vec<u8>); 6] {
    [
        ("none", Compression::None, hex(NONE)),
        ("gzip", Compression::Gzip, hex(GZIP)),
        ("snappy", Compression::Snappy, hex(SNAPPY)),
        ("snappy raw", Compression::Snappy, hex(SNAPPY_RAW)),
        ("lz4", Compression::Lz4, hex(LZ4)),
        ("zstd", Compression::Zstd, hex(ZSTD)),
    ]
}

fn value() -> Vec<u8> {
    b"corelog stores kafka batches as they come ".repeat(4)
}

const BASE_TS: i64 = 1_700_000_000_000;

#[test]
fn crc32c_is_castagnoli() {
    // The check value of CRC-32C (RFC 3720 / the CRC catalogue).
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn golden_headers_decode_field_by_field() {
    for (name, codec, bytes) in golden() {
        let h = validate_full(&bytes, MAX).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(h.wire_length(), Some(bytes.len()), "{name}");
        assert_eq!((h.base_offset(), h.leader_epoch(), h.magic), (0, 0, 2), "{name}");
        assert_eq!(Compression::from_attributes(h.attributes()), Ok(codec), "{name}");
        assert_eq!(h.attributes() & !0x07, 0, "{name}: create time, not transactional, not control");
        assert_eq!((h.last_offset_delta(), h.record_count()), (2, 3), "{name}");
        assert_eq!((h.base_timestamp(), h.max_timestamp()), (BASE_TS, BASE_TS + 250), "{name}");
        let producer = if codec == Compression::None { (12345, 3, 42) } else { (-1, -1, -1) };
        assert_eq!((h.producer_id(), h.producer_epoch(), h.base_sequence()), producer, "{name}");
        assert_eq!(h.crc.get(), compute_crc(&bytes), "{name}");
    }
    assert_eq!(BatchHeader::parse(&hex(NONE)).unwrap().crc.get(), 0xf28d_b7bd);
}

#[test]
fn golden_records_decode_record_by_record() {
    let v = value();
    let mut v_bang = v.clone();
    v_bang.push(b'!');
    for (name, _, bytes) in golden() {
        let batch = DecodedBatch::decode(&bytes, MAX).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(batch.len(), 3);
        let r: Vec<_> = batch.records().collect();
        assert_eq!(r.len(), 3, "{name}");
        assert_eq!(
            (r[0].offset, r[0].timestamp, r[0].key, r[0].value),
            (0, BASE_TS, Some(&b"key-0"[..]), Some(&v[..]))
        );
        let h0: Vec<_> = r[0].headers.iter().collect();
        assert_eq!(h0, vec![("h1", Some(&b"v1"[..])), ("trace", None)], "{name}");
        assert_eq!((r[1].offset, r[1].timestamp, r[1].key, r[1].value), (1, BASE_TS + 250, None, Some(&v_bang[..])));
        assert!(r[1].headers.is_empty());
        assert_eq!((r[2].offset, r[2].timestamp, r[2].key, r[2].value), (2, BASE_TS - 10, Some(&b""[..]), None));
        assert_eq!(r[2].headers.iter().collect::<Vec<_>>(), vec![("e", Some(&b""[..]))], "{name}");
    }
}

/// The same records through our builder: byte for byte kafka-python's batch,
/// but for partitionLeaderEpoch (kafka-python sends 0, the Java producer and
/// we send -1), which is outside the CRC.
#[test]
fn our_builder_writes_the_golden_bytes() {
    let v = value();
    let mut v_bang = v.clone();
    v_bang.push(b'!');
    let mut b = BatchBuilder::new(Compression::None).producer(12345, 3, 42);
    b.push(Some(b"key-0"), Some(&v), BASE_TS, &[("h1", Some(b"v1")), ("trace", None)]);
    b.push(None, Some(&v_bang), BASE_TS + 250, &[]);
    b.push(Some(b""), None, BASE_TS - 10, &[("e", Some(b""))]);
    let mut ours = b.build().unwrap();
    assert_eq!(BatchHeader::parse(&ours).unwrap().leader_epoch(), -1);
    BatchHeader::parse_mut(&mut ours).unwrap().set_leader_epoch(0);
    assert_eq!(ours, hex(NONE));

    // Compressed: the codecs' bytes differ between implementations, the
    // records inside must not.
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let mut c = BatchBuilder::new(codec);
        c.push(Some(b"key-0"), Some(&v), BASE_TS, &[("h1", Some(b"v1")), ("trace", None)]);
        c.push(None, Some(&v_bang), BASE_TS + 250, &[]);
        c.push(Some(b""), None, BASE_TS - 10, &[("e", Some(b""))]);
        let bytes = c.build().unwrap();
        let ours = DecodedBatch::decode(&bytes, MAX).unwrap();
        let golden = golden();
        let theirs_bytes = &golden.iter().find(|(_, g, _)| *g == codec).unwrap().2;
        let theirs = DecodedBatch::decode(theirs_bytes, MAX).unwrap();
        assert!(ours.records().eq(theirs.records()), "{codec:?}");
        // Header fields under the CRC are the same too.
        assert_eq!(bytes[21..61], theirs_bytes[21..61], "{codec:?}");
    }
}

#[test]
fn our_snappy_is_xerial_framed_like_the_java_producer() {
    let mut b = BatchBuilder::new(Compression::Snappy);
    b.push(None, Some(&value()), 0, &[]);
    let ours = b.build().unwrap();
    let theirs = hex(SNAPPY);
    // Magic, version 1, compatible version 1: as snappy-java (and kafka-python) write it.
    assert_eq!(ours[61..77], theirs[61..77]);
    assert_eq!(&ours[61..69], b"\x82SNAPPY\0");
}

#[test]
fn a_flipped_crc_byte_is_caught() {
    let mut bytes = hex(NONE);
    bytes[17] ^= 0x01;
    assert!(matches!(validate(&bytes, MAX), Err(BatchError::CrcMismatch { expected: 0xf38d_b7bd, .. })));
}
