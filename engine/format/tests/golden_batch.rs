//! Golden bytes of the record-batch format: the exact bytes `BatchBuilder`
//! writes for a fixed input, and the records a reader gets from fixed bytes.
//!
//! **If a test here fails, the on-disk format changed.** These bytes are what
//! sits in every segment file and travels in every produce and fetch, so a
//! change means old data no longer reads the same, or new data no longer reads
//! on older brokers. Do not "fix" the test by pasting new constants. Either the
//! change is an accident (a dependency upgrade, e.g. rkyv's archived layout or
//! zerocopy's view of the header, or a refactor of the builder): undo it or pin
//! the dependency. Or it is a deliberate format change: bump the format version
//! (`MAGIC` in `src/header.rs`), keep reading version-1 batches (these
//! constants stay, as the reading tests of version 1), and add constants for
//! the new version next to them.
//!
//! One exception, named in its test: the lz4 compressor may pick different
//! matches after an lz4_flex upgrade. That is still valid lz4 that every
//! reader decodes (the lz4 reading test says so), so only the build-side
//! constant would need adding; keep the old one for the reading test. The
//! zstd compressed bytes depend on the bundled libzstd version, so only what
//! they decompress to, and every header field outside the three that depend
//! on the compressed size (batch_length, crc, body_length), are pinned.
//!
//! The constants were printed once from this build, then read field by field
//! against the layout comment at the top of `src/header.rs`; the annotations
//! next to the bytes record that reading (every header field sits at its
//! documented offset), and the body annotations say which rkyv object each
//! byte run belongs to (offsets there are from the start of the body, i.e.
//! batch offset - 80; relative pointers are i32 from their own position).

use corelog_format::limits::DEFAULT_MAX_BATCH_BYTES;
use corelog_format::{
    padded_batch_len, validate_full, BatchBuilder, BatchHeader, Compression, DecodedBatch, HEADER_LEN,
};
use rkyv::util::AlignedVec;

const FORMAT_CHANGED: &str = "the record-batch format changed: this needs a format version bump \
     (MAGIC in src/header.rs) and old batches must keep reading, not a new constant; see the top of this file";

