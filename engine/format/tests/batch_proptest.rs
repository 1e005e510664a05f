//! Property tests: arbitrary records round-trip, and no input (random bytes or
//! damaged valid batches) makes any reader panic.

mod batch_support;

use batch_support::{aligned, build, recrc, Input, CODECS};
use corelog_format::limits::DEFAULT_MAX_BATCH_BYTES;
use corelog_format::{
    iter_batches, validate, validate_full, BatchHeader, Compression, DecodedBatch, CRC_START, HEADER_LEN,
};
use proptest::prelude::*;

const MAX: usize = DEFAULT_MAX_BATCH_BYTES;

/// Runs every reader over `bytes`; panics only if the readers disagree.
fn exercise(bytes: &[u8]) {
    let framed = validate(bytes, MAX);
    let full = validate_full(bytes, MAX);
    if full.is_ok() {
        assert!(framed.is_ok(), "validate_full accepted what validate refused");
    }
    match DecodedBatch::decode(bytes, MAX) {
        Ok(d) => {
            assert!(full.is_ok());
            let mut n = 0;
            for r in d.records() {
                std::hint::black_box((r.key, r.value, r.headers));
                n += 1;
            }
            assert_eq!(n, d.len());
        }
        // Same kind of error; messages may differ (rkyv names addresses, and
        // decode may check a realigned copy).
        Err(e) => assert_eq!(full.err().map(|f| std::mem::discriminant(&f)), Some(std::mem::discriminant(&e))),
    }
    let batches: Vec<_> = iter_batches(bytes, MAX).collect();
    let errors = batches.iter().filter(|b| b.is_err()).count();
    assert!(errors <= 1 && batches.last().is_none_or(|b| errors == 0 || b.is_err()));
    for b in batches.into_iter().flatten() {
        assert!(validate(b, MAX).is_ok());
    }
}

fn codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(CODECS.to_vec())
}

fn record() -> impl Strategy<Value = Input> {
    (
        prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
        prop::collection::vec(any::<u8>(), 0..64),
        -1_000_000i64..1_000_000,
        prop::collection::vec(("[a-z]{0,6}", prop::collection::vec(any::<u8>(), 0..8)), 0..3),
    )
}

fn records() -> impl Strategy<Value = Vec<Input>> {
    prop::collection::vec(record(), 1..12)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: prop::sample::Index,
        mask: u8,
    },
    Truncate(prop::sample::Index),
    Extend(Vec<u8>),
    /// Overwrite a header field region past the CRC (then re-CRC below).
    Header {
        at: prop::sample::Index,
        value: u8,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        2 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, value)| Mutation::Header { at, value }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip { at, mask } if !bytes.is_empty() => {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
        Mutation::Extend(tail) => bytes.extend_from_slice(tail),
        Mutation::Header { at, value } if bytes.len() >= HEADER_LEN => {
            bytes[CRC_START + at.index(HEADER_LEN - CRC_START)] = *value;
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn batch_arbitrary_records_round_trip(codec in codec(), input in records()) {
        let bytes = aligned(&build(codec, &input));
        let d = DecodedBatch::decode(&bytes, MAX).unwrap();
        prop_assert_eq!(d.len(), input.len());
        prop_assert_eq!(d.header().max_timestamp(), input.iter().map(|r| r.2).max().unwrap());
        for (rec, (key, value, ts, headers)) in d.records().zip(&input) {
            prop_assert_eq!(rec.timestamp, *ts);
            prop_assert_eq!(rec.key, key.as_deref());
            prop_assert_eq!(rec.value, &value[..]);
            let want: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
            prop_assert_eq!(&rec.headers, &want);
        }
    }

    #[test]
    fn batch_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&aligned(&bytes));
        exercise(&bytes);
    }

    #[test]
    fn batch_random_bytes_behind_a_valid_header_never_panic(
        codec in codec(),
        body in prop::collection::vec(any::<u8>(), 0..512),
        count in 1u32..20,
        uncompressed in 0u32..4096,
    ) {
        // A forged header with a right CRC around arbitrary body bytes: this
        // reaches the decompressors and bytecheck on every case.
        let mut bytes = build(codec, &[(None, vec![], 0, vec![])])[..HEADER_LEN].to_vec();
        bytes.extend_from_slice(&body);
        bytes.resize(bytes.len().div_ceil(16) * 16, 0);
        let total = bytes.len() as u32;
        let h = BatchHeader::parse_mut(&mut bytes).unwrap();
        h.batch_length.set(total);
        h.body_length.set(body.len() as u32);
        h.record_count.set(count);
        h.last_offset_delta.set(count - 1);
        h.uncompressed_length.set(if codec == Compression::None { body.len() as u32 } else { uncompressed });
        recrc(&mut bytes);
        prop_assert!(validate(&bytes, MAX).is_ok());
        exercise(&aligned(&bytes));
    }

    #[test]
    fn batch_mutated_batches_never_panic(
        codec in codec(),
        input in records(),
        mutations in prop::collection::vec(mutation(), 1..4),
        fix_crc in any::<bool>(),
        misalign in any::<bool>(),
    ) {
        let mut bytes = build(codec, &input);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if fix_crc {
            recrc(&mut bytes);
        }
        let mut buf = aligned(if misalign { &[0u8][..] } else { &[][..] });
        buf.extend_from_slice(&bytes);
        let bytes = &buf[usize::from(misalign)..];
        exercise(bytes);
        // Several batches end to end, the damaged one in the middle.
        let good = build(Compression::None, &input);
        let mut fetch = good.clone();
        fetch.extend_from_slice(bytes);
        fetch.extend_from_slice(&good);
        exercise(&aligned(&fetch));
    }
}
