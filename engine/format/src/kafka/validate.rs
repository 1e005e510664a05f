//! Checking a Kafka batch: [`validate`] (framing + CRC-32C, cheap) and
//! [`validate_full`] (also decompresses and walks every record), the same
//! two levels as the native format's `validate` / `validate_full`.
//!
//! The full check is what Kafka's LogValidator demands of a produced batch,
//! plus that the header describes the records exactly (the log indexes by
//! it and never re-encodes): recordCount records, offsetDeltas 0, 1, 2, ...,
//! the last one == lastOffsetDelta, maxTimestamp the records' largest
//! (create-time batches), nothing after the last record.

use std::borrow::Cow;

use crate::error::BatchError;
use crate::kafka::compression::{self, Compression};
use crate::kafka::header::{compute_crc, BatchHeader, ATTR_KNOWN_BITS, MAGIC};
use crate::kafka::records::parse_record;
use crate::limits::{KAFKA_HEADER_LEN, KAFKA_LOG_OVERHEAD, MAX_BATCH_BYTES_CEILING, MAX_RECORDS_PER_BATCH};

/// Framing + CRC only: enough for bytes this process wrote (segment scans,
/// recovery).
///
/// Checks, in this order: a header's worth of bytes, magic 2, batchLength
/// (whole batch between the header's size and `max_batch_bytes`, clamped to
/// MAX_BATCH_BYTES_CEILING, and present in `bytes`), the CRC-32C, then
/// attributes (only Kafka's bits, a known codec), recordCount (1 ..=
/// MAX_RECORDS_PER_BATCH) and lastOffsetDelta (room for recordCount
/// increasing offsets). Length comes before the CRC so a corrupt length never
/// makes us hash past the limit; the rest after, so damage reports as a CRC
/// mismatch.
///
/// `bytes` may extend past the batch. Never panics.
pub fn validate(bytes: &[u8], max_batch_bytes: usize) -> Result<&BatchHeader, BatchError> {
    let header = BatchHeader::parse(bytes).ok_or(BatchError::KafkaTooShort { len: bytes.len() })?;
    if header.magic != MAGIC {
        return Err(BatchError::BadMagic { found: header.magic, expected: MAGIC });
    }
    let batch = batch_bytes(bytes, header, max_batch_bytes)?;
    let actual = compute_crc(batch);
    if actual != header.crc.get() {
        return Err(BatchError::CrcMismatch { expected: header.crc.get(), actual });
    }
    let attributes = header.attributes();
    if attributes & !ATTR_KNOWN_BITS != 0 {
        return Err(BatchError::UnknownAttributes { attributes });
    }
    Compression::from_attributes(attributes)?;
    check_counts(header)?;
    Ok(header)
}

/// [`validate`] + the records' checks: required for bytes from the network
/// before they are stored. Transactional, control and delete-horizon
/// batches are refused: corelog has no transactions, and only a log cleaner
/// sets a delete horizon. As in Kafka's LogValidator, a batch with a
/// producer id needs a non-negative baseSequence. Never panics.
pub fn validate_full(bytes: &[u8], max_batch_bytes: usize) -> Result<&BatchHeader, BatchError> {
    let header = validate(bytes, max_batch_bytes)?;
    validate_records(bytes, header)?;
    Ok(header)
}

/// The checks [`validate_full`] adds to [`validate`], for a batch `validate`
/// accepted (`header` is its result): the CRC is not computed again.
pub fn validate_records(bytes: &[u8], header: &BatchHeader) -> Result<(), BatchError> {
    open_records(bytes, header).map(|_| ())
}

