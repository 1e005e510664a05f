//! Reading the records of a Kafka batch: the varint-framed record layout, a
//! view of one record, and [`DecodedBatch`], the validated batch to read from.
//!
//! ```text
//!  Record (every varint is zigzag; "varint" i32, "varlong" i64):
//!    length          varint  bytes of the record after this field
//!    attributes      i8      unused by Kafka (no bit defined)
//!    timestampDelta  varlong ms relative to the batch's baseTimestamp
//!    offsetDelta     varint  offset relative to the batch's baseOffset
//!    keyLength       varint  -1 = null key
//!    key             bytes
//!    valueLength     varint  -1 = null value (a tombstone)
//!    value           bytes
//!    headerCount     varint
//!    headers         [Header]
//!  Header:
//!    keyLength       varint  >= 0
//!    key             UTF-8
//!    valueLength     varint  -1 = null value
//!    value           bytes
//! ```
//!
//! Nothing here allocates per record: a view borrows key, value and header
//! bytes from the records (the batch itself when uncompressed, else one
//! decompressed buffer owned by the [`DecodedBatch`]), and headers are
//! parsed as they are iterated.

use crate::error::BatchError;
use crate::kafka::header::BatchHeader;
use crate::kafka::validate::{open_records, validate};
use crate::kafka::varint::{read_varint, read_varlong};
use crate::limits::KAFKA_MIN_HEADER_BYTES;

/// One record of a Kafka batch, read in place.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Absolute offset: baseOffset + offsetDelta.
    pub offset: i64,
    /// Absolute timestamp in ms (the batch's maxTimestamp for log-append-time
    /// batches, as in Kafka).
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    /// None is a tombstone (Kafka's null value).
    pub value: Option<&'a [u8]>,
    pub headers: Headers<'a>,
}

/// The headers of one record, parsed as they are iterated.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    /// Exactly the encoded headers, already checked by `parse_record`.
    bytes: &'a [u8],
    count: usize,
}

impl<'a> Headers<'a> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// (key, value) pairs in order; a None value is Kafka's null.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        let mut cursor = Cursor { bytes: self.bytes, pos: 0, index: 0 };
        // The bytes passed `parse_record`, so this cannot fail; if it somehow
        // did, iteration ends instead of panicking.
        (0..self.count).map_while(move |_| cursor.header().ok())
    }
}

/// A record as parsed, with deltas still relative to the batch header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord<'a> {
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Headers<'a>,
}

/// Reads record number `index` from the front of `bytes`: the record and the
/// bytes it took. Every length is checked against the bytes left before
/// anything is sliced; nothing is allocated.
pub(crate) fn parse_record(bytes: &[u8], index: usize) -> Result<(RawRecord<'_>, usize), BatchError> {
    let mut outer = Cursor { bytes, pos: 0, index };
    let declared = outer.length("length")?;
    let body = outer.take(declared, "length")?;
    let mut c = Cursor { bytes: body, pos: 0, index };
    c.take(1, "attributes")?;
    let timestamp_delta = c.varlong("timestampDelta")?;
    let offset_delta = c.varint("offsetDelta")?;
    let key = c.nullable_bytes("keyLength")?;
    let value = c.nullable_bytes("valueLength")?;
    let count = c.varint("headerCount")?;
    let max_headers = c.left() / KAFKA_MIN_HEADER_BYTES;
    let count = usize::try_from(count).ok().filter(|&n| n <= max_headers).ok_or(BatchError::KafkaBadLength {
        index,
        field: "headerCount",
        value: i64::from(count),
        available: c.left(),
    })?;
    let headers_start = c.pos;
    for _ in 0..count {
        c.header()?;
    }
    let headers = Headers { bytes: &body[headers_start..c.pos], count };
    if c.pos != body.len() {
        return Err(BatchError::KafkaRecordSizeMismatch { index, declared: body.len(), used: c.pos });
    }
    Ok((RawRecord { timestamp_delta, offset_delta, key, value, headers }, outer.pos))
}

