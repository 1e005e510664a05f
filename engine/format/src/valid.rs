//! [`ValidBatch`] and [`ValidBatches`]: batches that passed validation, as
//! types, so nothing downstream checks or parses them again.
//!
//! A valid batch is in either format the log stores ([`crate::stored`]): a
//! native batch, or a Kafka RecordBatch v2 exactly as a Kafka client sent
//! it. Only the checking constructors here build them. Holding one proves
//! its bytes are exactly one batch whose framing is sane and whose CRC
//! matches ([`crate::validate`] / [`kafka::validate`]) and, if it came
//! through a network constructor, whose records agree with the header
//! ([`crate::validate_records`] / [`kafka::validate_records`]). The header is
//! copied out once, during that check: the log assigning offsets, the
//! active segment indexing and the broker counting records all read that
//! copy, through the format-neutral [`StoredBatch`] view ([`ValidBatch::header`]).
//!
//! The bytes are kept as the `Bytes` they were checked in (for a produce
//! request, slices of the received frame): checking copies only the header.
//! A Kafka batch is kept without its stored padding (a produce request has
//! none; the zeros a stored one carries are checked and dropped), so
//! [`ValidBatch::bytes`] is its wire form and [`ValidBatch::len`] its
//! stored length, [`ValidBatch::padding_len`] more.
//!
//! Lives on: the core that owns the partition the batches are for; its produce
//! handler or internal writer builds them and its log consumes them.

use bytes::{Bytes, BytesMut};
use zerocopy::IntoBytes;

use crate::error::BatchError;
use crate::header::{BatchHeader, HEADER_LEN};
use crate::kafka;
use crate::limits::KAFKA_HEADER_LEN;
use crate::reader::validate_records;
use crate::stored::{BatchFormat, StoredBatch, StoredBatchMut};

/// The header of a valid batch, copied out of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Native(BatchHeader),
    Kafka(kafka::BatchHeader),
}

impl Header {
    fn view(&self) -> StoredBatch<'_> {
        match self {
            Header::Native(h) => StoredBatch::Native(h),
            Header::Kafka(h) => StoredBatch::Kafka(h),
        }
    }

    fn of(batch: StoredBatch<'_>) -> Self {
        match batch {
            StoredBatch::Native(h) => Header::Native(*h),
            StoredBatch::Kafka(h) => Header::Kafka(*h),
        }
    }
}

/// One batch that passed the framing and CRC check of its format (and, if
/// built by a network constructor, the records' check), with its header as
/// received.
///
/// Lives on: the core owning the partition (see the module docs).
#[derive(Debug, Clone)]
pub struct ValidBatch {
    header: Header,
    /// The batch's wire form: `header().wire_len()` bytes, no padding.
    bytes: Bytes,
}

impl ValidBatch {
    /// Framing + CRC of exactly one stored batch of either format (a Kafka
    /// one with its zero padding): enough for bytes this process built or
    /// wrote. `bytes` must hold the batch and nothing more.
    pub fn new(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        let batch = StoredBatch::validate(&bytes, max_batch_bytes)?;
        if batch.stored_len() != bytes.len() {
            return Err(BatchError::NotOneBatch { batch_length: batch.stored_len(), received: bytes.len() });
        }
        let (header, wire) = (Header::of(batch), batch.wire_len());
        Ok(ValidBatch { header, bytes: bytes.slice(..wire) })
    }

    /// [`ValidBatch::new`] plus the records' checks: required for bytes from
    /// the network, which are read in place later.
    pub fn from_network(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        let batch = ValidBatch::new(bytes, max_batch_bytes)?;
        batch.validate_records()?;
        Ok(batch)
    }

    /// Exactly one Kafka v2 batch in its wire form (no padding), as a Kafka
    /// producer sends it, with every record checked ([`kafka::validate_full`]).
    pub fn from_kafka_network(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        let header = *kafka::validate_full(&bytes, max_batch_bytes)?;
        let wire = StoredBatch::Kafka(&header).wire_len();
        if wire != bytes.len() {
            return Err(BatchError::NotOneBatch { batch_length: wire, received: bytes.len() });
        }
        Ok(ValidBatch { header: Header::Kafka(header), bytes })
    }

    fn validate_records(&self) -> Result<(), BatchError> {
        match &self.header {
            Header::Native(h) => validate_records(&self.bytes, h),
            Header::Kafka(h) => kafka::validate_records(&self.bytes, h),
        }
    }

