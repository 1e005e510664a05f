//! Every limit and default of the record-batch format, in one place.
//!
//! A limit here is a contract: code asserts against these names rather than
//! repeating numbers, so changing one is a one-line change reviewed in one spot.

/// Every batch starts and ends on this boundary so its rkyv body is aligned for
/// in-place access when read into a block-aligned buffer.
pub const BATCH_ALIGNMENT: usize = 16;

/// Default upper bound on one batch's encoded size (header + body + padding).
pub const DEFAULT_MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Hard ceiling on a batch whatever the topic config says: keeps a corrupt
/// length field from making the reader allocate gigabytes.
pub const MAX_BATCH_BYTES_CEILING: usize = 64 * 1024 * 1024;

/// Most records one batch may carry (bounds decoding work for a hostile batch).
pub const MAX_RECORDS_PER_BATCH: usize = 1 << 20;

/// Upper bound on a decompressed body; a zip bomb is rejected at this size.
pub const MAX_UNCOMPRESSED_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Batches of one partition an idempotent producer may have in flight at
/// once, and so the batches a partition remembers per producer id (a retry
/// of any of them must still be recognised as a duplicate). Kafka's
/// idempotent producer stops at 5; an acknowledgement that waits for the
/// leader's and every in-sync follower's fdatasync takes a leader sync, a
/// fetch round trip and a follower sync, and five 1 MiB batches did not
/// keep that pipe full: the leader's group commit waits with too little to
/// sync (replication factor 3 acks=all: about 5% more from 5 to 10, about
/// 19% at 16, docs/bench.md). Kafka clients keep their own limit of 5,
/// which this window covers.
pub const IDEMPOTENT_BATCHES_IN_FLIGHT: usize = 10;

/// zstd level the batch builder compresses with. Level 3 is zstd's own default
/// and Kafka's: most of the ratio of higher levels at several times their speed,
/// which matters because producers compress on the hot path.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

// A batch's body is read in place from block-aligned buffers, so alignment
// must be a power of two no larger than a disk block (4 KiB).
const _: () = assert!(BATCH_ALIGNMENT.is_power_of_two() && BATCH_ALIGNMENT <= 4096);
const _: () = assert!(DEFAULT_MAX_BATCH_BYTES <= MAX_BATCH_BYTES_CEILING);
const _: () = assert!(MAX_BATCH_BYTES_CEILING.is_multiple_of(BATCH_ALIGNMENT));
// The batch length is a u32 on the wire and on disk.
const _: () = assert!(MAX_BATCH_BYTES_CEILING <= u32::MAX as usize);
// A record count fits the header's u32, and its offset delta too.
const _: () = assert!(MAX_RECORDS_PER_BATCH <= u32::MAX as usize);
// Decompression may expand, never past what a batch may hold uncompressed.
const _: () = assert!(MAX_BATCH_BYTES_CEILING <= MAX_UNCOMPRESSED_BODY_BYTES);

// ---- Kafka RecordBatch v2 (the `kafka` module and `stored`) ----

/// Size of a Kafka RecordBatch v2 header: everything before the records.
pub const KAFKA_HEADER_LEN: usize = 61;

/// Bytes of a Kafka batch before its `batchLength` field counts: baseOffset
/// (8) and batchLength itself (4). A batch's wire length is this plus
/// batchLength.
pub const KAFKA_LOG_OVERHEAD: usize = 12;

/// Fewest bytes one encoded Kafka record can take: a 1-byte length varint,
/// then attributes, timestampDelta, offsetDelta, keyLength, valueLength and
/// headerCount of one byte each. Bounds a recordCount by the bytes present.
pub const KAFKA_MIN_RECORD_BYTES: usize = 7;

/// Fewest bytes one record header takes: a key-length and a value-length
/// varint of one byte each. Bounds a headerCount by the bytes left.
pub const KAFKA_MIN_HEADER_BYTES: usize = 2;

/// Largest zstd window (as a power of two) a Kafka batch may ask the decoder
/// to allocate: 8 MiB, what zstd levels 1..=19 use. A frame header alone
/// could otherwise make the decoder allocate zstd's own 128 MiB maximum.
pub const KAFKA_ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Block size of the xerial/snappy-java framing the builder writes: snappy-java's
/// (and so the Java producer's) default.
pub const KAFKA_SNAPPY_BLOCK_BYTES: usize = 32 * 1024;

const _: () = assert!(KAFKA_LOG_OVERHEAD < KAFKA_HEADER_LEN);
// A Kafka batch's whole wire length fits its i32 batchLength field.
const _: () = assert!(MAX_BATCH_BYTES_CEILING - KAFKA_LOG_OVERHEAD <= i32::MAX as usize);
// A stored Kafka batch (header + at least one record, padded to
// BATCH_ALIGNMENT) is never shorter than a native header, so a segment scan
// that reads a native header's worth of bytes always holds either kind's.
const _: () = assert!(
    (KAFKA_HEADER_LEN + KAFKA_MIN_RECORD_BYTES).div_ceil(BATCH_ALIGNMENT) * BATCH_ALIGNMENT
        >= crate::header::HEADER_LEN
);
// recordCount and lastOffsetDelta are i32 in the Kafka header.
const _: () = assert!(MAX_RECORDS_PER_BATCH <= i32::MAX as usize);
const _: () = assert!(KAFKA_SNAPPY_BLOCK_BYTES <= u32::MAX as usize);
const _: () = assert!(KAFKA_MIN_HEADER_BYTES <= KAFKA_MIN_RECORD_BYTES);
const _: () = assert!(IDEMPOTENT_BATCHES_IN_FLIGHT >= 5 && IDEMPOTENT_BATCHES_IN_FLIGHT <= u8::MAX as usize);
