//! corelog-format: the record batch, the unit that is produced, stored and
//! fetched unchanged (on disk == on the wire). No I/O and no runtime: the
//! client, the broker and the storage engine all build on it.
//!
//! Layout is in [`header`]. This crate root holds the framing check every batch
//! passes before anything trusts its length ([`validate`]), and walking the
//! batches of a buffer ([`iter_batches`]). Checking the records themselves is
//! in `reader`, building batches in `builder`.
//!
//! Two levels of checking, because they have different costs and callers:
//! - [`validate`]: framing + CRC. Enough for bytes this process wrote (segment
//!   scans, recovery): the CRC proves they are what we wrote.
//! - [`validate_full`]: also decompresses and bytechecks the rkyv body. Required
//!   for bytes from the network before they are stored or read in place.
//!
//! A second format, Kafka's RecordBatch v2, is in [`kafka`]; [`stored`] is
//! the format-neutral view of a batch in the log (either kind).
//!
//! What is appended to a log is a [`ValidBatches`]: built only by checking
//! (framing + CRC, or also the records for network input), it carries each
//! batch's header so the log and the broker never parse or check it again.
//! It holds batches of either format (a Kafka Produce request's through
//! [`ValidBatches::from_kafka_network`]), read through the neutral
//! [`StoredBatch`] accessors.

mod builder;
mod compression;
mod error;
pub mod header;
pub mod kafka;
pub mod limits;
mod reader;
mod record;
pub mod stored;
mod valid;

pub use builder::BatchBuilder;
pub use compression::Compression;
pub use error::BatchError;
pub use header::{compute_crc, padded_batch_len, restamp_producer, BatchHeader, CRC_START, HEADER_LEN, MAGIC};
pub use reader::{validate_full, validate_records, DecodedBatch};
pub use record::{ArchivedRecord, ArchivedRecordHeader, Record, RecordHeader, RecordView};
pub use stored::{BatchFormat, StoredBatch, StoredBatchMut};
pub use valid::{ValidBatch, ValidBatches};

use crate::limits::{BATCH_ALIGNMENT, MAX_BATCH_BYTES_CEILING, MAX_RECORDS_PER_BATCH, MAX_UNCOMPRESSED_BODY_BYTES};
use core::mem::offset_of;
use header::ATTR_KNOWN_BITS;

/// Framing + CRC only (cheap; used by recovery and segment scans).
///
/// Checks, in this order: at least a header's worth of bytes, magic,
/// batch_length (multiple of BATCH_ALIGNMENT, >= HEADER_LEN, <= the limit,
/// <= bytes.len()), the CRC over `[CRC_START, batch_length)`, then attributes,
/// reserved bytes, body_length, padding and record count bounds. Length comes
/// before the CRC so a corrupt length can never make us hash past the limit;
/// everything else comes after it so a torn write reports as a CRC mismatch.
///
/// `bytes` may extend past the batch (a segment or fetch buffer). The limit is
/// clamped to MAX_BATCH_BYTES_CEILING whatever the caller passes. Never panics.
pub fn validate(bytes: &[u8], max_batch_bytes: usize) -> Result<&BatchHeader, BatchError> {
    let header = BatchHeader::parse(bytes).ok_or(BatchError::TooShort { len: bytes.len() })?;
    if header.magic != MAGIC {
        return Err(BatchError::BadMagic { found: header.magic, expected: MAGIC });
    }
    let batch = check_length(bytes, header, max_batch_bytes)?;
    let actual = crc32fast::hash(batch.get(CRC_START..).unwrap_or_default());
    if actual != header.crc.get() {
        return Err(BatchError::CrcMismatch { expected: header.crc.get(), actual });
    }
    check_attributes(header)?;
    check_reserved(header)?;
    check_body_and_padding(batch, header)?;
    check_counts(header)?;
    Ok(header)
}

/// Returns the batch's own bytes once its length is known to be sane.
// `is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn check_length<'a>(bytes: &'a [u8], header: &BatchHeader, max_batch_bytes: usize) -> Result<&'a [u8], BatchError> {
    let length = header.batch_length();
    let max = max_batch_bytes.min(MAX_BATCH_BYTES_CEILING);
    if length % BATCH_ALIGNMENT != 0 {
        return Err(BatchError::LengthNotAligned { length });
    }
    if length < HEADER_LEN {
        return Err(BatchError::LengthTooSmall { length });
    }
    if length > max {
        return Err(BatchError::LengthOverMax { length, max });
    }
    bytes.get(..length).ok_or(BatchError::Truncated { length, available: bytes.len() })
}

