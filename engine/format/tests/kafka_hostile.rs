//! Hostile Kafka batches: every damage is an error (or, outside the CRC,
//! shows up as exactly the changed field), never a panic, and no length in
//! the bytes makes us allocate more than the bytes (and the limits) justify.
//! A counting allocator measures the largest single allocation.

mod kafka_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use corelog_format::kafka::{validate, validate_full, BatchHeader, Compression, DecodedBatch, CRC_START};
use corelog_format::limits::{KAFKA_HEADER_LEN, MAX_RECORDS_PER_BATCH, MAX_UNCOMPRESSED_BODY_BYTES};
use corelog_format::stored::kafka_to_stored;
use corelog_format::{BatchError, StoredBatch};
use kafka_support::{build, golden, hex, recrc, sample_records, NONE};

const MAX: usize = 1 << 20;

thread_local! {
    /// Largest single allocation this thread made since [`peak_of`] reset it
    /// (per thread: the harness runs tests in parallel threads).
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
}

struct Counting;

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's contract is passed through unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the largest allocation it made.
fn peak_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    PEAK.with(|p| p.set(0));
    let r = f();
    (r, PEAK.with(Cell::get))
}

/// Every reader's verdict on `bytes`; they must agree.
fn full_verdict(bytes: &[u8]) -> Result<(), BatchError> {
    let full = validate_full(bytes, MAX).map(|_| ());
    let decoded = DecodedBatch::decode(bytes, MAX).map(|d| assert_eq!(d.records().count(), d.len()));
    assert_eq!(full, decoded);
    if full.is_ok() {
        assert!(validate(bytes, MAX).is_ok());
    }
    full
}

#[test]
fn every_single_byte_flip_is_rejected_or_is_the_field_outside_the_crc() {
    for (name, _, bytes) in golden() {
        for pos in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut copy = bytes.clone();
                copy[pos] ^= flip;
                let verdict = full_verdict(&copy);
                match pos {
                    // baseOffset and partitionLeaderEpoch: not under the CRC,
                    // assigned by the log; the batch stays valid and reads
                    // back exactly the changed value.
                    0..8 | 12..16 => {
                        assert_eq!(verdict, Ok(()), "{name} @{pos}");
                        let (h, orig) = (BatchHeader::parse(&copy).unwrap(), BatchHeader::parse(&bytes).unwrap());
                        assert!(h.base_offset() != orig.base_offset() || h.leader_epoch() != orig.leader_epoch());
                        assert_eq!(copy[CRC_START..], bytes[CRC_START..]);
                    }
                    8..12 => assert!(verdict.is_err(), "{name}: batchLength @{pos}"),
                    16 => assert!(matches!(verdict, Err(BatchError::BadMagic { .. })), "{name} @{pos}"),
                    _ => assert!(matches!(verdict, Err(BatchError::CrcMismatch { .. })), "{name} @{pos}: {verdict:?}"),
                }
            }
        }
    }
}

