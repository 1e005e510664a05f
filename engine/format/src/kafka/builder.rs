//! Encoding records into a Kafka RecordBatch v2, as a Kafka producer does
//! (tests and the native-to-Kafka conversion use it).
//!
//! Records are encoded as they are pushed (Kafka's record layout needs no
//! root at the end, unlike rkyv), then compressed as one stream by `build`.

use zerocopy::big_endian::{I16, I32, I64, U16, U32};
use zerocopy::IntoBytes;

use crate::error::BatchError;
use crate::kafka::compression::{self, Compression};
use crate::kafka::header::{compute_crc, BatchHeader, ATTR_LOG_APPEND_TIME, MAGIC};
use crate::kafka::varint::{varint_len, write_varint, write_varlong};
use crate::limits::{KAFKA_HEADER_LEN, KAFKA_LOG_OVERHEAD, MAX_BATCH_BYTES_CEILING, MAX_RECORDS_PER_BATCH};

/// Kafka's "none" for producer id, epoch, sequence and leader epoch.
const NONE: i64 = -1;

/// Collects records and encodes them as one Kafka v2 batch.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    /// maxTimestamp of a log-append-time batch (set by `log_append_time`).
    log_append_time: Option<i64>,
    /// The encoded records, uncompressed.
    records: Vec<u8>,
    count: usize,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// First problem a push met; `push` is infallible (as the native
    /// builder's), so `build` reports it.
    error: Option<BatchError>,
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> Self {
        BatchBuilder {
            compression,
            producer_id: NONE,
            producer_epoch: NONE as i16,
            base_sequence: NONE as i32,
            log_append_time: None,
            records: Vec::new(),
            count: 0,
            last_offset_delta: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            error: None,
        }
    }

    /// Idempotent-producer fields (Kafka's -1 for each when not idempotent).
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        (self.producer_id, self.producer_epoch, self.base_sequence) = (producer_id, producer_epoch, base_sequence);
        self
    }

    /// Marks the batch log-append time with `max_timestamp` as its timestamp
    /// (what a broker does); record timestamps are kept as pushed.
    pub fn log_append_time(mut self, max_timestamp: i64) -> Self {
        self.log_append_time = Some(max_timestamp);
        self
    }

    /// Adds a record; offsets are assigned in push order (0, 1, 2, ...).
    pub fn push(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp_ms: i64,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        let offset_delta = if self.count == 0 { 0 } else { self.last_offset_delta.saturating_add(1) };
        self.push_at(offset_delta, key, value, timestamp_ms, headers);
    }

    /// Adds a record at `offset_delta`, which must be above the last one's
    /// (the conversion from native batches keeps their deltas).
    pub(crate) fn push_at(
        &mut self,
        offset_delta: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp_ms: i64,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        if self.count == 0 {
            self.base_timestamp = timestamp_ms;
            self.max_timestamp = timestamp_ms;
        } else if offset_delta <= self.last_offset_delta {
            self.fail(BatchError::Encode(format!("offset delta {offset_delta} does not increase")));
        }
        self.max_timestamp = self.max_timestamp.max(timestamp_ms);
        let Some(timestamp_delta) = timestamp_ms.checked_sub(self.base_timestamp) else {
            return self.fail(BatchError::TimestampOverflow);
        };
        let Some(body) = encode_record(offset_delta, timestamp_delta, key, value, headers) else {
            return self.fail(BatchError::Encode("a record is longer than Kafka's i32 lengths allow".into()));
        };
        // encode_record bounded it to i32.
        let len = body.len() as i32;
        self.records.reserve(varint_len(len) + body.len());
        write_varint(len, &mut self.records);
        self.records.extend_from_slice(&body);
        self.count += 1;
        self.last_offset_delta = offset_delta;
    }

    fn fail(&mut self, error: BatchError) {
        self.error.get_or_insert(error);
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encodes the batch: base offset 0 and leader epoch -1, as a producer
    /// sends them (the log assigns both).
    pub fn build(&self) -> Result<Vec<u8>, BatchError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.count == 0 {
            return Err(BatchError::EmptyBatch);
        }
        if self.count > MAX_RECORDS_PER_BATCH {
            return Err(BatchError::TooManyRecords { count: self.count, max: MAX_RECORDS_PER_BATCH });
        }
        let mut out = vec![0u8; KAFKA_HEADER_LEN];
        compression::compress_into(self.compression, &self.records, &mut out)?;
        if out.len() > MAX_BATCH_BYTES_CEILING {
            return Err(BatchError::BatchTooLarge { size: out.len(), max: MAX_BATCH_BYTES_CEILING });
        }
        let log_append = self.log_append_time.map_or(0, |_| ATTR_LOG_APPEND_TIME);
        // Both fit i32: bounded by the limits checked above (const-asserted).
        let header = BatchHeader {
            base_offset: I64::new(0),
            batch_length: I32::new((out.len() - KAFKA_LOG_OVERHEAD) as i32),
            partition_leader_epoch: I32::new(NONE as i32),
            magic: MAGIC,
            crc: U32::new(0),
            attributes: U16::new(self.compression.attribute_bits() | log_append),
            last_offset_delta: I32::new(self.last_offset_delta),
            base_timestamp: I64::new(self.base_timestamp),
            max_timestamp: I64::new(self.log_append_time.unwrap_or(self.max_timestamp)),
            producer_id: I64::new(self.producer_id),
            producer_epoch: I16::new(self.producer_epoch),
            base_sequence: I32::new(self.base_sequence),
            record_count: I32::new(self.count as i32),
        };
        // The CRC covers the fields after it, so they go in first.
        out[..KAFKA_HEADER_LEN].copy_from_slice(header.as_bytes());
        let crc = compute_crc(&out);
        if let Some(h) = BatchHeader::parse_mut(&mut out) {
            h.crc.set(crc);
        }
        Ok(out)
    }
}