fn check_attributes(header: &BatchHeader) -> Result<(), BatchError> {
    let attributes = header.attributes.get();
    if attributes & !ATTR_KNOWN_BITS != 0 {
        return Err(BatchError::UnknownAttributes { attributes });
    }
    Compression::from_attributes(attributes).map(|_| ())
}

/// Reserved bytes must be zero so a later format version can give them a
/// meaning without old data being misread.
fn check_reserved(header: &BatchHeader) -> Result<(), BatchError> {
    let reserved: [(usize, &[u8]); 4] = [
        (offset_of!(BatchHeader, reserved0), &header.reserved0),
        (offset_of!(BatchHeader, reserved1), &header.reserved1),
        (offset_of!(BatchHeader, reserved2), &header.reserved2),
        (offset_of!(BatchHeader, reserved3), &header.reserved3),
    ];
    for (start, field) in reserved {
        if let Some((i, &value)) = field.iter().enumerate().find(|(_, b)| **b != 0) {
            return Err(BatchError::NonZeroReserved { offset: start + i, value });
        }
    }
    Ok(())
}

/// body_length must account for the batch exactly: padding is only what is
/// needed to reach the next BATCH_ALIGNMENT boundary, and is zero, so one
/// batch has one encoding and the CRC covers no slack.
fn check_body_and_padding(batch: &[u8], header: &BatchHeader) -> Result<(), BatchError> {
    let body_length = header.body_length.get() as usize;
    let batch_length = batch.len();
    let mismatch = BatchError::BodyLengthMismatch { body_length, batch_length };
    // batch_length >= HEADER_LEN was checked; this also keeps the sum below
    // from overflowing on 32-bit targets.
    if body_length > batch_length - HEADER_LEN || padded_batch_len(body_length) != batch_length {
        return Err(mismatch);
    }
    let body_end = HEADER_LEN + body_length;
    let padding = batch.get(body_end..).unwrap_or_default();
    if let Some((i, &value)) = padding.iter().enumerate().find(|(_, b)| **b != 0) {
        return Err(BatchError::NonZeroPadding { offset: body_end + i, value });
    }
    let uncompressed = header.uncompressed_length.get() as usize;
    match Compression::from_attributes(header.attributes.get())? {
        Compression::None if uncompressed != body_length => {
            Err(BatchError::DecompressedSizeMismatch { expected: uncompressed, actual: body_length })
        }
        _ if uncompressed > MAX_UNCOMPRESSED_BODY_BYTES => {
            Err(BatchError::UncompressedTooLarge { size: uncompressed, max: MAX_UNCOMPRESSED_BODY_BYTES })
        }
        _ => Ok(()),
    }
}

/// An empty batch would have no offset of its own, and the count bounds how
/// much work a full check of the body can be made to do.
fn check_counts(header: &BatchHeader) -> Result<(), BatchError> {
    let count = header.record_count() as usize;
    if count == 0 {
        return Err(BatchError::EmptyBatch);
    }
    if count > MAX_RECORDS_PER_BATCH {
        return Err(BatchError::TooManyRecords { count, max: MAX_RECORDS_PER_BATCH });
    }
    Ok(())
}

/// Iterates the batches laid end to end in `bytes` (as a fetch returns them),
/// each checked with [`validate`]. Stops after yielding the first error,
/// including a partial batch at the end.
pub fn iter_batches(bytes: &[u8], max_batch_bytes: usize) -> impl Iterator<Item = Result<&[u8], BatchError>> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let cur = rest.take().filter(|b| !b.is_empty())?;
        let result = validate(cur, max_batch_bytes).and_then(|header| {
            cur.split_at_checked(header.batch_length())
                .ok_or(BatchError::Truncated { length: header.batch_length(), available: cur.len() })
        });
        match result {
            Ok((batch, tail)) => {
                rest = Some(tail);
                Some(Ok(batch))
            }
            Err(e) => Some(Err(e)),
        }
    })
}