    /// The header as received (base offset and leader epoch as the sender
    /// left them), format-neutral.
    pub fn header(&self) -> StoredBatch<'_> {
        self.header.view()
    }

    pub fn format(&self) -> BatchFormat {
        self.header().format()
    }

    /// The header bytes this batch is stored with once the log gives it
    /// `base_offset` under `leader_epoch`, in the batch's own format (Kafka:
    /// big-endian, at bytes 0 and 12). Both fields are outside the CRC, so
    /// the batch stays valid. A Kafka batch cannot carry an offset past
    /// i64::MAX or an epoch past i32::MAX: those are refused.
    pub fn stamped_header(&self, base_offset: u64, leader_epoch: u32) -> Result<Bytes, BatchError> {
        let mut header = self.header;
        let mut stamped = match &mut header {
            Header::Native(h) => StoredBatchMut::new(h.as_mut_bytes())?,
            Header::Kafka(h) => StoredBatchMut::new(h.as_mut_bytes())?,
        };
        stamped.set_base_offset(base_offset)?;
        stamped.set_leader_epoch(leader_epoch)?;
        Ok(match &header {
            Header::Native(h) => Bytes::copy_from_slice(h.as_bytes()),
            Header::Kafka(h) => Bytes::copy_from_slice(h.as_bytes()),
        })
    }

    /// Size of the header in the batch's format (what
    /// [`ValidBatch::stamped_header`] returns replaces this many bytes).
    pub fn header_len(&self) -> usize {
        match self.header {
            Header::Native(_) => HEADER_LEN,
            Header::Kafka(_) => KAFKA_HEADER_LEN,
        }
    }

    /// Stored size: header, body and padding (where the next batch starts
    /// in a segment).
    pub fn len(&self) -> usize {
        self.header().stored_len()
    }

    /// Always false: a batch is at least its header. Here for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Zero bytes stored after [`ValidBatch::bytes`] (Kafka batches only).
    pub fn padding_len(&self) -> usize {
        self.len() - self.bytes.len()
    }

    pub fn record_count(&self) -> u32 {
        self.header().record_count()
    }

    pub fn last_offset_delta(&self) -> u32 {
        self.header().last_offset_delta()
    }

    pub fn max_timestamp(&self) -> i64 {
        self.header().max_timestamp()
    }

    /// The whole batch as received, in its wire form (no padding).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Everything after the header (the records, and a native batch's
    /// padding), sharing the batch's memory.
    pub fn rest(&self) -> Bytes {
        self.bytes.slice(self.header_len()..)
    }

    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

/// One or more [`ValidBatch`]es, in order, with their totals.
///
/// Lives on: the core owning the partition (see the module docs).
#[derive(Debug, Clone)]
pub struct ValidBatches {
    /// Never empty.
    batches: Vec<ValidBatch>,
    /// Stored bytes of all batches.
    byte_len: usize,
    record_count: u64,
}

impl ValidBatches {
    /// Framing + CRC of every stored batch laid end to end in `bytes`, in
    /// either format (a segment scan's or a replica fetch's bytes); the first
    /// bad one, a partial batch at the end, or no batch at all is an error.
    pub fn new(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        Self::split_stored(bytes, max_batch_bytes, false)
    }

    /// [`ValidBatches::new`] plus every batch's records checked: required for
    /// bytes from the network (a native produce request, a follower's fetch).
    pub fn from_network(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        Self::split_stored(bytes, max_batch_bytes, true)
    }

