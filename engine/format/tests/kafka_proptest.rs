//! Property tests for Kafka batches: arbitrary records round-trip through
//! every codec (build -> validate -> iterate, and as a stored batch), native
//! batches convert to Kafka ones record for record, and random or damaged
//! bytes never make a reader panic.

mod kafka_support;

use corelog_format::kafka::{self, native_to_kafka, BatchHeader, Compression, DecodedBatch, CRC_START};
use corelog_format::limits::KAFKA_HEADER_LEN;
use corelog_format::stored::{iter_stored, kafka_to_stored};
use corelog_format::{BatchFormat, StoredBatch};
use kafka_support::{build, recrc, Input};
use proptest::prelude::*;

const MAX: usize = 1 << 20;

fn codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn record() -> impl Strategy<Value = Input> {
    (
        prop::option::of(bytes(16)),
        prop::option::of(bytes(300)),
        -1_000_000i64..1_000_000,
        prop::collection::vec(("[a-zé]{0,6}", prop::option::of(bytes(8))), 0..3),
    )
}

/// Every reader over `bytes`; panics only if they disagree.
fn exercise(bytes: &[u8]) {
    let full = kafka::validate_full(bytes, MAX).map(|_| ());
    match DecodedBatch::decode(bytes, MAX) {
        Ok(d) => {
            assert_eq!(full, Ok(()));
            assert!(kafka::validate(bytes, MAX).is_ok());
            let mut n = 0;
            for r in d.records() {
                std::hint::black_box((r.key, r.value, r.headers.iter().count()));
                n += 1;
            }
            assert_eq!(n, d.len());
        }
        Err(e) => assert_eq!(full, Err(e)),
    }
    let _ = StoredBatch::validate_full(bytes, MAX);
    let _ = iter_stored(bytes, MAX).count();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_records_round_trip(codec in codec(), input in prop::collection::vec(record(), 1..12)) {
        let bytes = build(codec, &input);
        let h = kafka::validate_full(&bytes, MAX).unwrap();
        prop_assert_eq!(Compression::from_attributes(h.attributes()), Ok(codec));
        prop_assert_eq!(h.max_timestamp(), input.iter().map(|r| r.2).max().unwrap());
        let d = DecodedBatch::decode(&bytes, MAX).unwrap();
        prop_assert_eq!(d.len(), input.len());
        for (i, (rec, (key, value, ts, headers))) in d.records().zip(&input).enumerate() {
            prop_assert_eq!(rec.offset, i as i64);
            prop_assert_eq!(rec.timestamp, *ts);
            prop_assert_eq!(rec.key, key.as_deref());
            prop_assert_eq!(rec.value, value.as_deref());
            let want: Vec<(&str, Option<&[u8]>)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
            prop_assert_eq!(rec.headers.iter().collect::<Vec<_>>(), want);
        }
        // Stored: padded, found by the format-neutral view with the same fields.
        let stored = kafka_to_stored(&bytes);
        let s = StoredBatch::validate_full(&stored, MAX).unwrap();
        prop_assert_eq!(s.format(), BatchFormat::Kafka);
        prop_assert_eq!((s.wire_len(), s.stored_len() % 16), (bytes.len(), 0));
        prop_assert_eq!((s.record_count() as usize, s.last_offset()), (input.len(), input.len() as u64 - 1));
    }

    #[test]
    fn native_batches_convert_record_for_record(
        codec in prop::sample::select(vec![
            corelog_format::Compression::None,
            corelog_format::Compression::Lz4,
            corelog_format::Compression::Zstd,
        ]),
        input in prop::collection::vec(record(), 1..12),
        base_offset in 0u64..(1 << 40),
        epoch in 0u32..1000,
    ) {
        let mut b = corelog_format::BatchBuilder::new(codec);
        for (key, value, ts, headers) in &input {
            let hs: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or_default())).collect();
            b.push(key.as_deref(), value.as_deref().unwrap_or_default(), *ts, &hs);
        }
        let mut native = b.build().unwrap();
        let h = corelog_format::BatchHeader::parse_mut(&mut native).unwrap();
        h.base_offset.set(base_offset);
        h.leader_epoch.set(epoch);
        let kafka_bytes = native_to_kafka(&native, MAX).unwrap();
        let kafka = DecodedBatch::decode(&kafka_bytes, MAX).unwrap();
        let native = corelog_format::DecodedBatch::decode(&native, MAX).unwrap();
        let (kh, nh) = (kafka.header(), native.header());
        prop_assert_eq!((kh.base_offset() as u64, kh.leader_epoch() as u32), (base_offset, epoch));
        prop_assert_eq!((kh.base_timestamp(), kh.max_timestamp()), (nh.first_timestamp(), nh.max_timestamp()));
        prop_assert_eq!(kh.last_offset_delta() as u32, nh.last_offset_delta());
        prop_assert_eq!(kafka.len(), native.len());
        for (k, n) in kafka.records().zip(native.records()) {
            prop_assert_eq!((k.offset as u64, k.timestamp, k.key, k.value), (n.offset, n.timestamp, n.key, Some(n.value)));
            let kh: Vec<_> = k.headers.iter().map(|(key, v)| (key, v.unwrap_or_default())).collect();
            prop_assert_eq!(kh, n.headers);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in bytes(512)) {
        exercise(&bytes);
    }

    #[test]
    fn random_records_behind_a_valid_header_never_panic(
        codec in codec(),
        body in bytes(512),
        count in 1i32..20,
        last_offset_delta in 0i32..25,
    ) {
        // A header with a right CRC around arbitrary record bytes: reaches
        // the decoders and the record walk on every case.
        let mut bytes = build(codec, &[(None, None, 0, vec![])])[..KAFKA_HEADER_LEN].to_vec();
        bytes.extend_from_slice(&body);
        let batch_length = (bytes.len() - 12) as i32;
        let h = BatchHeader::parse_mut(&mut bytes).unwrap();
        h.batch_length.set(batch_length);
        h.record_count.set(count);
        h.last_offset_delta.set(last_offset_delta);
        recrc(&mut bytes);
        exercise(&bytes);
    }

    #[test]
    fn damaged_batches_with_a_fixed_crc_never_panic(
        codec in codec(),
        input in prop::collection::vec(record(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
    ) {
        let mut bytes = build(codec, &input);
        for (at, mask) in &flips {
            let i = CRC_START + at.index(bytes.len() - CRC_START);
            bytes[i] ^= mask;
        }
        recrc(&mut bytes);
        exercise(&bytes);
        exercise(&kafka_to_stored(&bytes));
    }
}