/// The fixed input: (key, value, timestamp, headers). Covers a key and no
/// key, an empty value, no headers, one and two headers, an empty header
/// value, and a timestamp before the first one (negative delta).
type Input = (Option<&'static [u8]>, &'static [u8], i64, &'static [(&'static str, &'static [u8])]);
const INPUT: [Input; 3] = [
    (Some(b"k0"), b"hello", 1_700_000_000_000, &[("trace", b"\x01\x02")]),
    (None, b"", 1_699_999_999_990, &[]),
    (Some(b"key-2"), b"world!", 1_700_000_000_007, &[("a", b""), ("bb", b"xyz")]),
];

fn build(codec: Compression) -> Vec<u8> {
    let mut b = BatchBuilder::new(codec);
    for (key, value, ts, headers) in INPUT {
        b.push(key, value, ts, headers);
    }
    b.build().expect("build").to_vec()
}

/// Header of the uncompressed batch, one field per line (byte offset first).
const NONE_HEADER: &str = concat!(
    "0000000000000000 ", //  0 base_offset = 0 (the log assigns it)
    "40010000 ",         //  8 batch_length = 0x140 = 320
    "00000000 ",         // 12 leader_epoch = 0 (the log assigns it)
    "01 ",               // 16 magic = 1
    "000000 ",           // 17 reserved
    "caf07961 ",         // 20 crc = 0x6179f0ca over bytes [24, 320)
    "0000 ",             // 24 attributes = 0: no compression, create time
    "0000 ",             // 26 reserved
    "02000000 ",         // 28 last_offset_delta = 2
    "0068e5cf8b010000 ", // 32 first_timestamp = 0x18bcfe56800 = 1_700_000_000_000
    "0768e5cf8b010000 ", // 40 max_timestamp = 1_700_000_000_007
    "ffffffffffffffff ", // 48 producer_id = -1
    "ffff ",             // 56 producer_epoch = -1
    "0000 ",             // 58 reserved
    "ffffffff ",         // 60 base_sequence = -1
    "03000000 ",         // 64 record_count = 3
    "e8000000 ",         // 68 body_length = 232
    "e8000000 ",         // 72 uncompressed_length = 232
    "00000000 ",         // 76 reserved
);

/// The uncompressed body: the rkyv archive of the three records (232 bytes),
/// the same for every codec before compression. Out-of-line data first, the
/// records next, the root `ArchivedVec` last.
const BODY: &str = concat!(
    "6b30 ",                               //   0 r0 key "k0"
    "68656c6c6f ",                         //   2 r0 value "hello"
    "0102 ",                               //   7 r0 header value [1, 2]
    "000000 ",                             //   9 alignment
    "7472616365ffffff f3ffffff 02000000 ", //  12 r0 headers[0]: key "trace" inline (0xff-padded), value -> 7, len 2
    "6b65792d32 ",                         //  28 r2 key "key-2"
    "776f726c6421 ",                       //  33 r2 value "world!"
    "78797a ",                             //  39 r2 header value "xyz"
    "0000 ",                               //  42 alignment
    "61ffffffffffffff f3ffffff 00000000 ", //  44 r2 headers[0]: key "a" inline, value -> 39, len 0
    "6262ffffffffffff e3ffffff 03000000 ", //  60 r2 headers[1]: key "bb" inline, value -> 39, len 3
    "00000000 ",                           //  76 alignment
    // Records, 48 bytes each: offset_delta u32, pad, timestamp_delta i64,
    // key Option<Vec> (tag u8 + pad, ptr, len), value (ptr, len), headers (ptr, len), pad.
    "00000000 00000000 0000000000000000 ", //  80 r0 offset_delta 0, timestamp_delta 0
    "01000000 9cffffff 02000000 ",         //  96 r0 key Some -> 0, len 2
    "96ffffff 05000000 98ffffff 01000000 ", // 108 r0 value -> 2, len 5; headers -> 12, len 1
    "00000000 ",                           // 124 pad
    "01000000 00000000 f6ffffffffffffff ", // 128 r1 offset_delta 1, timestamp_delta -10
    "00000000 00000000 00000000 ",         // 144 r1 key None
    "80ffffff 00000000 78ffffff 00000000 ", // 156 r1 value empty; headers empty
    "00000000 ",                           // 172 pad
    "02000000 00000000 0700000000000000 ", // 176 r2 offset_delta 2, timestamp_delta 7
    "01000000 58ffffff 05000000 ",         // 192 r2 key Some -> 28, len 5
    "55ffffff 06000000 58ffffff 02000000 ", // 204 r2 value -> 33, len 6; headers -> 44, len 2
    "00000000 ",                           // 220 pad
    "70ffffff 03000000 ",                  // 224 root: records -> 80, len 3
);

/// Batch offset 312: zero padding up to 320, a multiple of 16.
const NONE_PADDING: &str = "0000000000000000";

/// The lz4 batch (256 bytes). Header as above except: batch_length 0x100 =
/// 256 at 8, crc at 20, attributes 1 (lz4) at 24, body_length 0xa2 = 162 at
/// 68; uncompressed_length still 232 at 72. The lz4 block starts at 80, and
/// 80 + 162 = 242 is padded to 256.
const LZ4_BATCH: &str = "
    0000000000000000 00010000 00000000
    01000000 c7d65be4 0100 0000 02000000
    0068e5cf8b010000 0768e5cf8b010000
    ffffffffffffffff ffff 0000 ffffffff
    03000000 a2000000 e8000000 00000000
    f0096b3068656c6c6f01020000007472
    616365fffffff3ffffff1000f2036b65
    792d32776f726c642178797a000061ff
    010000200062000000006262100050e3
    ffffff0311000f02000053010000009c
    5000c096ffffff0500000098ffffff18
    0000020004080012f64b0010ff140004
    02001380100013780800000200009800
    00020010070500034000135858005355
    ffffff0610000428008070ffffff0300
    00000000000000000000000000000000
";

/// Header of the zstd batch with `xx` where a byte depends on the compressed
/// size, which depends on the libzstd version: batch_length (8), crc (20),
/// body_length (68). Everything else is pinned: attributes 2 (zstd) at 24,
/// uncompressed_length 232 at 72.
const ZSTD_HEADER: &str = concat!(
    "0000000000000000 xxxxxxxx 00000000 ", //  0 base_offset, batch_length, leader_epoch
    "01 000000 xxxxxxxx ",                 // 16 magic, reserved, crc
    "0200 0000 02000000 ",                 // 24 attributes = zstd, reserved, last_offset_delta
    "0068e5cf8b010000 0768e5cf8b010000 ",  // 32 first and max timestamp
    "ffffffffffffffff ffff 0000 ffffffff ", // 48 producer id, epoch, reserved, base sequence
    "03000000 xxxxxxxx e8000000 00000000", // 64 record_count, body_length, uncompressed_length, reserved
);

/// A zstd batch as this build wrote it (libzstd 1.5.7, level 3; 224 bytes):
/// body_length 0x8e = 142, a zstd frame (magic 28b52ffd) from 80 to 222.
const ZSTD_BATCH: &str = "
    0000000000000000 e0000000 00000000
    01000000 998a954e 0200 0000 02000000
    0068e5cf8b010000 0768e5cf8b010000
    ffffffffffffffff ffff 0000 ffffffff
    03000000 8e000000 e8000000 00000000
    28b52ffd20e82d0400c205141fb0a935
    ac096b18e6908103b57bad04e69da158
    825a26364d084bb528894c012afa1b82
    1f9170c0442eff440dfc128a7a447fe5
    95523d29a461088bf6dce3506816fb2d
    ff52a4e75001c7b5b618061615004b11
    309375c3e4015b0b06f1888d09b0d3dc
    cccc406c8b0c26d85ba1c005d80969c2
    99c6298f1935540070139860e2010000
";

/// The uncompressed batch as the log stores it: base_offset 1000 (0x3e8) and
/// leader_epoch 7 written in. Neither is under the CRC, which is unchanged.
const STORED_HEADER_START: &str = "e803000000000000 40010000 07000000";

#[test]
fn header_struct_fields_sit_at_the_documented_offsets() {
    use core::mem::offset_of;
    let fields = [
        ("base_offset", offset_of!(BatchHeader, base_offset), 0),
        ("batch_length", offset_of!(BatchHeader, batch_length), 8),
        ("leader_epoch", offset_of!(BatchHeader, leader_epoch), 12),
        ("magic", offset_of!(BatchHeader, magic), 16),
        ("reserved0", offset_of!(BatchHeader, reserved0), 17),
        ("crc", offset_of!(BatchHeader, crc), 20),
        ("attributes", offset_of!(BatchHeader, attributes), 24),
        ("reserved1", offset_of!(BatchHeader, reserved1), 26),
        ("last_offset_delta", offset_of!(BatchHeader, last_offset_delta), 28),
        ("first_timestamp", offset_of!(BatchHeader, first_timestamp), 32),
        ("max_timestamp", offset_of!(BatchHeader, max_timestamp), 40),
        ("producer_id", offset_of!(BatchHeader, producer_id), 48),
        ("producer_epoch", offset_of!(BatchHeader, producer_epoch), 56),
        ("reserved2", offset_of!(BatchHeader, reserved2), 58),
        ("base_sequence", offset_of!(BatchHeader, base_sequence), 60),
        ("record_count", offset_of!(BatchHeader, record_count), 64),
        ("body_length", offset_of!(BatchHeader, body_length), 68),
        ("uncompressed_length", offset_of!(BatchHeader, uncompressed_length), 72),
        ("reserved3", offset_of!(BatchHeader, reserved3), 76),
    ];
    for (name, actual, documented) in fields {
        assert_eq!(actual, documented, "{name}: {FORMAT_CHANGED}");
    }
    assert_eq!(core::mem::size_of::<BatchHeader>(), 80, "{FORMAT_CHANGED}");
    assert_eq!(HEADER_LEN, 80, "{FORMAT_CHANGED}");
}

#[test]
fn uncompressed_batch_bytes_are_pinned() {
    assert_golden(&build(Compression::None), &none_batch(), "uncompressed batch");
}

#[test]
fn every_codec_archives_the_same_body() {
    let none = build(Compression::None);
    let body_len = BatchHeader::parse(&none).unwrap().body_length.get() as usize;
    assert_golden(&none[HEADER_LEN..HEADER_LEN + body_len], &unhex(BODY), "rkyv body");
    for codec in [Compression::Lz4, Compression::Zstd] {
        let batch = build(codec);
        assert_golden(&decompressed_body(&batch), &unhex(BODY), &format!("{codec:?} body after decompression"));
    }
}

#[test]
fn lz4_batch_bytes_are_pinned() {
    let batch = build(Compression::Lz4);
    // Checked first, so a failure below with this passing means only the
    // compressor's choices changed (see the top of this file).
    assert_golden(&decompressed_body(&batch), &unhex(BODY), "lz4 body after decompression");
    assert_golden(&batch, &unhex(LZ4_BATCH), "lz4 batch (compressed bytes: see the top of this file)");
}

#[test]
fn zstd_batch_is_pinned_except_its_compressed_bytes() {
    let batch = build(Compression::Zstd);
    assert_golden_masked(&batch[..HEADER_LEN], ZSTD_HEADER, "zstd batch header");
    let header = BatchHeader::parse(&batch).unwrap();
    let body_len = header.body_length.get() as usize;
    assert_eq!(header.batch_length(), padded_batch_len(body_len));
    assert_eq!(batch.len(), header.batch_length());
    assert!(batch[HEADER_LEN + body_len..].iter().all(|b| *b == 0), "padding is zero");
    // One zstd frame that declares its content size (the reader insists on it).
    let frame = &batch[HEADER_LEN..HEADER_LEN + body_len];
    assert_eq!(&frame[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
    assert_eq!(zstd::zstd_safe::get_frame_content_size(frame).ok(), Some(Some(232)));
    assert_golden(&decompressed_body(&batch), &unhex(BODY), "zstd body after decompression");
}

#[test]
fn golden_batches_read_back_as_their_records() {
    for (what, bytes) in [("uncompressed", none_batch()), ("lz4", unhex(LZ4_BATCH)), ("zstd", unhex(ZSTD_BATCH))] {
        let bytes = aligned(&bytes);
        let header = validate_full(&bytes, DEFAULT_MAX_BATCH_BYTES).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(header.batch_length(), bytes.len(), "{what}");
        assert_records(&bytes, 0, what);
    }
}

#[test]
fn a_stored_batch_reads_with_its_base_offset() {
    let mut bytes = none_batch();
    bytes[..16].copy_from_slice(&unhex(STORED_HEADER_START));
    let bytes = aligned(&bytes);
    let decoded = DecodedBatch::decode(&bytes, DEFAULT_MAX_BATCH_BYTES).expect("the CRC does not cover them");
    assert_eq!(decoded.header().base_offset(), 1000);
    assert_eq!(decoded.header().leader_epoch(), 7);
    assert_eq!(decoded.header().last_offset(), 1002);
    assert_records(&bytes, 1000, "stored");
}

#[test]
fn a_golden_batch_with_one_changed_byte_is_refused() {
    // The constants are only a pin if the reader looks at them: flip a body
    // byte and the CRC must catch it.
    let mut bytes = none_batch();
    bytes[HEADER_LEN + 2] ^= 0x20; // "hello" -> "Hello"
    assert!(validate_full(&aligned(&bytes), DEFAULT_MAX_BATCH_BYTES).is_err());
}

/// Checks the records of a golden batch read from `bytes`.
fn assert_records(bytes: &[u8], base_offset: u64, what: &str) {
    let decoded = DecodedBatch::decode(bytes, DEFAULT_MAX_BATCH_BYTES).unwrap_or_else(|e| panic!("{what}: {e}"));
    let records: Vec<_> = decoded.records().collect();
    assert_eq!(records.len(), INPUT.len(), "{what}");
    for (i, (record, (key, value, ts, headers))) in records.iter().zip(INPUT).enumerate() {
        assert_eq!(record.offset, base_offset + i as u64, "{what} record {i}");
        assert_eq!(record.timestamp, ts, "{what} record {i}");
        assert_eq!(record.key, key, "{what} record {i}");
        assert_eq!(record.value, value, "{what} record {i}");
        assert_eq!(record.headers, headers.to_vec(), "{what} record {i}");
    }
}

fn none_batch() -> Vec<u8> {
    [unhex(NONE_HEADER), unhex(BODY), unhex(NONE_PADDING)].concat()
}

/// The body of `batch` after undoing its codec, with the codec crates
/// themselves (not the crate's own decoder, which is what is under test).
fn decompressed_body(batch: &[u8]) -> Vec<u8> {
    let header = BatchHeader::parse(batch).unwrap();
    let body = &batch[HEADER_LEN..HEADER_LEN + header.body_length.get() as usize];
    let expected = header.uncompressed_length.get() as usize;
    let out = match Compression::from_attributes(header.attributes.get()).unwrap() {
        Compression::None => body.to_vec(),
        Compression::Lz4 => lz4_flex::block::decompress(body, expected).unwrap(),
        Compression::Zstd => zstd::bulk::decompress(body, expected).unwrap(),
    };
    assert_eq!(out.len(), expected, "uncompressed_length");
    out
}

/// Copies into a 16-aligned buffer, as a block-aligned read delivers a batch.
fn aligned(bytes: &[u8]) -> AlignedVec {
    let mut v = AlignedVec::with_capacity(bytes.len());
    v.extend_from_slice(bytes);
    v
}

// ---- hex helpers ----

/// Bytes from hex text; whitespace is ignored. Panics on anything else.
fn unhex(text: &str) -> Vec<u8> {
    unhex_masked(text).into_iter().map(|b| b.expect("no `xx` in this constant")).collect()
}

/// Like [`unhex`], but `xx` stands for a byte whose value is not pinned.
fn unhex_masked(text: &str) -> Vec<Option<u8>> {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| match pair {
            ['x', 'x'] => None,
            [hi, lo] => Some(
                (hi.to_digit(16).expect("hex digit") * 16 + lo.to_digit(16).expect("hex digit"))
                    .try_into()
                    .expect("a byte"),
            ),
            _ => unreachable!("chunks of 2"),
        })
        .collect()
}

/// `bytes` as hex, 16 per line, each line prefixed with its offset.
fn hex_dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, row)| format!("{:4}  {}\n", i * 16, row.iter().map(|b| format!("{b:02x}")).collect::<String>()))
        .collect()
}

fn assert_golden(actual: &[u8], expected: &[u8], what: &str) {
    let expected: Vec<Option<u8>> = expected.iter().copied().map(Some).collect();
    assert_matches_golden(actual, &expected, what);
}

fn assert_golden_masked(actual: &[u8], expected_hex: &str, what: &str) {
    assert_matches_golden(actual, &unhex_masked(expected_hex), what);
}

fn assert_matches_golden(actual: &[u8], expected: &[Option<u8>], what: &str) {
    let first_difference = (0..actual.len().max(expected.len())).find(|&i| match (actual.get(i), expected.get(i)) {
        (Some(a), Some(Some(e))) => a != e,
        (Some(_), Some(None)) => false,
        _ => true,
    });
    if let Some(at) = first_difference {
        let shown: Vec<u8> = expected.iter().map(|b| b.unwrap_or(0)).collect();
        panic!(
            "{what}: first difference at byte {at} ({} bytes, expected {}).\n{FORMAT_CHANGED}\n\
             actual:\n{}expected (xx shown as 00):\n{}",
            actual.len(),
            expected.len(),
            hex_dump(actual),
            hex_dump(&shown),
        );
    }
}
