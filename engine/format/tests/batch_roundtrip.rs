//! Batches built by the builder read back exactly, for every codec.

mod batch_support;

use batch_support::{aligned, build, sample_records, CODECS};
use corelog_format::limits::{BATCH_ALIGNMENT, DEFAULT_MAX_BATCH_BYTES, MAX_BATCH_BYTES_CEILING};
use corelog_format::{
    iter_batches, validate, validate_full, BatchBuilder, BatchError, BatchHeader, Compression, DecodedBatch, HEADER_LEN,
};

const MAX: usize = DEFAULT_MAX_BATCH_BYTES;

#[test]
fn batch_round_trip_each_codec_1000_records() {
    let input = sample_records(1000);
    for codec in CODECS {
        let bytes = aligned(&build(codec, &input));
        assert_eq!(bytes.len() % BATCH_ALIGNMENT, 0);

        let h = validate_full(&bytes, MAX).unwrap();
        assert_eq!(h.batch_length(), bytes.len());
        assert_eq!(h.record_count(), 1000);
        assert_eq!(h.last_offset_delta(), 999);
        assert_eq!(h.first_timestamp(), input[0].2);
        assert_eq!(h.max_timestamp(), input.iter().map(|r| r.2).max().unwrap());
        assert_eq!(Compression::from_attributes(h.attributes.get()), Ok(codec));
        if codec == Compression::None {
            assert_eq!(h.body_length.get(), h.uncompressed_length.get());
        } else {
            assert!(h.body_length.get() < h.uncompressed_length.get());
        }

        let decoded = DecodedBatch::decode(&bytes, MAX).unwrap();
        assert_eq!(decoded.len(), 1000);
        assert_eq!(decoded.header(), h);
        let mut n = 0;
        for (i, (rec, (key, value, ts, headers))) in decoded.records().zip(&input).enumerate() {
            assert_eq!(rec.offset, i as u64);
            assert_eq!(rec.timestamp, *ts);
            assert_eq!(rec.key, key.as_deref());
            assert_eq!(rec.value, &value[..]);
            let want: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
            assert_eq!(rec.headers, want);
            n += 1;
        }
        assert_eq!(n, 1000);
    }
}

#[test]
fn batch_single_empty_record() {
    for codec in CODECS {
        let mut b = BatchBuilder::new(codec);
        b.push(None, b"", -5, &[]);
        let bytes = aligned(&b.build().unwrap());
        let d = DecodedBatch::decode(&bytes, MAX).unwrap();
        let recs: Vec<_> = d.records().collect();
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].offset, recs[0].timestamp, recs[0].key, recs[0].value), (0, -5, None, &b""[..]));
        assert!(recs[0].headers.is_empty());
    }
}

#[test]
fn batch_base_offset_and_epoch_are_outside_the_crc() {
    let mut bytes = build(Compression::Lz4, &sample_records(10));
    let h = BatchHeader::parse_mut(&mut bytes).unwrap();
    h.base_offset.set(5_000);
    h.leader_epoch.set(7);
    let bytes = aligned(&bytes);
    let h = validate_full(&bytes, MAX).unwrap();
    assert_eq!((h.base_offset(), h.leader_epoch(), h.last_offset(), h.next_offset()), (5_000, 7, 5_009, 5_010));
    let offsets: Vec<u64> = DecodedBatch::decode(&bytes, MAX).unwrap().records().map(|r| r.offset).collect();
    assert_eq!(offsets, (5_000..5_010).collect::<Vec<_>>());
}

#[test]
fn batch_misaligned_buffer_is_copied_not_rejected() {
    let bytes = build(Compression::None, &sample_records(50));
    let mut buf = aligned(&[0u8]);
    buf.extend_from_slice(&bytes);
    let shifted = &buf[1..];
    assert_ne!(shifted.as_ptr() as usize % 16, 0);
    let d = DecodedBatch::decode(shifted, MAX).unwrap();
    assert_eq!(d.records().count(), 50);
    validate_full(shifted, MAX).unwrap();
}

#[test]
fn batch_log_append_time_uses_max_timestamp() {
    let mut bytes = build(Compression::None, &sample_records(5));
    batch_support::rewrite(&mut bytes, |h| {
        h.attributes.set(h.attributes.get() | corelog_format::header::ATTR_LOG_APPEND_TIME);
        h.max_timestamp.set(42);
    });
    let bytes = aligned(&bytes);
    let d = DecodedBatch::decode(&bytes, MAX).unwrap();
    assert!(d.records().all(|r| r.timestamp == 42));
}