    /// The records blob of a Kafka Produce request: one or more v2 batches
    /// back to back in wire form (no padding), each fully checked
    /// ([`kafka::validate_full`]). A partial batch or anything else after
    /// the last batch refuses them all.
    pub fn from_kafka_network(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        let mut batches = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let header = *kafka::validate_full(&bytes[start..], max_batch_bytes)?;
            let end = start + StoredBatch::Kafka(&header).wire_len();
            batches.push(ValidBatch { header: Header::Kafka(header), bytes: bytes.slice(start..end) });
            start = end;
        }
        Self::from_batches(batches)
    }

    /// Batches checked one by one; none at all is an error.
    pub fn from_batches(batches: Vec<ValidBatch>) -> Result<Self, BatchError> {
        if batches.is_empty() {
            return Err(BatchError::NoBatches);
        }
        let byte_len = batches.iter().map(ValidBatch::len).sum();
        let record_count = batches.iter().map(|b| u64::from(b.record_count())).sum();
        Ok(ValidBatches { batches, byte_len, record_count })
    }

    fn split_stored(bytes: Bytes, max_batch_bytes: usize, records: bool) -> Result<Self, BatchError> {
        let mut batches = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let batch = StoredBatch::validate(&bytes[start..], max_batch_bytes)?;
            let (header, wire, stored) = (Header::of(batch), batch.wire_len(), batch.stored_len());
            let batch = ValidBatch { header, bytes: bytes.slice(start..start + wire) };
            if records {
                batch.validate_records()?;
            }
            batches.push(batch);
            start += stored;
        }
        Self::from_batches(batches)
    }

    /// Number of batches (at least one).
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Always false: there is at least one batch. Here for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Stored bytes of all batches (padding included).
    pub fn byte_len(&self) -> usize {
        self.byte_len
    }

    /// Records in all batches.
    pub fn record_count(&self) -> u64 {
        self.record_count
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ValidBatch> {
        self.batches.iter()
    }

    /// The same batches copied into one buffer of their own. A `Bytes` slice
    /// keeps its whole allocation alive, so batches that are a small part of
    /// what they arrived in (a small or mostly rejected request) are worth
    /// one copy before something keeps them for long.
    pub fn compacted(&self) -> ValidBatches {
        let wire_len = self.batches.iter().map(|b| b.bytes.len()).sum();
        let mut buf = BytesMut::with_capacity(wire_len);
        for batch in &self.batches {
            buf.extend_from_slice(&batch.bytes);
        }
        let buf = buf.freeze();
        let mut start = 0;
        let batches = self
            .batches
            .iter()
            .map(|b| {
                let end = start + b.bytes.len();
                // Same bytes, so the same checks hold.
                let copy = ValidBatch { header: b.header, bytes: buf.slice(start..end) };
                start = end;
                copy
            })
            .collect();
        ValidBatches { batches, byte_len: self.byte_len, record_count: self.record_count }
    }
}