/// Reads fields front to back, each bounded by the bytes left.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Record number, for error messages.
    index: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    fn varint(&mut self, field: &'static str) -> Result<i32, BatchError> {
        let (value, used) = read_varint(self.rest()).ok_or(BatchError::KafkaBadVarint { index: self.index, field })?;
        self.pos += used;
        Ok(value)
    }

    fn varlong(&mut self, field: &'static str) -> Result<i64, BatchError> {
        let (value, used) = read_varlong(self.rest()).ok_or(BatchError::KafkaBadVarint { index: self.index, field })?;
        self.pos += used;
        Ok(value)
    }

    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], BatchError> {
        let bytes = self.rest().get(..len).ok_or(BatchError::KafkaBadLength {
            index: self.index,
            field,
            value: len as i64,
            available: self.left(),
        })?;
        self.pos += len;
        Ok(bytes)
    }

    /// A non-negative length varint that fits the bytes left.
    fn length(&mut self, field: &'static str) -> Result<usize, BatchError> {
        let value = self.varint(field)?;
        usize::try_from(value).ok().filter(|&n| n <= self.left()).ok_or(BatchError::KafkaBadLength {
            index: self.index,
            field,
            value: i64::from(value),
            available: self.left(),
        })
    }

    /// A length varint (-1 = null) and that many bytes.
    fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, BatchError> {
        let start = self.pos;
        if self.varint(field)? == -1 {
            return Ok(None);
        }
        self.pos = start;
        let len = self.length(field)?;
        self.take(len, field).map(Some)
    }

    fn header(&mut self) -> Result<(&'a str, Option<&'a [u8]>), BatchError> {
        let len = self.length("header keyLength")?;
        let key = self.take(len, "header keyLength")?;
        let key = std::str::from_utf8(key).map_err(|_| BatchError::KafkaHeaderKeyNotUtf8 { index: self.index })?;
        let value = self.nullable_bytes("header valueLength")?;
        Ok((key, value))
    }
}

/// A Kafka batch that passed [`super::validate_full`], ready to be read.
/// Mirrors the native [`crate::DecodedBatch`].
///
/// I/O-free; used on any core.
pub struct DecodedBatch<'a> {
    header: &'a BatchHeader,
    records: Records<'a>,
}

enum Records<'a> {
    /// Uncompressed records, where they lie in the caller's buffer.
    InPlace(&'a [u8]),
    /// Decompressed once; every view borrows from here.
    Owned(Vec<u8>),
}

impl<'a> DecodedBatch<'a> {
    /// Runs the checks of [`super::validate_full`] and keeps the (possibly
    /// decompressed) records for reading.
    pub fn decode(bytes: &'a [u8], max_batch_bytes: usize) -> Result<Self, BatchError> {
        let header = validate(bytes, max_batch_bytes)?;
        let records = match open_records(bytes, header)? {
            std::borrow::Cow::Borrowed(records) => Records::InPlace(records),
            std::borrow::Cow::Owned(records) => Records::Owned(records),
        };
        Ok(DecodedBatch { header, records })
    }

    pub fn header(&self) -> &BatchHeader {
        self.header
    }

    /// Number of records (recordCount, proven equal to the records').
    pub fn len(&self) -> usize {
        self.header.record_count() as usize
    }

    /// Always false: an empty batch does not validate. Here for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records in offset order, with absolute offsets and timestamps.
    pub fn records(&self) -> impl Iterator<Item = RecordView<'_>> {
        let bytes = match &self.records {
            Records::InPlace(records) => records,
            Records::Owned(records) => records.as_slice(),
        };
        iter_records(self.header, bytes)
    }
}