#[test]
fn batch_iter_batches_walks_a_fetch_buffer() {
    let mut fetch = Vec::new();
    let mut lens = Vec::new();
    for (i, codec) in CODECS.into_iter().enumerate() {
        let b = build(codec, &sample_records(10 + i));
        lens.push(b.len());
        fetch.extend_from_slice(&b);
    }
    let got: Vec<usize> = iter_batches(&fetch, MAX).map(|b| b.unwrap().len()).collect();
    assert_eq!(got, lens);
    assert_eq!(iter_batches(&[], MAX).count(), 0);

    // A partial batch at the end is reported once, after the whole ones.
    let cut = fetch.len() - 16;
    let results: Vec<_> = iter_batches(&fetch[..cut], MAX).collect();
    assert_eq!(results.len(), 3);
    assert!(results[..2].iter().all(Result::is_ok));
    assert!(matches!(results[2], Err(BatchError::Truncated { .. })));

    // A short tail is TooShort; iteration stops at the first error.
    let mut tail = fetch.clone();
    tail.extend_from_slice(&[0u8; 10]);
    tail.extend_from_slice(&fetch);
    let results: Vec<_> = iter_batches(&tail, MAX).collect();
    assert_eq!(results.len(), 4);
    assert!(matches!(results[3], Err(BatchError::BadMagic { .. })));
    let results: Vec<_> = iter_batches(&fetch[..HEADER_LEN - 1], MAX).collect();
    assert_eq!(results, vec![Err(BatchError::TooShort { len: HEADER_LEN - 1 })]);
}

#[test]
fn batch_limit_is_callers_and_clamped_to_ceiling() {
    let bytes = build(Compression::None, &sample_records(100));
    let len = bytes.len();
    assert_eq!(validate(&bytes, len - 16).unwrap_err(), BatchError::LengthOverMax { length: len, max: len - 16 });
    validate(&bytes, len).unwrap();
    validate(&bytes, usize::MAX).unwrap();

    let mut huge = bytes.clone();
    huge.resize(MAX_BATCH_BYTES_CEILING + 16, 0);
    BatchHeader::parse_mut(&mut huge).unwrap().batch_length.set((MAX_BATCH_BYTES_CEILING + 16) as u32);
    assert_eq!(
        validate(&huge, usize::MAX).unwrap_err(),
        BatchError::LengthOverMax { length: MAX_BATCH_BYTES_CEILING + 16, max: MAX_BATCH_BYTES_CEILING }
    );
}

#[test]
fn batch_estimated_size_tracks_a_1mib_budget() {
    let value = vec![7u8; 1024];
    let mut b = BatchBuilder::new(Compression::None);
    while b.estimated_size() + 1200 < MAX {
        b.push(Some(b"k"), &value, 0, &[]);
    }
    let n = b.len();
    let bytes = b.build().unwrap();
    assert!(bytes.len() <= MAX, "{} records -> {} bytes", n, bytes.len());
    assert!(bytes.len() > MAX * 9 / 10);
}

#[test]
fn restamping_the_producer_fields_keeps_the_batch_valid() {
    let mut b = BatchBuilder::new(Compression::Lz4);
    b.set_producer(7, 1, 40);
    for i in 0..10 {
        b.push(Some(b"k"), format!("v{i}").as_bytes(), 1_000 + i, &[]);
    }
    let mut bytes = b.build().unwrap().to_vec();
    let before = bytes.clone();
    assert!(corelog_format::restamp_producer(&mut bytes, 9, 0, 0));
    let h = validate_full(&bytes, MAX).unwrap();
    assert_eq!((h.producer_id.get(), h.producer_epoch.get(), h.base_sequence.get()), (9, 0, 0));
    let (old, new) = (DecodedBatch::decode(&before, MAX).unwrap(), DecodedBatch::decode(&bytes, MAX).unwrap());
    assert!(old.records().zip(new.records()).all(|(a, b)| a.value == b.value), "records untouched");
    // Not one whole native batch: refused, unchanged.
    let mut cut = bytes[..bytes.len() - 16].to_vec();
    let copy = cut.clone();
    assert!(!corelog_format::restamp_producer(&mut cut, 1, 1, 1));
    assert_eq!(cut, copy);
}
