//! The fixed header of a Kafka RecordBatch (magic 2), as Kafka's
//! `DefaultRecordBatch.java` defines it.
//!
//! ```text
//!  byte  size  field                  notes
//!  ----  ----  ---------------------  ---------------------------------------------
//!     0     8  baseOffset        i64  offset of the first record; assigned by the log
//!                                     on append, NOT covered by the CRC
//!     8     4  batchLength       i32  bytes after this field (so a batch's wire length
//!                                     is 12 + batchLength)
//!    12     4  partitionLeaderEpoch i32  assigned by the log, NOT covered by the CRC
//!    16     1  magic             i8   2 (the native format has 1 here)
//!    17     4  crc               u32  CRC-32C (Castagnoli) of bytes [21, 12 + batchLength)
//!  ---- everything below is covered by the CRC ----------------------------------
//!    21     2  attributes        i16  bits 0..2 codec (0 none, 1 gzip, 2 snappy, 3 lz4,
//!                                     4 zstd), bit 3 timestamp type (1 log-append),
//!                                     bit 4 transactional, bit 5 control, bit 6 delete
//!                                     horizon; bits 7..15 unused (zero)
//!    23     4  lastOffsetDelta   i32  offset of the last record - baseOffset
//!    27     8  baseTimestamp     i64  ms; record timestamps are deltas against it
//!    35     8  maxTimestamp      i64  ms; the batch's timestamp for log-append time
//!    43     8  producerId        i64  -1 when not idempotent
//!    51     2  producerEpoch     i16  -1 when not idempotent
//!    53     4  baseSequence      i32  -1 when not idempotent
//!    57     4  recordCount       i32
//!    61     .  records                [Record], compressed as one stream if the codec
//!                                     bits say so
//! ```
//!
//! All integers are big-endian. There is no padding and no alignment: the
//! header is 61 bytes, and a record is varint-framed (see `records`).

use zerocopy::big_endian::{I16, I32, I64, U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::limits::{KAFKA_HEADER_LEN, KAFKA_LOG_OVERHEAD};

/// The magic byte of RecordBatch v2.
pub const MAGIC: u8 = 2;
/// First byte covered by the CRC: the attributes.
pub const CRC_START: usize = 21;

/// Codec bits of `attributes`.
pub const ATTR_COMPRESSION_MASK: u16 = 0x07;
/// Timestamp-type bit (set = log-append time, the broker's clock).
pub const ATTR_LOG_APPEND_TIME: u16 = 0x08;
/// Part of a transaction (KIP-98).
pub const ATTR_TRANSACTIONAL: u16 = 0x10;
/// Holds a transaction marker, not data.
pub const ATTR_CONTROL: u16 = 0x20;
/// baseTimestamp is a log cleaner's delete horizon, not the first timestamp.
pub const ATTR_DELETE_HORIZON: u16 = 0x40;
/// Every attribute bit Kafka defines; any other set bit is a bad batch.
pub const ATTR_KNOWN_BITS: u16 =
    ATTR_COMPRESSION_MASK | ATTR_LOG_APPEND_TIME | ATTR_TRANSACTIONAL | ATTR_CONTROL | ATTR_DELETE_HORIZON;

/// The fixed 61-byte header at the front of a Kafka batch (layout above).
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BatchHeader {
    pub base_offset: I64,
    pub batch_length: I32,
    pub partition_leader_epoch: I32,
    pub magic: u8,
    pub crc: U32,
    /// Kafka declares it i16; only bits are read from it.
    pub attributes: U16,
    pub last_offset_delta: I32,
    pub base_timestamp: I64,
    pub max_timestamp: I64,
    pub producer_id: I64,
    pub producer_epoch: I16,
    pub base_sequence: I32,
    pub record_count: I32,
}

const _: () = assert!(core::mem::size_of::<BatchHeader>() == KAFKA_HEADER_LEN);
const _: () = assert!(core::mem::offset_of!(BatchHeader, magic) == 16);
const _: () = assert!(core::mem::offset_of!(BatchHeader, attributes) == CRC_START);
const _: () = assert!(core::mem::offset_of!(BatchHeader, partition_leader_epoch) == KAFKA_LOG_OVERHEAD);

impl BatchHeader {
    /// Reads a header from the front of `bytes`, checking nothing but length;
    /// callers validate with [`super::validate`].
    pub fn parse(bytes: &[u8]) -> Option<&BatchHeader> {
        BatchHeader::ref_from_prefix(bytes).ok().map(|(h, _)| h)
    }

    pub fn parse_mut(bytes: &mut [u8]) -> Option<&mut BatchHeader> {
        BatchHeader::mut_from_prefix(bytes).ok().map(|(h, _)| h)
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset.get()
    }

    /// Assigned by the log on append; outside the CRC, so the batch stays valid.
    pub fn set_base_offset(&mut self, base_offset: i64) {
        self.base_offset.set(base_offset);
    }

    pub fn leader_epoch(&self) -> i32 {
        self.partition_leader_epoch.get()
    }

    /// Assigned by the log on append; outside the CRC, so the batch stays valid.
    pub fn set_leader_epoch(&mut self, epoch: i32) {
        self.partition_leader_epoch.set(epoch);
    }

    /// Bytes of the whole batch as sent: 12 + batchLength. None for a
    /// negative batchLength.
    pub fn wire_length(&self) -> Option<usize> {
        usize::try_from(self.batch_length.get()).ok().map(|n| n + KAFKA_LOG_OVERHEAD)
    }

    pub fn attributes(&self) -> u16 {
        self.attributes.get()
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes() & ATTR_LOG_APPEND_TIME != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes() & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes() & ATTR_CONTROL != 0
    }

    pub fn has_delete_horizon(&self) -> bool {
        self.attributes() & ATTR_DELETE_HORIZON != 0
    }

    pub fn last_offset_delta(&self) -> i32 {
        self.last_offset_delta.get()
    }

    /// Offset of the last record. Saturating: baseOffset is not under the CRC,
    /// so a damaged one must not overflow.
    pub fn last_offset(&self) -> i64 {
        self.base_offset().saturating_add(i64::from(self.last_offset_delta()))
    }

    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp.get()
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.get()
    }

    pub fn producer_id(&self) -> i64 {
        self.producer_id.get()
    }

    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch.get()
    }

    pub fn base_sequence(&self) -> i32 {
        self.base_sequence.get()
    }

    pub fn record_count(&self) -> i32 {
        self.record_count.get()
    }
}

/// CRC-32C of a whole Kafka batch as its `crc` field defines it (bytes from
/// the attributes to the end). `batch` must be at least [`CRC_START`] long.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(CRC_START..).unwrap_or_default())
}