/// Views of the records in `bytes` (a batch's records, decompressed) that
/// the full check accepted. Ends early rather than panicking if they were
/// not checked.
pub(crate) fn iter_records<'b>(header: &BatchHeader, bytes: &'b [u8]) -> impl Iterator<Item = RecordView<'b>> {
    let base_offset = header.base_offset();
    let base_timestamp = header.base_timestamp();
    let log_append_time = header.is_log_append_time().then(|| header.max_timestamp());
    let mut pos = 0;
    let count = header.record_count().max(0) as usize;
    (0..count).map_while(move |index| {
        let (record, used) = parse_record(bytes.get(pos..)?, index).ok()?;
        pos += used;
        Some(RecordView {
            // Saturating: baseOffset is not under the CRC.
            offset: base_offset.saturating_add(i64::from(record.offset_delta)),
            timestamp: log_append_time.unwrap_or_else(|| base_timestamp.saturating_add(record.timestamp_delta)),
            key: record.key,
            value: record.value,
            headers: record.headers,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::varint::{write_varint, write_varlong};

    fn record(fields: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut body = vec![0u8];
        fields(&mut body);
        let mut out = Vec::new();
        write_varint(body.len() as i32, &mut out);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn parses_every_field() {
        let bytes = record(|b| {
            write_varlong(-7, b);
            write_varint(3, b);
            write_varint(2, b);
            b.extend_from_slice(b"k1");
            write_varint(-1, b);
            write_varint(2, b);
            write_varint(1, b);
            b.extend_from_slice(b"a");
            write_varint(-1, b);
            write_varint(0, b);
            write_varint(1, b);
            b.extend_from_slice(b"x");
        });
        let (r, used) = parse_record(&bytes, 0).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!((r.timestamp_delta, r.offset_delta, r.key, r.value), (-7, 3, Some(&b"k1"[..]), None));
        assert_eq!(r.headers.iter().collect::<Vec<_>>(), vec![("a", None), ("", Some(&b"x"[..]))]);
    }

    #[test]
    fn lengths_past_the_bytes_are_errors() {
        // A value claiming i32::MAX bytes in a 10-byte record.
        let bytes = record(|b| {
            write_varlong(0, b);
            write_varint(0, b);
            write_varint(-1, b);
            write_varint(i32::MAX, b);
        });
        assert!(matches!(
            parse_record(&bytes, 4),
            Err(BatchError::KafkaBadLength { index: 4, field: "valueLength", value, .. }) if value == i64::from(i32::MAX)
        ));
        // A header count no bytes could hold.
        let bytes = record(|b| {
            write_varlong(0, b);
            write_varint(0, b);
            write_varint(-1, b);
            write_varint(-1, b);
            write_varint(1_000_000, b);
        });
        assert!(matches!(parse_record(&bytes, 0), Err(BatchError::KafkaBadLength { field: "headerCount", .. })));
        // A record length past the input, and a negative one.
        assert!(matches!(parse_record(&[0x7e, 0, 0], 0), Err(BatchError::KafkaBadLength { field: "length", .. })));
        assert!(matches!(parse_record(&[0x03, 0, 0], 0), Err(BatchError::KafkaBadLength { field: "length", .. })));
        assert!(matches!(parse_record(&[0x80], 0), Err(BatchError::KafkaBadVarint { field: "length", .. })));
    }

    #[test]
    fn record_length_must_match_its_fields() {
        let mut bytes = record(|b| {
            write_varlong(0, b);
            write_varint(0, b);
            write_varint(-1, b);
            write_varint(-1, b);
            write_varint(0, b);
            b.push(0xEE); // a byte no field accounts for
        });
        assert!(matches!(
            parse_record(&bytes, 0),
            Err(BatchError::KafkaRecordSizeMismatch { declared: 7, used: 6, .. })
        ));
        bytes[0] = 2 * 5; // length 5: headerCount cut off
        assert!(matches!(parse_record(&bytes, 0), Err(BatchError::KafkaBadVarint { field: "headerCount", .. })));
    }

    #[test]
    fn header_keys_must_be_utf8_and_not_null() {
        let header = |key_len: i32, key: &'static [u8]| {
            record(move |b| {
                write_varlong(0, b);
                write_varint(0, b);
                write_varint(-1, b);
                write_varint(-1, b);
                write_varint(1, b);
                write_varint(key_len, b);
                b.extend_from_slice(key);
                write_varint(-1, b);
            })
        };
        assert!(parse_record(&header(1, b"a"), 0).is_ok());
        assert_eq!(parse_record(&header(1, b"\xff"), 2).unwrap_err(), BatchError::KafkaHeaderKeyNotUtf8 { index: 2 });
        assert!(matches!(
            parse_record(&header(-1, b""), 0),
            Err(BatchError::KafkaBadLength { field: "header keyLength", value: -1, .. })
        ));
    }
}
