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
