//! Kafka batches from kafka-python (an independent implementation, see
//! `kafka_support`) decode field by field, and our builder writes them.

mod kafka_support;

use corelog_format::kafka::{
    compute_crc, validate, validate_full, BatchBuilder, BatchHeader, Compression, DecodedBatch,
};
use corelog_format::BatchError;
use kafka_support::{golden, hex, NONE, SNAPPY};

const MAX: usize = 1 << 20;

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
