//! The fixed record-batch header: on disk exactly as on the wire.
//!
//! ```text
//!  byte  size  field               notes
//!  ----  ----  ------------------  ------------------------------------------------
//!     0     8  base_offset   u64   offset of the first record; written by the log on
//!                                  append, so NOT covered by the CRC
//!     8     4  batch_length  u32   bytes of the whole batch: header + body + padding
//!    12     4  leader_epoch  u32   epoch of the leader that appended it; written by
//!                                  the log, NOT covered by the CRC
//!    16     1  magic         u8    format version, currently 1
//!    17     3  reserved            zero
//!    20     4  crc           u32   crc32 (IEEE, crc32fast) of bytes [24, batch_length)
//!  ---- everything below is covered by the CRC ----------------------------------
//!    24     2  attributes    u16   bits 0..2 compression (0 none, 1 lz4, 2 zstd),
//!                                  bit 3 timestamp type (0 create, 1 log-append)
//!    26     2  reserved            zero
//!    28     4  last_offset_delta u32  offset of the last record - base_offset
//!    32     8  first_timestamp i64 ms since the epoch
//!    40     8  max_timestamp   i64 ms since the epoch
//!    48     8  producer_id     i64 -1 when not idempotent
//!    56     2  producer_epoch  i16 -1 when not idempotent
//!    58     2  reserved            zero
//!    60     4  base_sequence   i32 -1 when not idempotent
//!    64     4  record_count    u32
//!    68     4  body_length     u32 stored (possibly compressed) body bytes
//!    72     4  uncompressed_length u32 body bytes after decompression
//!    76     4  reserved            zero
//!    80     .  body               rkyv archive of Vec<Record>, possibly compressed
//!     .     .  padding            zero bytes up to a multiple of BATCH_ALIGNMENT
//! ```
//!
//! All integers are little-endian. The header is 80 bytes (a multiple of 16), and
//! every batch is padded to a multiple of 16, so in a block-aligned buffer every
//! body starts 16-aligned and can be accessed in place with rkyv.

use zerocopy::little_endian::{I16, I32, I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::limits::BATCH_ALIGNMENT;

/// Current (and only) batch format version.
pub const MAGIC: u8 = 1;
/// Size of [`BatchHeader`] in bytes.
pub const HEADER_LEN: usize = 80;
/// First byte covered by the CRC: everything after the CRC field.
pub const CRC_START: usize = 24;

/// Compression bits in `attributes`.
pub const ATTR_COMPRESSION_MASK: u16 = 0b0111;
/// Timestamp-type bit in `attributes` (set = log-append time).
pub const ATTR_LOG_APPEND_TIME: u16 = 0b1000;
/// Attribute bits this version defines; any other bit set is a bad batch.
pub const ATTR_KNOWN_BITS: u16 = ATTR_COMPRESSION_MASK | ATTR_LOG_APPEND_TIME;

/// The fixed 80-byte header at the front of every batch (layout above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct BatchHeader {
    pub base_offset: U64,
    pub batch_length: U32,
    pub leader_epoch: U32,
    pub magic: u8,
    pub reserved0: [u8; 3],
    pub crc: U32,
    pub attributes: U16,
    pub reserved1: [u8; 2],
    pub last_offset_delta: U32,
    pub first_timestamp: I64,
    pub max_timestamp: I64,
    pub producer_id: I64,
    pub producer_epoch: I16,
    pub reserved2: [u8; 2],
    pub base_sequence: I32,
    pub record_count: U32,
    pub body_length: U32,
    pub uncompressed_length: U32,
    pub reserved3: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<BatchHeader>() == HEADER_LEN);
// `is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.85.
#[allow(clippy::manual_is_multiple_of)]
const _: () = assert!(HEADER_LEN % BATCH_ALIGNMENT == 0);

impl BatchHeader {
    /// Reads a header from the front of `bytes` without checking anything but
    /// length; callers validate with [`crate::validate`].
    pub fn parse(bytes: &[u8]) -> Option<&BatchHeader> {
        BatchHeader::ref_from_prefix(bytes).ok().map(|(h, _)| h)
    }

    pub fn parse_mut(bytes: &mut [u8]) -> Option<&mut BatchHeader> {
        BatchHeader::mut_from_prefix(bytes).ok().map(|(h, _)| h)
    }

    pub fn base_offset(&self) -> u64 {
        self.base_offset.get()
    }
    pub fn batch_length(&self) -> usize {
        self.batch_length.get() as usize
    }
    pub fn last_offset_delta(&self) -> u32 {
        self.last_offset_delta.get()
    }
    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> u64 {
        // Saturating: base_offset is not under the CRC, so a damaged one must
        // not overflow (the offset-continuity checks reject it instead).
        self.base_offset.get().saturating_add(u64::from(self.last_offset_delta.get()))
    }
    /// Offset the next batch after this one gets.
    pub fn next_offset(&self) -> u64 {
        self.last_offset().saturating_add(1)
    }
    pub fn record_count(&self) -> u32 {
        self.record_count.get()
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.get()
    }
    pub fn first_timestamp(&self) -> i64 {
        self.first_timestamp.get()
    }
    pub fn leader_epoch(&self) -> u32 {
        self.leader_epoch.get()
    }
}

/// Total encoded size of a batch whose body is `body_len` bytes.
pub const fn padded_batch_len(body_len: usize) -> usize {
    (HEADER_LEN + body_len).div_ceil(BATCH_ALIGNMENT) * BATCH_ALIGNMENT
}

/// CRC of a whole encoded batch, computed as the header's `crc` field defines.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32fast::hash(&batch[CRC_START..])
}

/// Rewrites the idempotent-producer fields of the encoded native batch
/// `batch` (exactly one batch, `batch_length` bytes) and its CRC, which
/// covers them: a producer that must resend a batch under a new producer
/// id or restarted sequences does so without encoding its records again.
/// False (nothing changed) if `batch` is not one whole native batch.
pub fn restamp_producer(batch: &mut [u8], producer_id: i64, producer_epoch: i16, base_sequence: i32) -> bool {
    let len = batch.len();
    let Some(header) = BatchHeader::parse_mut(batch) else { return false };
    if header.magic != MAGIC || header.batch_length() != len {
        return false;
    }
    header.producer_id.set(producer_id);
    header.producer_epoch.set(producer_epoch);
    header.base_sequence.set(base_sequence);
    let crc = compute_crc(batch);
    if let Some(header) = BatchHeader::parse_mut(batch) {
        header.crc.set(crc);
    }
    true
}
