//! A batch as the log stores it, whichever format it is in: the view the
//! storage engine and the broker use, so they need not know both layouts.
//!
//! ```text
//!  Stored native batch (format in `header`; magic 1 at byte 16):
//!    [0, batch_length)             the batch; already a multiple of 16
//!
//!  Stored Kafka batch (format in `kafka::header`; magic 2 at byte 16):
//!    [0, 12 + batchLength)         the v2 batch exactly as received
//!    [12 + batchLength, stored)    zero padding; stored = the wire length
//!                                  rounded up to a multiple of BATCH_ALIGNMENT
//! ```
//!
//! Both formats have base offset at byte 0 and leader epoch at byte 12 (little-
//! endian native, big-endian Kafka) and their magic at byte 16, so a reader
//! tells them apart by that byte alone. The padding keeps every batch in a
//! segment 16-aligned (native bodies are read in place); it is outside the
//! Kafka CRC, so it must be zero and exactly as long as the rule says, or a
//! damaged stored length could hide bytes. A Kafka fetch sends the wire
//! bytes, without the padding.
//!
//! I/O-free; used on any core.

use crate::error::BatchError;
use crate::header::{BatchHeader, MAGIC};
use crate::kafka;
use crate::limits::BATCH_ALIGNMENT;

/// Offset of the magic byte in both formats.
pub const MAGIC_OFFSET: usize = 16;

const _: () = assert!(core::mem::offset_of!(BatchHeader, magic) == MAGIC_OFFSET);
const _: () = assert!(core::mem::offset_of!(kafka::BatchHeader, magic) == MAGIC_OFFSET);

/// Which format a stored batch is in.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    Native,
    Kafka,
}

/// Stored length of a Kafka batch of `wire_len` bytes: padded to BATCH_ALIGNMENT.
pub const fn kafka_stored_len(wire_len: usize) -> usize {
    wire_len.div_ceil(BATCH_ALIGNMENT) * BATCH_ALIGNMENT
}

/// The stored form of a Kafka batch: its bytes and the zero padding.
pub fn kafka_to_stored(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(kafka_stored_len(wire.len()));
    out.extend_from_slice(wire);
    out.resize(kafka_stored_len(wire.len()), 0);
    out
}

