//! Sparse offset index: relative offset -> byte position, one entry per
//! `INDEX_INTERVAL_BYTES` of log.
//!
//! ```text
//!  entry (8 bytes, little-endian)
//!  0  4  relative_offset u32   batch base offset - segment base offset
//!  4  4  position        u32   byte position of that batch in the segment
//! ```

use super::index_file::IndexEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.relative_offset.to_le_bytes());
        out[4..8].copy_from_slice(&self.position.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
    fn position(&self) -> u32 {
        self.position
    }
}

/// Batch boundary to start scanning from for `relative_offset`: the last
/// entry at or below it, else the segment start (relative offset 0, position 0).
pub fn lookup_offset(entries: &[OffsetEntry], relative_offset: u32) -> OffsetEntry {
    let at = entries.partition_point(|e| e.relative_offset <= relative_offset);
    if at == 0 {
        OffsetEntry { relative_offset: 0, position: 0 }
    } else {
        entries[at - 1]
    }
}