/// A record's bytes after its length varint; None if a length does not fit an i32.
fn encode_record(
    offset_delta: i32,
    timestamp_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> Option<Vec<u8>> {
    let mut body = vec![0u8]; // attributes: Kafka defines none
    write_varlong(timestamp_delta, &mut body);
    write_varint(offset_delta, &mut body);
    write_nullable(key, &mut body)?;
    write_nullable(value, &mut body)?;
    write_varint(i32::try_from(headers.len()).ok()?, &mut body);
    for (k, v) in headers {
        write_nullable(Some(k.as_bytes()), &mut body)?;
        write_nullable(*v, &mut body)?;
    }
    i32::try_from(body.len()).ok()?;
    Some(body)
}

/// Writes a length varint (-1 for None) and the bytes.
fn write_nullable(bytes: Option<&[u8]>, out: &mut Vec<u8>) -> Option<()> {
    let Some(bytes) = bytes else {
        write_varint(-1, out);
        return Some(());
    };
    write_varint(i32::try_from(bytes.len()).ok()?, out);
    out.extend_from_slice(bytes);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::validate::validate_full;

    #[test]
    fn header_fields_are_filled() {
        let mut b = BatchBuilder::new(Compression::Gzip).producer(7, 2, 100);
        b.push(Some(b"k"), Some(b"v1"), 1_000, &[]);
        b.push(None, None, 900, &[("h", None)]);
        b.push(None, Some(b"v3"), 1_500, &[]);
        let bytes = b.build().unwrap();
        let h = validate_full(&bytes, 1 << 20).unwrap();
        assert_eq!(h.wire_length(), Some(bytes.len()));
        assert_eq!((h.base_offset(), h.leader_epoch(), h.record_count(), h.last_offset_delta()), (0, -1, 3, 2));
        assert_eq!((h.base_timestamp(), h.max_timestamp()), (1_000, 1_500));
        assert_eq!((h.producer_id(), h.producer_epoch(), h.base_sequence()), (7, 2, 100));
        assert_eq!(h.attributes(), Compression::Gzip.attribute_bits());
        let plain = BatchBuilder::new(Compression::None).build();
        assert_eq!(plain.unwrap_err(), BatchError::EmptyBatch);
    }

    #[test]
    fn log_append_time_sets_the_bit_and_the_timestamp() {
        let mut b = BatchBuilder::new(Compression::None).log_append_time(5_000);
        b.push(None, Some(b"v"), 10, &[]);
        let bytes = b.build().unwrap();
        let h = validate_full(&bytes, 1 << 20).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!((h.base_timestamp(), h.max_timestamp()), (10, 5_000));
    }

    #[test]
    fn push_problems_are_reported_by_build() {
        let mut b = BatchBuilder::new(Compression::None);
        b.push(None, None, i64::MAX, &[]);
        b.push(None, None, i64::MIN, &[]);
        assert_eq!(b.build().unwrap_err(), BatchError::TimestampOverflow);
        let mut b = BatchBuilder::new(Compression::None);
        b.push_at(5, None, None, 0, &[]);
        b.push_at(5, None, None, 0, &[]);
        assert!(matches!(b.build().unwrap_err(), BatchError::Encode(_)));
    }
}