impl IntoIterator for ValidBatches {
    type Item = ValidBatch;
    type IntoIter = std::vec::IntoIter<ValidBatch>;
    fn into_iter(self) -> Self::IntoIter {
        self.batches.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValidBatches {
    type Item = &'a ValidBatch;
    type IntoIter = std::slice::Iter<'a, ValidBatch>;
    fn into_iter(self) -> Self::IntoIter {
        self.batches.iter()
    }
}

impl From<ValidBatch> for ValidBatches {
    fn from(batch: ValidBatch) -> Self {
        let (byte_len, record_count) = (batch.len(), u64::from(batch.record_count()));
        ValidBatches { batches: vec![batch], byte_len, record_count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::BatchBuilder;
    use crate::compression::Compression;
    use crate::header::{BatchHeader, CRC_START};
    use crate::reader::DecodedBatch;

    const MAX: usize = 1 << 20;

    fn batch(tag: u8, records: usize) -> Bytes {
        let mut b = BatchBuilder::new(Compression::None);
        for i in 0..records {
            b.push(Some(&[tag]), &[tag; 100], 1_000 + i as i64, &[]);
        }
        b.build().unwrap().freeze()
    }

    fn concat(parts: &[&[u8]]) -> Bytes {
        Bytes::from(parts.concat())
    }

    /// A batch whose CRC is right but whose body is not a record archive:
    /// framing passes, the records' check must not.
    fn garbage_body_with_good_crc() -> Bytes {
        let mut bytes = batch(1, 3).to_vec();
        // The archive's root (the records vector's pointer and length) is
        // at the end of the body: point it outside the buffer.
        let body_end = HEADER_LEN + BatchHeader::parse(&bytes).unwrap().body_length.get() as usize;
        bytes[body_end - 8..body_end].fill(0xFF);
        let crc = crate::header::compute_crc(&bytes);
        BatchHeader::parse_mut(&mut bytes).unwrap().crc.set(crc);
        Bytes::from(bytes)
    }

    #[test]
    fn carries_the_header_and_shares_the_bytes() {
        let (a, b) = (batch(1, 3), batch(2, 5));
        let both = concat(&[&a, &b]);
        let valid = ValidBatches::from_network(both.clone(), MAX).unwrap();
        assert_eq!((valid.len(), valid.byte_len(), valid.record_count()), (2, both.len(), 8));
        let got: Vec<_> = valid.iter().collect();
        assert_eq!(got[0].header(), StoredBatch::Native(BatchHeader::parse(&a).unwrap()));
        assert_eq!((got[0].record_count(), got[1].record_count()), (3, 5));
        assert_eq!(got[1].last_offset_delta(), 4);
        assert_eq!(got[1].max_timestamp(), 1_004);
        assert_eq!(&got[1].bytes()[..], &b[..]);
        // Slices of the input: validating copied nothing but headers.
        let range = both.as_ptr_range();
        assert!(got.iter().all(|v| range.contains(&v.bytes().as_ptr()) && range.contains(&v.rest().as_ptr())));
        assert_eq!(got[0].rest().as_ptr(), both[HEADER_LEN..].as_ptr());
    }

    #[test]
    fn stamped_header_changes_only_offset_and_epoch() {
        let bytes = batch(1, 3);
        let valid = ValidBatch::new(bytes.clone(), MAX).unwrap();
        let stamped = valid.stamped_header(42, 7).unwrap();
        let header = BatchHeader::parse(&stamped).unwrap();
        assert_eq!((stamped.len(), valid.header_len(), valid.padding_len()), (HEADER_LEN, HEADER_LEN, 0));
        assert_eq!((header.base_offset(), header.leader_epoch(), header.last_offset()), (42, 7, 44));
        let mut stored = stamped.to_vec();
        stored.extend_from_slice(&valid.rest());
        assert_eq!(stored[CRC_START..], bytes[CRC_START..], "everything under the CRC is untouched");
        let decoded = DecodedBatch::decode(&stored, MAX).unwrap();
        assert_eq!(decoded.records().map(|r| r.offset).collect::<Vec<_>>(), vec![42, 43, 44]);
    }

    #[test]
    fn bad_bytes_build_nothing() {
        let good = batch(1, 2);
        let mut bad_crc = good.to_vec();
        bad_crc[HEADER_LEN] ^= 1;
        let bad_crc = Bytes::from(bad_crc);
        for bytes in [bad_crc.clone(), good.slice(..good.len() - 16), good.slice(..HEADER_LEN - 1)] {
            assert!(ValidBatch::new(bytes.clone(), MAX).is_err());
            assert!(ValidBatches::new(bytes.clone(), MAX).is_err());
            assert!(ValidBatches::from_network(bytes, MAX).is_err());
        }
        assert!(matches!(ValidBatch::new(bad_crc, MAX), Err(BatchError::CrcMismatch { .. })));
        // One bad batch anywhere refuses them all.
        let mixed = concat(&[&good, &good[..good.len() - 1]]);
        assert!(ValidBatches::new(mixed, MAX).is_err());
        assert_eq!(ValidBatches::new(Bytes::new(), MAX).unwrap_err(), BatchError::NoBatches);
        assert_eq!(ValidBatches::from_batches(Vec::new()).unwrap_err(), BatchError::NoBatches);
        assert!(matches!(ValidBatch::new(good.clone(), HEADER_LEN), Err(BatchError::LengthOverMax { .. })));
    }

    #[test]
    fn one_batch_means_exactly_one() {
        let good = batch(1, 2);
        let two = concat(&[&good, &good]);
        assert_eq!(
            ValidBatch::new(two, MAX).unwrap_err(),
            BatchError::NotOneBatch { batch_length: good.len(), received: 2 * good.len() }
        );
    }

    #[test]
    fn network_constructors_check_the_records() {
        let bytes = garbage_body_with_good_crc();
        assert!(ValidBatch::new(bytes.clone(), MAX).is_ok(), "framing and CRC hold");
        assert!(ValidBatches::new(bytes.clone(), MAX).is_ok());
        assert!(ValidBatch::from_network(bytes.clone(), MAX).is_err());
        assert!(ValidBatches::from_network(concat(&[&batch(2, 1), &bytes]), MAX).is_err());
    }

    #[test]
    fn compacted_copies_into_one_buffer_of_its_own() {
        let big = concat(&[&batch(1, 2), &batch(2, 3), &[0u8; 4096]]);
        let valid = ValidBatches::new(big.slice(..big.len() - 4096), MAX).unwrap();
        let compact = valid.compacted();
        assert_eq!((compact.len(), compact.byte_len(), compact.record_count()), (2, valid.byte_len(), 5));
        let range = big.as_ptr_range();
        for (a, b) in valid.iter().zip(&compact) {
            assert_eq!((a.header(), &a.bytes()[..]), (b.header(), &b.bytes()[..]));
            assert!(!range.contains(&b.bytes().as_ptr()), "copied out of the big buffer");
        }
        let (first, second) = (compact.iter().next().unwrap(), compact.iter().nth(1).unwrap());
        assert_eq!(first.bytes().as_ptr_range().end, second.bytes().as_ptr(), "one buffer, back to back");
    }
}