/// The batch's own bytes, once batchLength is known to be sane.
fn batch_bytes<'a>(bytes: &'a [u8], header: &BatchHeader, max_batch_bytes: usize) -> Result<&'a [u8], BatchError> {
    let max = max_batch_bytes.min(MAX_BATCH_BYTES_CEILING);
    let length = header.batch_length.get();
    let out_of_range = BatchError::KafkaLengthOutOfRange {
        length,
        min: KAFKA_HEADER_LEN - KAFKA_LOG_OVERHEAD,
        max: max.saturating_sub(KAFKA_LOG_OVERHEAD),
    };
    let wire = header.wire_length().filter(|n| (KAFKA_HEADER_LEN..=max).contains(n)).ok_or(out_of_range)?;
    bytes.get(..wire).ok_or(BatchError::Truncated { length: wire, available: bytes.len() })
}

fn check_counts(header: &BatchHeader) -> Result<(), BatchError> {
    let count = header.record_count();
    if count == 0 {
        return Err(BatchError::EmptyBatch);
    }
    if count < 0 || count as usize > MAX_RECORDS_PER_BATCH {
        return Err(BatchError::KafkaRecordCountOutOfRange { count, max: MAX_RECORDS_PER_BATCH });
    }
    // Offsets increase, so the last is at least count - 1 past the first.
    let last_offset_delta = header.last_offset_delta();
    if last_offset_delta < count - 1 {
        return Err(BatchError::KafkaBadLastOffsetDelta { last_offset_delta, record_count: count });
    }
    Ok(())
}

/// Refuses what we do not support, decompresses the records if needed
/// (bounded), and walks them. `header` is `validate`'s result for `bytes`.
pub(crate) fn open_records<'a>(bytes: &'a [u8], header: &BatchHeader) -> Result<Cow<'a, [u8]>, BatchError> {
    for (set, kind) in [
        (header.is_transactional(), "transactional"),
        (header.is_control(), "control"),
        (header.has_delete_horizon(), "delete-horizon"),
    ] {
        if set {
            return Err(BatchError::KafkaUnsupportedBatch { kind });
        }
    }
    if header.producer_id() >= 0 && header.base_sequence() < 0 {
        return Err(BatchError::KafkaBadSequence {
            producer_id: header.producer_id(),
            base_sequence: header.base_sequence(),
        });
    }
    let wire = header.wire_length().unwrap_or(0);
    let stored = bytes.get(KAFKA_HEADER_LEN..wire).ok_or(BatchError::KafkaTooShort { len: bytes.len() })?;
    let records = match Compression::from_attributes(header.attributes())? {
        Compression::None => Cow::Borrowed(stored),
        codec => Cow::Owned(compression::decompress(codec, stored)?),
    };
    check_records(header, &records)?;
    Ok(records)
}

fn check_records(header: &BatchHeader, bytes: &[u8]) -> Result<(), BatchError> {
    // `validate` bounded it to 1 ..= MAX_RECORDS_PER_BATCH.
    let count = header.record_count() as usize;
    let base_timestamp = header.base_timestamp();
    let mut max_timestamp = i64::MIN;
    let mut pos = 0;
    for index in 0..count {
        if pos == bytes.len() {
            return Err(BatchError::RecordCountMismatch { header: count as u32, body: index });
        }
        let (record, used) = parse_record(&bytes[pos..], index)?;
        pos += used;
        if usize::try_from(record.offset_delta) != Ok(index) {
            return Err(BatchError::KafkaOffsetDelta { index, delta: record.offset_delta });
        }
        let timestamp = base_timestamp.checked_add(record.timestamp_delta).ok_or(BatchError::TimestampOverflow)?;
        max_timestamp = max_timestamp.max(timestamp);
    }
    if pos != bytes.len() {
        return Err(BatchError::KafkaTrailingBytes { count, trailing: bytes.len() - pos });
    }
    let last = count as u32 - 1;
    if header.last_offset_delta() as u32 != last {
        return Err(BatchError::LastOffsetDeltaMismatch { header: header.last_offset_delta() as u32, body: last });
    }
    // With log-append time the broker owns the timestamp, as in Kafka.
    if !header.is_log_append_time() && max_timestamp != header.max_timestamp() {
        return Err(BatchError::TimestampMismatch {
            field: "maxTimestamp",
            header: header.max_timestamp(),
            body: max_timestamp,
        });
    }
    Ok(())
}
