//! Kafka batches as valid batches: a Kafka produce request's records blob
//! (`ValidBatches::from_kafka_network`), stored Kafka batches next to native
//! ones (`ValidBatches::new` / `from_network`, as a follower fetches them),
//! and the stamped header the log stores them with.

mod kafka_support;

use bytes::Bytes;
use corelog_format::kafka::{self, Compression};
use corelog_format::limits::{BATCH_ALIGNMENT, KAFKA_HEADER_LEN};
use corelog_format::stored::{kafka_stored_len, kafka_to_stored};
use corelog_format::{BatchBuilder, BatchError, BatchFormat, StoredBatch, ValidBatch, ValidBatches};
use kafka_support::{build, golden, recrc, sample_records};

const MAX: usize = 1 << 20;

fn native(records: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(corelog_format::Compression::None);
    for i in 0..records {
        b.push(None, b"native", 1_000 + i as i64, &[]);
    }
    b.build().unwrap().to_vec()
}

#[test]
fn a_kafka_request_is_split_without_copying() {
    for (name, _, wire) in golden() {
        let second = build(Compression::Lz4, &sample_records(7));
        let blob = Bytes::from([&wire[..], &second[..]].concat());
        let valid = ValidBatches::from_kafka_network(blob.clone(), MAX).unwrap();
        let stored = kafka_stored_len(wire.len()) + kafka_stored_len(second.len());
        assert_eq!((valid.len(), valid.record_count(), valid.byte_len()), (2, 3 + 7, stored), "{name}");
        let got: Vec<_> = valid.iter().collect();
        assert_eq!(&got[0].bytes()[..], &wire[..], "{name}: the wire bytes, no padding");
        assert_eq!(got[0].padding_len(), kafka_stored_len(wire.len()) - wire.len());
        assert_eq!((got[0].format(), got[0].header_len()), (BatchFormat::Kafka, KAFKA_HEADER_LEN));
        assert_eq!((got[0].last_offset_delta(), got[1].last_offset_delta()), (2, 6));
        assert_eq!(got[0].max_timestamp(), 1_700_000_000_250, "{name}");
        assert_eq!(got[1].header().producer_id(), -1);
        let range = blob.as_ptr_range();
        assert!(got.iter().all(|b| range.contains(&b.bytes().as_ptr())), "{name}: slices of the request");
        assert_eq!(got[1].bytes().as_ptr(), blob[wire.len()..].as_ptr());
    }
    let one = golden()[0].2.clone();
    let single = ValidBatch::from_kafka_network(Bytes::from(one.clone()), MAX).unwrap();
    assert_eq!((single.header().producer_id(), single.header().base_sequence()), (12345, 42));
    assert_eq!(single.header().producer_epoch(), 3);
    assert!(matches!(
        ValidBatch::from_kafka_network(Bytes::from([&one[..], &one[..]].concat()), MAX),
        Err(BatchError::NotOneBatch { .. })
    ));
}

#[test]
fn a_kafka_request_with_anything_wrong_is_refused() {
    let good = build(Compression::None, &sample_records(4));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("trailing garbage", [&good[..], &[1, 2, 3]].concat()),
        ("partial second batch", [&good[..], &good[..good.len() - 1]].concat()),
        ("padding is not part of the wire form", kafka_to_stored(&[&good[..], &good[..]].concat())),
        ("a native batch", native(2)),
        ("bit flip", {
            let mut b = good.clone();
            b[KAFKA_HEADER_LEN + 3] ^= 4;
            b
        }),
        ("transactional", {
            let mut b = good.clone();
            let h = kafka::BatchHeader::parse_mut(&mut b).unwrap();
            h.attributes.set(h.attributes() | kafka::header::ATTR_TRANSACTIONAL);
            recrc(&mut b);
            b
        }),
    ];
    for (name, bytes) in cases {
        // One stored padding's worth can pass as trailing garbage of a
        // single batch only if it is zero; every case here is refused.
        assert!(ValidBatches::from_kafka_network(Bytes::from(bytes), MAX).is_err(), "{name}");
    }
    assert_eq!(ValidBatches::from_kafka_network(Bytes::new(), MAX).unwrap_err(), BatchError::NoBatches);
    assert!(matches!(
        ValidBatches::from_kafka_network(Bytes::from(good), 64),
        Err(BatchError::KafkaLengthOutOfRange { .. })
    ));
}

