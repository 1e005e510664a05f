//! Encoding records into a batch, as a producer does before sending.
//!
//! The builder holds the pushed records until `build`, because rkyv archives
//! a whole vector at once (the root goes last). [`BatchBuilder::push_shared`]
//! keeps the producer's own buffers (reference counted), and uncompressed
//! bodies are archived straight into the output buffer behind a reserved
//! header, so the only copy of a payload is the one into the batch.

use bytes::{Bytes, BytesMut};
use zerocopy::little_endian::{I16, I32, I64, U16, U32, U64};
use zerocopy::IntoBytes;

use crate::compression::{self, Compression};
use crate::error::BatchError;
use crate::header::{compute_crc, padded_batch_len, BatchHeader, HEADER_LEN, MAGIC};
use crate::limits::{MAX_BATCH_BYTES_CEILING, MAX_RECORDS_PER_BATCH, MAX_UNCOMPRESSED_BODY_BYTES};
use crate::record::{estimated_archived_len, ArchivedRecord, SharedHeader, SharedRecord};

/// Producer-side "not idempotent" marker for producer id, epoch and sequence.
const NO_PRODUCER: i64 = -1;

/// Collects records and encodes them as one batch.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    records: Vec<SharedRecord>,
    first_timestamp: i64,
    max_timestamp: i64,
    estimated_size: usize,
    /// A timestamp too far from the first to fit a delta; reported by `build`
    /// because `push` is infallible to keep the producer loop simple.
    timestamp_overflow: bool,
    /// Idempotent producer fields (id, epoch, base sequence); -1s when None.
    producer: Option<(i64, i16, i32)>,
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> Self {
        BatchBuilder {
            compression,
            records: Vec::new(),
            first_timestamp: 0,
            max_timestamp: 0,
            estimated_size: HEADER_LEN + core::mem::size_of::<rkyv::vec::ArchivedVec<ArchivedRecord>>(),
            timestamp_overflow: false,
            producer: None,
        }
    }

    /// Writes the batch as an idempotent producer's: its id, epoch and the
    /// sequence of its first record (the header's producer fields, which the
    /// CRC covers; the broker checks them against the producer's last batch).
    pub fn set_producer(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) {
        self.producer = Some((producer_id, producer_epoch, base_sequence));
    }

    /// Adds a record (copying its bytes); offsets are assigned in push order.
    pub fn push(&mut self, key: Option<&[u8]>, value: &[u8], timestamp_ms: i64, headers: &[(&str, &[u8])]) {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), Bytes::copy_from_slice(v)));
        self.push_shared(key.map(Bytes::copy_from_slice), Bytes::copy_from_slice(value), timestamp_ms, headers);
    }

    /// Adds a record that shares the caller's buffers until `build`.
    pub fn push_shared(
        &mut self,
        key: Option<Bytes>,
        value: Bytes,
        timestamp_ms: i64,
        headers: impl IntoIterator<Item = (String, Bytes)>,
    ) {
        if self.records.is_empty() {
            self.first_timestamp = timestamp_ms;
            self.max_timestamp = timestamp_ms;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp_ms);
        let timestamp_delta = timestamp_ms.checked_sub(self.first_timestamp).unwrap_or_else(|| {
            self.timestamp_overflow = true;
            0
        });
        // Past u32::MAX records `build` fails on MAX_RECORDS_PER_BATCH anyway.
        let offset_delta = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        let headers: Vec<SharedHeader> = headers.into_iter().map(|(key, value)| SharedHeader { key, value }).collect();
        let header_refs = headers.iter().map(|h| (h.key.as_str(), &h.value[..]));
        self.estimated_size += estimated_archived_len(key.as_deref(), &value, header_refs);
        self.records.push(SharedRecord { offset_delta, timestamp_delta, key, value, headers });
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Rough encoded size so far, header included, before compression: an
    /// upper estimate, so cutting at a budget never overshoots it.
    pub fn estimated_size(&self) -> usize {
        self.estimated_size
    }

    /// Encodes the batch: base_offset and leader_epoch 0 (the log assigns
    /// them), producer fields as set (-1 if not), CRC filled, padded to
    /// BATCH_ALIGNMENT.
    pub fn build(self) -> Result<BytesMut, BatchError> {
        if self.records.is_empty() {
            return Err(BatchError::EmptyBatch);
        }
        if self.records.len() > MAX_RECORDS_PER_BATCH {
            return Err(BatchError::TooManyRecords { count: self.records.len(), max: MAX_RECORDS_PER_BATCH });
        }
        if self.timestamp_overflow {
            return Err(BatchError::TimestampOverflow);
        }
        let (mut buf, uncompressed_len) = self.encode_body()?;
        let body_len = buf.len() - HEADER_LEN;
        if uncompressed_len > MAX_UNCOMPRESSED_BODY_BYTES {
            return Err(BatchError::UncompressedTooLarge { size: uncompressed_len, max: MAX_UNCOMPRESSED_BODY_BYTES });
        }
        let total = padded_batch_len(body_len);
        if total > MAX_BATCH_BYTES_CEILING {
            return Err(BatchError::BatchTooLarge { size: total, max: MAX_BATCH_BYTES_CEILING });
        }
        buf.resize(total, 0);

        let last_offset_delta = self.records.last().map_or(0, |r| r.offset_delta);
        let (producer_id, producer_epoch, base_sequence) =
            self.producer.unwrap_or((NO_PRODUCER, NO_PRODUCER as i16, NO_PRODUCER as i32));
        // All three fit u32: bounded by the limits checked above.
        let as_u32 = |n: usize| U32::new(n as u32);
        let mut header = BatchHeader {
            base_offset: U64::new(0),
            batch_length: as_u32(total),
            leader_epoch: U32::new(0),
            magic: MAGIC,
            reserved0: [0; 3],
            crc: U32::new(0),
            attributes: U16::new(self.compression.attribute_bits()),
            reserved1: [0; 2],
            last_offset_delta: U32::new(last_offset_delta),
            first_timestamp: I64::new(self.first_timestamp),
            max_timestamp: I64::new(self.max_timestamp),
            producer_id: I64::new(producer_id),
            producer_epoch: I16::new(producer_epoch),
            reserved2: [0; 2],
            base_sequence: I32::new(base_sequence),
            record_count: as_u32(self.records.len()),
            body_length: as_u32(body_len),
            uncompressed_length: as_u32(uncompressed_len),
            reserved3: [0; 4],
        };
        // The CRC covers the header fields after it, so they go in first.
        buf[..HEADER_LEN].copy_from_slice(header.as_bytes());
        header.crc = U32::new(compute_crc(&buf));
        buf[..HEADER_LEN].copy_from_slice(header.as_bytes());
        Ok(buf)
    }

    /// Returns a buffer holding a zeroed header followed by the body, and the
    /// body's uncompressed length.
    fn encode_body(&self) -> Result<(BytesMut, usize), BatchError> {
        let estimate = padded_batch_len(self.estimated_size);
        let mut buf = BytesMut::with_capacity(estimate);
        buf.resize(HEADER_LEN, 0);
        if self.compression == Compression::None {
            // The header is a multiple of 16 bytes, so rkyv's alignment padding
            // (relative to the buffer start) is also right relative to the body.
            let BytesWriter(buf) =
                rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(&self.records, BytesWriter(buf))
                    .map_err(|e| BatchError::Encode(e.to_string()))?;
            let len = buf.len() - HEADER_LEN;
            return Ok((buf, len));
        }
        let body =
            rkyv::to_bytes::<rkyv::rancor::Error>(&self.records).map_err(|e| BatchError::Encode(e.to_string()))?;
        compression::compress_into(self.compression, &body, &mut buf)?;
        Ok((buf, body.len()))
    }
}

