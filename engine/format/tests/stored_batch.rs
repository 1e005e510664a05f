//! The format-neutral stored view: native and Kafka batches side by side in
//! one segment, told apart by byte 16, with the Kafka padding rule enforced.

mod kafka_support;

use corelog_format::kafka::{self, Compression};
use corelog_format::limits::BATCH_ALIGNMENT;
use corelog_format::stored::{iter_stored, kafka_stored_len, kafka_to_stored, MAGIC_OFFSET};
use corelog_format::{BatchBuilder, BatchError, BatchFormat, StoredBatch, StoredBatchMut};
use kafka_support::{build, golden, hex, sample_records, NONE};

const MAX: usize = 1 << 20;

fn native(records: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(corelog_format::Compression::None);
    for i in 0..records {
        b.push(None, b"native", 1_000 + i as i64, &[]);
    }
    b.build().unwrap().to_vec()
}

#[test]
fn both_formats_report_the_same_fields() {
    let mut n = native(3);
    let mut k = kafka_to_stored(&hex(NONE));
    for bytes in [&mut n, &mut k] {
        let mut m = StoredBatchMut::new(bytes).unwrap();
        m.set_base_offset(500).unwrap();
        m.set_leader_epoch(7).unwrap();
    }
    let n = StoredBatch::validate_full(&n, MAX).unwrap();
    let k = StoredBatch::validate_full(&k, MAX).unwrap();
    assert_eq!((n.format(), k.format()), (BatchFormat::Native, BatchFormat::Kafka));
    for s in [n, k] {
        assert_eq!((s.base_offset(), s.last_offset(), s.next_offset(), s.leader_epoch()), (500, 502, 503, 7));
        assert_eq!(s.record_count(), 3);
        assert_eq!(s.stored_len() % BATCH_ALIGNMENT, 0);
    }
    assert_eq!(n.max_timestamp(), 1_002);
    assert_eq!(k.max_timestamp(), 1_700_000_000_250);
    assert_eq!((k.producer_id(), k.producer_epoch(), k.base_sequence()), (12345, 3, 42));
    assert_eq!((n.producer_id(), n.producer_epoch(), n.base_sequence()), (-1, -1, -1));
    // 445 wire bytes, stored in 448.
    assert_eq!((k.wire_len(), k.stored_len()), (445, 448));
    assert_eq!(n.wire_len(), n.stored_len());
}

#[test]
fn the_padding_rule_is_checked() {
    let wire = hex(NONE);
    assert_eq!(kafka_stored_len(wire.len()), 448);
    assert_eq!(kafka_stored_len(448), 448);
    let stored = kafka_to_stored(&wire);
    assert_eq!(stored.len(), 448);
    assert!(StoredBatch::validate(&stored, MAX).is_ok());
    for pos in wire.len()..stored.len() {
        let mut bad = stored.clone();
        bad[pos] = 1;
        assert_eq!(StoredBatch::validate(&bad, MAX), Err(BatchError::NonZeroPadding { offset: pos, value: 1 }));
    }
    // Without its padding a stored batch is cut short...
    assert_eq!(StoredBatch::validate(&wire, MAX), Err(BatchError::Truncated { length: 448, available: 445 }));
    // ...but a Kafka batch whose length is already a multiple of 16 has none.
    let aligned = (1..40)
        .map(|n| build(Compression::None, &sample_records(n)))
        .find(|b| b.len() % BATCH_ALIGNMENT == 0)
        .expect("some size is aligned");
    assert_eq!(kafka_to_stored(&aligned), aligned);
    assert_eq!(StoredBatch::validate(&aligned, MAX).unwrap().stored_len(), aligned.len());
}

#[test]
fn a_segment_of_mixed_batches_iterates_in_order() {
    let mut segment = Vec::new();
    let mut expected = Vec::new();
    for (i, (_, _, kafka)) in golden().into_iter().enumerate() {
        let n = native(i + 1);
        expected.push((BatchFormat::Native, n.len(), i + 1));
        segment.extend_from_slice(&n);
        let k = kafka_to_stored(&kafka);
        expected.push((BatchFormat::Kafka, k.len(), 3));
        segment.extend_from_slice(&k);
    }
    let got: Vec<_> = iter_stored(&segment, MAX)
        .map(|r| r.map(|(b, bytes)| (b.format(), bytes.len(), b.record_count() as usize)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, expected);
    // A cut-off batch at the end is reported, after the good ones.
    let cut = &segment[..segment.len() - 1];
    let results: Vec<_> = iter_stored(cut, MAX).collect();
    assert_eq!(results.len(), expected.len());
    assert!(results.last().unwrap().is_err());
}

#[test]
fn unknown_magics_and_short_bytes_are_errors() {
    let mut bytes = native(1);
    for magic in [0u8, 3, 0xff] {
        bytes[MAGIC_OFFSET] = magic;
        assert_eq!(StoredBatch::validate(&bytes, MAX), Err(BatchError::UnknownMagic { found: magic }));
        assert_eq!(StoredBatchMut::new(&mut bytes).unwrap_err(), BatchError::UnknownMagic { found: magic });
    }
    assert_eq!(StoredBatch::validate(&bytes[..16], MAX), Err(BatchError::TooShort { len: 16 }));
    let mut short = hex(NONE)[..40].to_vec();
    assert_eq!(StoredBatchMut::new(&mut short).unwrap_err(), BatchError::KafkaTooShort { len: 40 });
    let mut short = native(1)[..40].to_vec();
    assert_eq!(StoredBatchMut::new(&mut short).unwrap_err(), BatchError::TooShort { len: 40 });
}

#[test]
fn assigned_fields_stay_outside_the_crc_and_in_range() {
    let original = kafka_to_stored(&hex(NONE));
    let mut stored = original.clone();
    let mut m = StoredBatchMut::new(&mut stored).unwrap();
    assert_eq!(m.format(), BatchFormat::Kafka);
    m.set_base_offset(i64::MAX as u64).unwrap();
    m.set_leader_epoch(i32::MAX as u32).unwrap();
    assert_eq!(
        m.set_base_offset(i64::MAX as u64 + 1),
        Err(BatchError::FieldOutOfRange { field: "base offset", value: i64::MAX as u64 + 1 })
    );
    assert!(matches!(m.set_leader_epoch(u32::MAX), Err(BatchError::FieldOutOfRange { field: "leader epoch", .. })));
    assert_eq!(stored[kafka::CRC_START..], original[kafka::CRC_START..]);
    let h = kafka::validate_full(&stored, MAX).unwrap();
    assert_eq!((h.base_offset(), h.leader_epoch()), (i64::MAX, i32::MAX));
    assert_eq!(StoredBatch::validate(&stored, MAX).unwrap().last_offset(), i64::MAX as u64, "saturates");
    // Kafka's unassigned values (what producers send) read as 0.
    let mut fresh = kafka_to_stored(&build(Compression::None, &sample_records(2)));
    let s = StoredBatch::validate(&fresh, MAX).unwrap();
    assert_eq!((s.base_offset(), s.leader_epoch()), (0, 0));
    kafka::BatchHeader::parse_mut(&mut fresh).unwrap().set_base_offset(-5);
    assert_eq!(StoredBatch::validate(&fresh, MAX).unwrap().base_offset(), 0);
}