/// The header of the batch at the front of some stored bytes, checked by
/// [`StoredBatch::validate`].
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredBatch<'a> {
    Native(&'a BatchHeader),
    Kafka(&'a kafka::BatchHeader),
}

impl<'a> StoredBatch<'a> {
    /// Framing + CRC of the batch at the front of `bytes` (which may extend
    /// past it), in the format byte 16 names; for a Kafka batch also the
    /// padding. Never panics.
    pub fn validate(bytes: &'a [u8], max_batch_bytes: usize) -> Result<Self, BatchError> {
        match bytes.get(MAGIC_OFFSET) {
            None => Err(BatchError::TooShort { len: bytes.len() }),
            Some(&MAGIC) => crate::validate(bytes, max_batch_bytes).map(StoredBatch::Native),
            Some(&kafka::MAGIC) => {
                let header = kafka::validate(bytes, max_batch_bytes)?;
                let batch = StoredBatch::Kafka(header);
                let (wire, stored) = (batch.wire_len(), batch.stored_len());
                let padding =
                    bytes.get(wire..stored).ok_or(BatchError::Truncated { length: stored, available: bytes.len() })?;
                if let Some((i, &value)) = padding.iter().enumerate().find(|(_, b)| **b != 0) {
                    return Err(BatchError::NonZeroPadding { offset: wire + i, value });
                }
                Ok(batch)
            }
            Some(&found) => Err(BatchError::UnknownMagic { found }),
        }
    }

    /// The header at the front of `bytes` in the format byte 16 names,
    /// checking nothing but that a header's worth is there: for walking
    /// batches already validated, or for a first look at where a batch
    /// claims to end before reading it whole ([`StoredBatch::claimed_len`]).
    pub fn peek(bytes: &'a [u8]) -> Option<Self> {
        match *bytes.get(MAGIC_OFFSET)? {
            MAGIC => BatchHeader::parse(bytes).map(StoredBatch::Native),
            kafka::MAGIC => kafka::BatchHeader::parse(bytes).map(StoredBatch::Kafka),
            _ => None,
        }
    }

    /// The stored length an unchecked header ([`StoredBatch::peek`]) claims;
    /// None for a negative Kafka batchLength. Only a bound to read up to:
    /// [`StoredBatch::validate`] decides.
    pub fn claimed_len(&self) -> Option<usize> {
        match self {
            StoredBatch::Native(h) => Some(h.batch_length()),
            StoredBatch::Kafka(h) => h.wire_length().map(kafka_stored_len),
        }
    }

    /// Whether the fields the log stamps (outside the CRC) hold values the
    /// log can have stamped. A native batch's always do; a Kafka baseOffset
    /// or partitionLeaderEpoch below zero (which the accessors read as 0)
    /// is damage in a stored batch, since the log stamps both on append.
    pub fn stamped_fields_in_range(&self) -> bool {
        match self {
            StoredBatch::Native(_) => true,
            StoredBatch::Kafka(h) => h.base_offset() >= 0 && h.leader_epoch() >= 0,
        }
    }

    /// [`StoredBatch::validate`] plus the records' checks of the batch's format.
    pub fn validate_full(bytes: &'a [u8], max_batch_bytes: usize) -> Result<Self, BatchError> {
        let batch = Self::validate(bytes, max_batch_bytes)?;
        match batch {
            StoredBatch::Native(h) => crate::validate_records(bytes, h)?,
            StoredBatch::Kafka(h) => kafka::validate_records(bytes, h)?,
        }
        Ok(batch)
    }

    pub fn format(&self) -> BatchFormat {
        match self {
            StoredBatch::Native(_) => BatchFormat::Native,
            StoredBatch::Kafka(_) => BatchFormat::Kafka,
        }
    }

    /// Bytes the batch takes in the log, padding included: where the next
    /// batch starts.
    pub fn stored_len(&self) -> usize {
        match self {
            StoredBatch::Native(h) => h.batch_length(),
            StoredBatch::Kafka(_) => kafka_stored_len(self.wire_len()),
        }
    }

    /// Bytes of the batch as sent on the wire (Kafka: 12 + batchLength, no padding).
    pub fn wire_len(&self) -> usize {
        match self {
            StoredBatch::Native(h) => h.batch_length(),
            // `validate` proved batchLength non-negative.
            StoredBatch::Kafka(h) => h.wire_length().unwrap_or(0),
        }
    }

    /// A Kafka baseOffset below zero (never assigned by the log) reads as 0.
    pub fn base_offset(&self) -> u64 {
        match self {
            StoredBatch::Native(h) => h.base_offset(),
            StoredBatch::Kafka(h) => u64::try_from(h.base_offset()).unwrap_or(0),
        }
    }

    pub fn last_offset(&self) -> u64 {
        match self {
            StoredBatch::Native(h) => h.last_offset(),
            // Kafka offsets are i64: saturates at i64::MAX, as Kafka's own.
            StoredBatch::Kafka(h) => u64::try_from(h.last_offset()).unwrap_or(0),
        }
    }

    /// Offset of the last record minus the base offset. A Kafka
    /// lastOffsetDelta below zero (refused by `validate`) reads as 0.
    pub fn last_offset_delta(&self) -> u32 {
        match self {
            StoredBatch::Native(h) => h.last_offset_delta(),
            StoredBatch::Kafka(h) => u32::try_from(h.last_offset_delta()).unwrap_or(0),
        }
    }

    /// Offset the next batch after this one gets.
    pub fn next_offset(&self) -> u64 {
        self.last_offset().saturating_add(1)
    }

    /// A Kafka partitionLeaderEpoch below zero (-1, a producer's "none")
    /// reads as 0.
    pub fn leader_epoch(&self) -> u32 {
        match self {
            StoredBatch::Native(h) => h.leader_epoch(),
            StoredBatch::Kafka(h) => u32::try_from(h.leader_epoch()).unwrap_or(0),
        }
    }

    pub fn record_count(&self) -> u32 {
        match self {
            StoredBatch::Native(h) => h.record_count(),
            // `validate` proved it in 1 ..= MAX_RECORDS_PER_BATCH.
            StoredBatch::Kafka(h) => h.record_count().max(0) as u32,
        }
    }

    pub fn max_timestamp(&self) -> i64 {
        match self {
            StoredBatch::Native(h) => h.max_timestamp(),
            StoredBatch::Kafka(h) => h.max_timestamp(),
        }
    }

    pub fn producer_id(&self) -> i64 {
        match self {
            StoredBatch::Native(h) => h.producer_id.get(),
            StoredBatch::Kafka(h) => h.producer_id(),
        }
    }

    pub fn producer_epoch(&self) -> i16 {
        match self {
            StoredBatch::Native(h) => h.producer_epoch.get(),
            StoredBatch::Kafka(h) => h.producer_epoch(),
        }
    }

    pub fn base_sequence(&self) -> i32 {
        match self {
            StoredBatch::Native(h) => h.base_sequence.get(),
            StoredBatch::Kafka(h) => h.base_sequence(),
        }
    }
}

/// The header of a stored batch whose log-assigned fields (base offset,
/// leader epoch; in neither format under the CRC) can be set in place.
///
/// Lives on: the core that owns the partition, while it appends.
#[derive(Debug)]
pub enum StoredBatchMut<'a> {
    Native(&'a mut BatchHeader),
    Kafka(&'a mut kafka::BatchHeader),
}

impl<'a> StoredBatchMut<'a> {
    /// Recognises the format by byte 16 and checks a header's worth of bytes
    /// is there (callers have validated the batch).
    pub fn new(bytes: &'a mut [u8]) -> Result<Self, BatchError> {
        let len = bytes.len();
        match bytes.get(MAGIC_OFFSET) {
            Some(&MAGIC) => BatchHeader::parse_mut(bytes).map(Self::Native).ok_or(BatchError::TooShort { len }),
            Some(&kafka::MAGIC) => {
                kafka::BatchHeader::parse_mut(bytes).map(Self::Kafka).ok_or(BatchError::KafkaTooShort { len })
            }
            Some(&found) => Err(BatchError::UnknownMagic { found }),
            None => Err(BatchError::TooShort { len }),
        }
    }

    pub fn format(&self) -> BatchFormat {
        match self {
            StoredBatchMut::Native(_) => BatchFormat::Native,
            StoredBatchMut::Kafka(_) => BatchFormat::Kafka,
        }
    }

    /// Kafka's baseOffset is an i64: an offset past i64::MAX is refused.
    pub fn set_base_offset(&mut self, base_offset: u64) -> Result<(), BatchError> {
        match self {
            StoredBatchMut::Native(h) => h.base_offset.set(base_offset),
            StoredBatchMut::Kafka(h) => h.set_base_offset(
                i64::try_from(base_offset)
                    .map_err(|_| BatchError::FieldOutOfRange { field: "base offset", value: base_offset })?,
            ),
        }
        Ok(())
    }

    /// Kafka's partitionLeaderEpoch is an i32: an epoch past i32::MAX is refused.
    pub fn set_leader_epoch(&mut self, epoch: u32) -> Result<(), BatchError> {
        match self {
            StoredBatchMut::Native(h) => h.leader_epoch.set(epoch),
            StoredBatchMut::Kafka(h) => h.set_leader_epoch(
                i32::try_from(epoch)
                    .map_err(|_| BatchError::FieldOutOfRange { field: "leader epoch", value: u64::from(epoch) })?,
            ),
        }
        Ok(())
    }
}

/// Iterates the stored batches laid end to end in `bytes` (a segment or a
/// read of one), each checked with [`StoredBatch::validate`], with its
/// stored bytes (padding included). Stops after yielding the first error.
pub fn iter_stored(
    bytes: &[u8],
    max_batch_bytes: usize,
) -> impl Iterator<Item = Result<(StoredBatch<'_>, &[u8]), BatchError>> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let cur = rest.take().filter(|b| !b.is_empty())?;
        let result = StoredBatch::validate(cur, max_batch_bytes).and_then(|batch| {
            let (this, tail) = cur
                .split_at_checked(batch.stored_len())
                .ok_or(BatchError::Truncated { length: batch.stored_len(), available: cur.len() })?;
            rest = Some(tail);
            Ok((batch, this))
        });
        Some(result)
    })
}
