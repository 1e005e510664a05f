//! Checking and reading the records of a batch.
//!
//! Bodies are read in place whenever possible: an uncompressed body that
//! sits 16-aligned in the caller's buffer (the normal case for a batch read
//! into a block-aligned buffer) is bytechecked and then borrowed, never copied.
//! A compressed or misaligned body is materialised once in an `AlignedVec`.
//!
//! Bytecheck proves the archive is memory-safe to read; the checks here add
//! what the format promises on top: the header's counts, offsets and
//! timestamps agree with the records.

use rkyv::util::AlignedVec;
use rkyv::vec::ArchivedVec;

use crate::compression::{self, Compression};
use crate::error::BatchError;
use crate::header::{BatchHeader, ATTR_LOG_APPEND_TIME, HEADER_LEN};
use crate::limits::BATCH_ALIGNMENT;
use crate::record::{ArchivedRecord, RecordView};
use crate::validate;

pub(crate) type ArchivedRecords = ArchivedVec<ArchivedRecord>;

/// [`validate`] + decompression (bounded by the limits) + rkyv bytecheck +
/// consistency of record_count, offset deltas (strictly increasing, last ==
/// last_offset_delta) and timestamps with the header. Required for bytes from
/// the network. Never panics.
pub fn validate_full(bytes: &[u8], max_batch_bytes: usize) -> Result<&BatchHeader, BatchError> {
    let header = validate(bytes, max_batch_bytes)?;
    validate_records(bytes, header)?;
    Ok(header)
}

/// The checks [`validate_full`] adds to [`validate`], for a batch whose
/// framing and CRC `validate` already passed (`header` is its result): the
/// CRC is not computed a second time.
pub fn validate_records(bytes: &[u8], header: &BatchHeader) -> Result<(), BatchError> {
    open_body(bytes, header).map(|_| ())
}

/// A fully validated batch whose records can be read in place.
pub struct DecodedBatch<'a> {
    header: &'a BatchHeader,
    body: Body<'a>,
}

enum Body<'a> {
    /// Archive checked where it lies in the caller's buffer.
    InPlace(&'a ArchivedRecords),
    /// Decompressed (or realigned) copy whose archive passed the same check.
    Owned(AlignedVec),
}

impl<'a> DecodedBatch<'a> {
    /// Runs the checks of [`validate_full`] and keeps the result for reading.
    pub fn decode(bytes: &'a [u8], max_batch_bytes: usize) -> Result<Self, BatchError> {
        let header = validate(bytes, max_batch_bytes)?;
        let body = open_body(bytes, header)?;
        Ok(DecodedBatch { header, body })
    }

    pub fn header(&self) -> &BatchHeader {
        self.header
    }

    /// Number of records (record_count, proven equal to the body's).
    pub fn len(&self) -> usize {
        self.header.record_count() as usize
    }

    /// Always false: an empty batch does not validate. Here for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records in offset order, with absolute offsets and timestamps.
    pub fn records(&self) -> impl Iterator<Item = RecordView<'_>> {
        let header = self.header;
        let base_offset = header.base_offset();
        let first_timestamp = header.first_timestamp();
        let max_timestamp = header.max_timestamp();
        let log_append_time = header.attributes.get() & ATTR_LOG_APPEND_TIME != 0;
        self.archived().iter().map(move |r| {
            // base_offset is not under the CRC; saturate rather than wrap so a
            // bogus one can never make offsets go backwards.
            let offset = base_offset.saturating_add(u64::from(r.offset_delta.to_native()));
            let timestamp = if log_append_time {
                max_timestamp
            } else {
                first_timestamp.saturating_add(r.timestamp_delta.to_native())
            };
            RecordView::new(r, offset, timestamp)
        })
    }

    pub(crate) fn archived(&self) -> &ArchivedRecords {
        match &self.body {
            Body::InPlace(records) => records,
            #[allow(unsafe_code)]
            // SAFETY: `open_body` ran `rkyv::access` (full bytecheck) over exactly
            // these bytes and succeeded; the buffer is owned by `self`, never
            // mutated since, and its heap storage keeps its 16-byte alignment
            // when `self` moves. Checking again here would double the cost of
            // reading every compressed batch.
            Body::Owned(buf) => unsafe { rkyv::access_unchecked::<ArchivedRecords>(buf.as_slice()) },
        }
    }
}