#[test]
fn the_stamped_kafka_header_is_big_endian_and_keeps_the_crc() {
    let wire = build(Compression::Zstd, &sample_records(5));
    let valid = ValidBatch::from_kafka_network(Bytes::from(wire.clone()), MAX).unwrap();
    let stamped = valid.stamped_header(0x0102_0304_0506_0708, 0x0a0b_0c0d).unwrap();
    assert_eq!(stamped.len(), KAFKA_HEADER_LEN);
    assert_eq!(&stamped[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&stamped[12..16], &[0x0a, 0x0b, 0x0c, 0x0d]);
    assert_eq!(&stamped[8..12], &wire[8..12], "batchLength as sent");
    assert_eq!(&stamped[16..], &wire[16..KAFKA_HEADER_LEN]);
    let mut stored = stamped.to_vec();
    stored.extend_from_slice(&valid.rest());
    stored.resize(stored.len() + valid.padding_len(), 0);
    assert_eq!(stored.len(), valid.len());
    assert_eq!(stored.len() % BATCH_ALIGNMENT, 0);
    let batch = StoredBatch::validate_full(&stored, MAX).unwrap();
    assert_eq!(
        (batch.base_offset(), batch.last_offset(), batch.leader_epoch()),
        (0x0102_0304_0506_0708, 0x0102_0304_0506_070c, 0x0a0b_0c0d)
    );
    let decoded = kafka::DecodedBatch::decode(&stored, MAX).unwrap();
    assert_eq!(
        decoded.records().map(|r| r.offset).collect::<Vec<_>>(),
        (0..5).map(|i| 0x0102_0304_0506_0708 + i).collect::<Vec<_>>()
    );

    assert!(matches!(valid.stamped_header(1 << 63, 0), Err(BatchError::FieldOutOfRange { field: "base offset", .. })));
    assert!(matches!(valid.stamped_header(0, 1 << 31), Err(BatchError::FieldOutOfRange { field: "leader epoch", .. })));
}

#[test]
fn stored_batches_of_both_formats_are_valid_batches() {
    let mut k = kafka_to_stored(&build(Compression::Gzip, &sample_records(3)));
    let mut km = corelog_format::StoredBatchMut::new(&mut k).unwrap();
    km.set_base_offset(2).unwrap();
    km.set_leader_epoch(4).unwrap();
    let n = native(2);
    let bytes = Bytes::from([&n[..], &k[..], &n[..]].concat());
    for valid in
        [ValidBatches::new(bytes.clone(), MAX).unwrap(), ValidBatches::from_network(bytes.clone(), MAX).unwrap()]
    {
        assert_eq!((valid.len(), valid.byte_len(), valid.record_count()), (3, bytes.len(), 7));
        let kafka = valid.iter().nth(1).unwrap();
        assert_eq!(kafka.format(), BatchFormat::Kafka);
        assert_eq!((kafka.header().base_offset(), kafka.header().leader_epoch()), (2, 4));
        assert_eq!(kafka.len(), k.len(), "stored length, padding included");
        assert_eq!(kafka.bytes().len() + kafka.padding_len(), k.len());
        assert!(kafka.padding_len() > 0, "this batch needs padding");
        assert_eq!(&kafka.bytes()[..], &k[..kafka.bytes().len()]);
        let compact = valid.compacted();
        assert_eq!(compact.byte_len(), valid.byte_len());
        let again = compact.iter().nth(1).unwrap();
        assert_eq!((again.header(), &again.bytes()[..]), (kafka.header(), &kafka.bytes()[..]));
    }
    let one = ValidBatch::new(Bytes::from(k.clone()), MAX).unwrap();
    assert_eq!(one.len(), k.len());
    // Without its padding a stored Kafka batch is not one stored batch.
    let wire_len = one.bytes().len();
    assert!(ValidBatch::new(Bytes::from(k[..wire_len].to_vec()), MAX).is_err());

    let mut dirty = k.clone();
    *dirty.last_mut().unwrap() = 1;
    assert!(matches!(ValidBatches::new(Bytes::from(dirty), MAX), Err(BatchError::NonZeroPadding { .. })));

    // A stored batch whose CRC holds but whose records do not: only the
    // network constructors look at the records.
    let mut txn = build(Compression::None, &sample_records(2));
    let h = kafka::BatchHeader::parse_mut(&mut txn).unwrap();
    h.attributes.set(h.attributes() | kafka::header::ATTR_TRANSACTIONAL);
    recrc(&mut txn);
    let txn = Bytes::from(kafka_to_stored(&txn));
    assert!(ValidBatches::new(txn.clone(), MAX).is_ok());
    assert!(matches!(ValidBatches::from_network(txn.clone(), MAX), Err(BatchError::KafkaUnsupportedBatch { .. })));
    assert!(ValidBatch::from_network(txn, MAX).is_err());
}