/// Lets rkyv serialize directly into the batch buffer.
struct BytesWriter(BytesMut);

impl rkyv::ser::Positional for BytesWriter {
    fn pos(&self) -> usize {
        self.0.len()
    }
}

impl<E> rkyv::ser::Writer<E> for BytesWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), E> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{BATCH_ALIGNMENT, DEFAULT_MAX_BATCH_BYTES};
    use crate::validate;

    #[test]
    fn empty_builder_fails() {
        let b = BatchBuilder::new(Compression::None);
        assert!(b.is_empty());
        assert_eq!(b.build().unwrap_err(), BatchError::EmptyBatch);
    }

    #[test]
    fn header_fields_are_filled() {
        let mut b = BatchBuilder::new(Compression::None);
        b.push(Some(b"k"), b"v1", 1_000, &[]);
        b.push(None, b"v2", 900, &[("h", b"x")]);
        b.push(None, b"v3", 1_500, &[]);
        assert_eq!(b.len(), 3);
        let bytes = b.build().unwrap();
        assert_eq!(bytes.len() % BATCH_ALIGNMENT, 0);
        let h = validate(&bytes, DEFAULT_MAX_BATCH_BYTES).unwrap();
        assert_eq!(h.batch_length(), bytes.len());
        assert_eq!(h.base_offset(), 0);
        assert_eq!(h.leader_epoch(), 0);
        assert_eq!(h.record_count(), 3);
        assert_eq!(h.last_offset_delta(), 2);
        assert_eq!(h.first_timestamp(), 1_000);
        assert_eq!(h.max_timestamp(), 1_500);
        assert_eq!(h.producer_id.get(), -1);
        assert_eq!(h.producer_epoch.get(), -1);
        assert_eq!(h.base_sequence.get(), -1);
        assert_eq!(h.attributes.get(), 0);
        assert_eq!(h.body_length.get(), h.uncompressed_length.get());
    }

    #[test]
    fn an_idempotent_producers_fields_are_written_under_the_crc() {
        let mut b = BatchBuilder::new(Compression::None);
        b.push(None, b"v", 1_000, &[]);
        b.set_producer(1 << 44, 3, 17);
        let bytes = b.build().unwrap();
        let h = validate(&bytes, DEFAULT_MAX_BATCH_BYTES).unwrap();
        assert_eq!((h.producer_id.get(), h.producer_epoch.get(), h.base_sequence.get()), (1 << 44, 3, 17));
    }

    #[test]
    fn estimate_is_an_upper_bound_for_uncompressed() {
        let mut b = BatchBuilder::new(Compression::None);
        for i in 0..100u32 {
            let v = vec![i as u8; (i as usize * 37) % 300];
            b.push(Some(&i.to_le_bytes()), &v, i64::from(i), &[("a", b"b")]);
        }
        let estimate = b.estimated_size();
        let len = b.build().unwrap().len();
        assert!(estimate + BATCH_ALIGNMENT >= len, "estimate {estimate} < {len}");
        assert!(estimate < len * 2, "estimate {estimate} far above {len}");
    }

    #[test]
    fn timestamp_overflow_is_reported() {
        let mut b = BatchBuilder::new(Compression::None);
        b.push(None, b"", i64::MAX, &[]);
        b.push(None, b"", i64::MIN, &[]);
        assert_eq!(b.build().unwrap_err(), BatchError::TimestampOverflow);
    }

    #[test]
    fn shared_records_archive_exactly_like_owned_ones() {
        use crate::record::{Record, RecordHeader};
        let owned = vec![
            Record {
                offset_delta: 0,
                timestamp_delta: 0,
                key: Some(b"k".to_vec()),
                value: b"v1".to_vec(),
                headers: vec![],
            },
            Record {
                offset_delta: 1,
                timestamp_delta: -5,
                key: None,
                value: vec![9; 300],
                headers: vec![RecordHeader { key: "h".into(), value: b"x".to_vec() }],
            },
        ];
        let mut b = BatchBuilder::new(Compression::None);
        b.push_shared(Some(Bytes::from_static(b"k")), Bytes::from_static(b"v1"), 100, []);
        b.push_shared(None, Bytes::from(vec![9; 300]), 95, [("h".to_owned(), Bytes::from_static(b"x"))]);
        let built = b.build().unwrap();
        let expected = rkyv::to_bytes::<rkyv::rancor::Error>(&owned).unwrap();
        let body_len = validate(&built, DEFAULT_MAX_BATCH_BYTES).unwrap().body_length.get() as usize;
        assert_eq!(&built[HEADER_LEN..HEADER_LEN + body_len], &expected[..]);
    }
}