/// libFuzzer-style: flips with the CRC fixed up reach the record checks and
/// the decoders. Any outcome but a panic or disagreement is fine here.
#[test]
fn flips_with_a_fixed_crc_never_panic() {
    for (_, _, bytes) in golden() {
        for pos in CRC_START..bytes.len() {
            let mut copy = bytes.clone();
            copy[pos] ^= 0x5a;
            recrc(&mut copy);
            let _ = full_verdict(&copy);
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    for (name, _, bytes) in golden() {
        let stored = kafka_to_stored(&bytes);
        for cut in 0..bytes.len() {
            assert!(full_verdict(&bytes[..cut]).is_err(), "{name}: cut at {cut}");
            assert!(validate(&bytes[..cut], MAX).is_err(), "{name}: cut at {cut}");
        }
        for cut in 0..stored.len() {
            assert!(StoredBatch::validate(&stored[..cut], MAX).is_err(), "{name}: stored cut at {cut}");
        }
        assert!(StoredBatch::validate_full(&stored, MAX).is_ok(), "{name}");
    }
}

/// An uncompressed batch of one record whose fields are `fields` (everything
/// after the record's length varint), CRC right.
fn one_record(fields: &[u8]) -> Vec<u8> {
    let mut good = build(Compression::None, &[(None, Some(vec![]), 0, vec![])]);
    good.truncate(KAFKA_HEADER_LEN);
    assert!(fields.len() < 64, "one-byte length varint");
    good.push((fields.len() as u8) << 1);
    good.extend_from_slice(fields);
    let batch_length = (good.len() - 12) as i32;
    BatchHeader::parse_mut(&mut good).unwrap().batch_length.set(batch_length);
    recrc(&mut good);
    good
}

#[test]
fn huge_lengths_are_errors_without_big_allocations() {
    // attributes, timestampDelta 0, offsetDelta 0, then:
    let cases: [(&str, Vec<u8>); 4] = [
        ("keyLength", [&[0u8, 0, 0][..], &[0xfe, 0xff, 0xff, 0xff, 0x0f]].concat()), // i32::MAX
        ("valueLength", [&[0u8, 0, 0, 1][..], &[0xfe, 0xff, 0xff, 0xff, 0x0f]].concat()),
        ("headerCount", [&[0u8, 0, 0, 1, 1][..], &[0xfe, 0xff, 0xff, 0xff, 0x0f]].concat()),
        ("header keyLength", [&[0u8, 0, 0, 1, 1, 2][..], &[0xfe, 0xff, 0xff, 0xff, 0x0f]].concat()),
    ];
    for (field, fields) in cases {
        let bytes = one_record(&fields);
        let (verdict, peak) = peak_of(|| full_verdict(&bytes));
        assert!(
            matches!(verdict, Err(BatchError::KafkaBadLength { index: 0, field: f, value, .. })
                if f == field && value == i64::from(i32::MAX)),
            "{field}: {verdict:?}"
        );
        assert!(peak < 4096, "{field}: allocated {peak} bytes");
    }
    // The same inside a compressed batch: only the decompressed bytes are allocated.
    let fields = [&[0u8, 0, 0, 1][..], &[0xfe, 0xff, 0xff, 0xff, 0x0f]].concat();
    let plain = one_record(&fields);
    let mut gz = plain[..KAFKA_HEADER_LEN].to_vec();
    let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
    std::io::Write::write_all(&mut e, &plain[KAFKA_HEADER_LEN..]).unwrap();
    e.finish().unwrap();
    let batch_length = (gz.len() - 12) as i32;
    let h = BatchHeader::parse_mut(&mut gz).unwrap();
    h.batch_length.set(batch_length);
    h.attributes.set(Compression::Gzip.attribute_bits());
    recrc(&mut gz);
    let (verdict, peak) = peak_of(|| full_verdict(&gz));
    assert!(matches!(verdict, Err(BatchError::KafkaBadLength { field: "valueLength", .. })), "{verdict:?}");
    assert!(peak < 64 * 1024, "allocated {peak} bytes");
}

#[test]
fn header_counts_out_of_range_are_errors() {
    let good = hex(NONE);
    let set = |f: &dyn Fn(&mut BatchHeader)| {
        let mut copy = good.clone();
        f(BatchHeader::parse_mut(&mut copy).unwrap());
        recrc(&mut copy);
        full_verdict(&copy)
    };
    assert_eq!(set(&|h| h.record_count.set(0)), Err(BatchError::EmptyBatch));
    for count in [-1, i32::MIN, MAX_RECORDS_PER_BATCH as i32 + 1, i32::MAX] {
        let err = set(&|h| h.record_count.set(count));
        assert!(matches!(err, Err(BatchError::KafkaRecordCountOutOfRange { count: c, .. }) if c == count), "{err:?}");
    }
    // More records announced than there are (lastOffsetDelta kept consistent).
    let err = set(&|h| {
        h.record_count.set(4);
        h.last_offset_delta.set(3);
    });
    assert_eq!(err, Err(BatchError::RecordCountMismatch { header: 4, body: 3 }));
    // Fewer: the rest is trailing bytes.
    let err = set(&|h| {
        h.record_count.set(2);
        h.last_offset_delta.set(1);
    });
    assert!(matches!(err, Err(BatchError::KafkaTrailingBytes { count: 2, .. })), "{err:?}");
    assert!(matches!(set(&|h| h.last_offset_delta.set(1)), Err(BatchError::KafkaBadLastOffsetDelta { .. })));
    assert!(matches!(set(&|h| h.last_offset_delta.set(-1)), Err(BatchError::KafkaBadLastOffsetDelta { .. })));
    assert_eq!(set(&|h| h.last_offset_delta.set(5)), Err(BatchError::LastOffsetDeltaMismatch { header: 5, body: 2 }));
    assert!(matches!(set(&|h| h.max_timestamp.set(7)), Err(BatchError::TimestampMismatch { .. })));
    // With log-append time the broker's maxTimestamp stands.
    assert_eq!(
        set(&|h| {
            h.attributes.set(0x08);
            h.max_timestamp.set(7)
        }),
        Ok(())
    );
    assert!(matches!(set(&|h| h.base_timestamp.set(i64::MAX)), Err(BatchError::TimestampOverflow)));
    assert_eq!(
        set(&|h| h.base_sequence.set(-1)),
        Err(BatchError::KafkaBadSequence { producer_id: 12345, base_sequence: -1 })
    );
    assert_eq!(
        set(&|h| {
            h.producer_id.set(-1);
            h.base_sequence.set(-1)
        }),
        Ok(()),
        "no producer id, no sequence"
    );
    for length in [-1, 0, 48, i32::MAX] {
        let err = set(&|h| h.batch_length.set(length));
        assert!(err.is_err(), "batchLength {length}");
    }
    assert!(matches!(set(&|h| h.magic = 1), Err(BatchError::BadMagic { found: 1, expected: 2 })));
    assert!(matches!(set(&|h| h.attributes.set(0x80)), Err(BatchError::UnknownAttributes { attributes: 0x80 })));
    assert!(matches!(set(&|h| h.attributes.set(5)), Err(BatchError::UnknownCodec { codec: 5 })));
    // A codec bit on uncompressed records: the decoder refuses them.
    assert!(matches!(set(&|h| h.attributes.set(1)), Err(BatchError::Decompress(_))));
}

#[test]
fn transactions_and_control_batches_are_refused_from_producers() {
    let good = hex(NONE);
    for (bits, kind) in [(0x10, "transactional"), (0x20, "control"), (0x30, "transactional"), (0x40, "delete-horizon")]
    {
        let mut copy = good.clone();
        BatchHeader::parse_mut(&mut copy).unwrap().attributes.set(bits);
        recrc(&mut copy);
        let h = validate(&copy, MAX).expect("known bits pass the framing check");
        assert_eq!((h.is_transactional(), h.is_control()), (bits & 0x10 != 0, bits & 0x20 != 0));
        assert_eq!(full_verdict(&copy), Err(BatchError::KafkaUnsupportedBatch { kind }));
    }
}

#[test]
fn records_must_be_numbered_from_zero() {
    // kafka-python's batch with its records renumbered 0, 2, 3 (lastOffsetDelta 3).
    let mut b = corelog_format::kafka::BatchBuilder::new(Compression::None);
    b.push(None, Some(b"a"), 0, &[]);
    let mut bytes = b.build().unwrap();
    // Single record: its offsetDelta byte is at 61 + 1 (length) + 1 (attributes) + 1 (timestampDelta).
    bytes[KAFKA_HEADER_LEN + 3] = 2; // zigzag 1
    let h = BatchHeader::parse_mut(&mut bytes).unwrap();
    h.last_offset_delta.set(1);
    recrc(&mut bytes);
    assert_eq!(full_verdict(&bytes), Err(BatchError::KafkaOffsetDelta { index: 0, delta: 1 }));
}

#[test]
fn a_zip_bomb_is_an_error_not_an_allocation() {
    // Gzip members may follow each other (Java and we read them all): one
    // member of 1 MiB of zeros, repeated until the whole would expand past
    // the limit. About 300 KiB of input for 257 MiB of output.
    let mut member = Vec::new();
    let mut e = flate2::write::GzEncoder::new(&mut member, flate2::Compression::best());
    std::io::Write::write_all(&mut e, &vec![0u8; 1 << 20]).unwrap();
    e.finish().unwrap();
    let members = MAX_UNCOMPRESSED_BODY_BYTES / (1 << 20) + 1;
    let mut bytes = build(Compression::None, &sample_records(1));
    bytes.truncate(KAFKA_HEADER_LEN);
    for _ in 0..members {
        bytes.extend_from_slice(&member);
    }
    let batch_length = (bytes.len() - 12) as i32;
    let h = BatchHeader::parse_mut(&mut bytes).unwrap();
    h.batch_length.set(batch_length);
    h.attributes.set(Compression::Gzip.attribute_bits());
    recrc(&mut bytes);
    let (verdict, peak) = peak_of(|| validate_full(&bytes, 64 << 20).map(|_| ()));
    let Err(BatchError::Decompress(msg)) = verdict else { panic!("{verdict:?}") };
    assert!(msg.contains("expands past the limit"), "{msg}");
    assert!(peak <= MAX_UNCOMPRESSED_BODY_BYTES + 1, "allocated {peak} bytes");
}

/// Found by the `kafka_batch_reader` fuzz target: a gzip batch whose records
/// are one byte long (batchLength 50) made the bounded reader panic, its
/// output cap (1033 bytes) being below the first growth step.
#[test]
fn fuzz_finding_a_one_byte_compressed_stream() {
    let mut bytes = hex(concat!(
        "00000000000000000000003200000000028b5544cf0001000000020000018bcfe568000000018bcfe568faffffffffff",
        "ffffffffffffffffff000000031f8b08006c7f0f6b02ff6b62664060cae04eadd435b8c0949c7c7c7c7c7c7c7c7c7c7c",
    ));
    recrc(&mut bytes[..62]);
    assert!(matches!(full_verdict(&bytes), Err(BatchError::Decompress(_))));
}