/// Locates, decompresses if needed, bytechecks and cross-checks the body of a
/// batch `validate` accepted.
fn open_body<'a>(bytes: &'a [u8], header: &BatchHeader) -> Result<Body<'a>, BatchError> {
    let body_length = header.body_length.get() as usize;
    let stored = HEADER_LEN
        .checked_add(body_length)
        .and_then(|end| bytes.get(HEADER_LEN..end))
        .ok_or(BatchError::BodyLengthMismatch { body_length, batch_length: header.batch_length() })?;
    let codec = Compression::from_attributes(header.attributes.get())?;
    if codec == Compression::None && stored.as_ptr().align_offset(BATCH_ALIGNMENT) == 0 {
        let records = access(stored)?;
        check_records(header, records)?;
        return Ok(Body::InPlace(records));
    }
    let expected = header.uncompressed_length.get() as usize;
    let owned = compression::decompress(codec, stored, expected)?;
    check_records(header, access(&owned)?)?;
    Ok(Body::Owned(owned))
}

fn access(body: &[u8]) -> Result<&ArchivedRecords, BatchError> {
    rkyv::access::<ArchivedRecords, rkyv::rancor::Error>(body).map_err(|e| BatchError::InvalidArchive(e.to_string()))
}

/// The header is what the log indexes by (offsets, max timestamp), so it must
/// describe the records exactly, not just plausibly.
fn check_records(header: &BatchHeader, records: &ArchivedRecords) -> Result<(), BatchError> {
    let count = header.record_count();
    if records.len() != count as usize {
        return Err(BatchError::RecordCountMismatch { header: count, body: records.len() });
    }
    let first_timestamp = header.first_timestamp();
    let mut last_delta: Option<u32> = None;
    let mut max_ts_delta = i64::MIN;
    for (index, record) in records.iter().enumerate() {
        let delta = record.offset_delta.to_native();
        if last_delta.is_some_and(|prev| delta <= prev) {
            return Err(BatchError::OffsetDeltaNotIncreasing { index, delta });
        }
        last_delta = Some(delta);
        let ts_delta = record.timestamp_delta.to_native();
        if first_timestamp.checked_add(ts_delta).is_none() {
            return Err(BatchError::TimestampOverflow);
        }
        max_ts_delta = max_ts_delta.max(ts_delta);
    }
    let last = last_delta.unwrap_or(0);
    if last != header.last_offset_delta() {
        return Err(BatchError::LastOffsetDeltaMismatch { header: header.last_offset_delta(), body: last });
    }
    // With log-append time the broker owns the timestamps and the records'
    // own deltas are ignored, as in Kafka.
    if header.attributes.get() & ATTR_LOG_APPEND_TIME == 0 {
        check_timestamps(header, records, max_ts_delta)?;
    }
    Ok(())
}

fn check_timestamps(header: &BatchHeader, records: &ArchivedRecords, max_ts_delta: i64) -> Result<(), BatchError> {
    let first = header.first_timestamp();
    let first_delta = records.first().map_or(0, |r| r.timestamp_delta.to_native());
    if first_delta != 0 {
        return Err(BatchError::TimestampMismatch {
            field: "first_timestamp",
            header: first,
            body: first.saturating_add(first_delta),
        });
    }
    let max = first.saturating_add(max_ts_delta);
    if max != header.max_timestamp() {
        return Err(BatchError::TimestampMismatch {
            field: "max_timestamp",
            header: header.max_timestamp(),
            body: max,
        });
    }
    Ok(())
}
