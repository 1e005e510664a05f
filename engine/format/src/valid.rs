//! [`ValidBatch`] and [`ValidBatches`]: batches that passed validation, as
//! types, so nothing downstream checks or parses them again.
//!
//! Only the checking constructors here build them. Holding one proves its
//! bytes are exactly one batch whose framing is sane and whose CRC matches
//! ([`crate::validate`]) and, if it came through a `from_network`
//! constructor, whose records agree with the header
//! ([`crate::validate_records`]). The header is copied out once, during that
//! check: the log assigning offsets, the active segment indexing and the
//! broker counting records all read that copy instead of the bytes.
//!
//! The bytes are kept as the `Bytes` they were checked in (for a produce
//! request, slices of the received frame): checking copies only the 80-byte
//! header.
//!
//! Lives on: the core that owns the partition the batches are for; its produce
//! handler or internal writer builds them and its log consumes them.

use bytes::{Bytes, BytesMut};

use crate::error::BatchError;
use crate::header::{BatchHeader, HEADER_LEN};
use crate::reader::validate_records;
use crate::validate;

/// One batch that passed [`crate::validate`] (and, if built by
/// [`ValidBatch::from_network`], [`crate::validate_records`]), with its
/// header as received.
///
/// Lives on: the core owning the partition (see the module docs).
#[derive(Debug, Clone)]
pub struct ValidBatch {
    header: BatchHeader,
    /// Exactly `header.batch_length()` bytes.
    bytes: Bytes,
}

impl ValidBatch {
    /// Framing + CRC of exactly one batch: enough for bytes this process
    /// built (`BatchBuilder`) or wrote. `bytes` must hold the batch and
    /// nothing more.
    pub fn new(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        let header = *validate(&bytes, max_batch_bytes)?;
        if header.batch_length() != bytes.len() {
            return Err(BatchError::NotOneBatch { batch_length: header.batch_length(), received: bytes.len() });
        }
        Ok(ValidBatch { header, bytes })
    }

    /// [`ValidBatch::new`] plus the records' checks: required for bytes from
    /// the network, which are read in place later.
    pub fn from_network(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        let batch = ValidBatch::new(bytes, max_batch_bytes)?;
        validate_records(&batch.bytes, &batch.header)?;
        Ok(batch)
    }

    /// The header as received (base offset and leader epoch as the sender
    /// left them).
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The header this batch is stored with once the log gives it
    /// `base_offset` under `leader_epoch`. Both fields are outside the CRC,
    /// so the batch stays valid.
    pub fn assigned_header(&self, base_offset: u64, leader_epoch: u32) -> BatchHeader {
        let mut header = self.header;
        header.base_offset.set(base_offset);
        header.leader_epoch.set(leader_epoch);
        header
    }

    /// Encoded size: header, body and padding.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a batch is at least its header. Here for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn record_count(&self) -> u32 {
        self.header.record_count()
    }

    pub fn last_offset_delta(&self) -> u32 {
        self.header.last_offset_delta()
    }

    pub fn max_timestamp(&self) -> i64 {
        self.header.max_timestamp()
    }

    /// The whole batch as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Everything after the header (body and padding), sharing the batch's
    /// memory.
    pub fn rest(&self) -> Bytes {
        self.bytes.slice(HEADER_LEN..)
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
    byte_len: usize,
    record_count: u64,
}

impl ValidBatches {
    /// Framing + CRC of every batch laid end to end in `bytes` (as a
    /// produce request carries them); the first bad one, a partial batch at
    /// the end, or no batch at all is an error.
    pub fn new(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        Self::split(bytes, max_batch_bytes, false)
    }

    /// [`ValidBatches::new`] plus every batch's records checked: required for
    /// bytes from the network.
    pub fn from_network(bytes: Bytes, max_batch_bytes: usize) -> Result<Self, BatchError> {
        Self::split(bytes, max_batch_bytes, true)
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

    fn split(bytes: Bytes, max_batch_bytes: usize, records: bool) -> Result<Self, BatchError> {
        let mut batches = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let rest = &bytes[start..];
            let header = *validate(rest, max_batch_bytes)?;
            let end = start + header.batch_length();
            let batch = ValidBatch { header, bytes: bytes.slice(start..end) };
            if records {
                validate_records(&batch.bytes, &batch.header)?;
            }
            batches.push(batch);
            start = end;
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

    /// Encoded bytes of all batches.
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
        let mut buf = BytesMut::with_capacity(self.byte_len);
        for batch in &self.batches {
            buf.extend_from_slice(&batch.bytes);
        }
        let buf = buf.freeze();
        let mut start = 0;
        let batches = self
            .batches
            .iter()
            .map(|b| {
                let end = start + b.len();
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
    use zerocopy::IntoBytes;

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
        assert_eq!(got[0].header(), BatchHeader::parse(&a).unwrap());
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
    fn assigned_header_changes_only_offset_and_epoch() {
        let bytes = batch(1, 3);
        let valid = ValidBatch::new(bytes.clone(), MAX).unwrap();
        let header = valid.assigned_header(42, 7);
        assert_eq!((header.base_offset(), header.leader_epoch(), header.last_offset()), (42, 7, 44));
        let mut stored = header.as_bytes().to_vec();
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
