//! Sparse time index: running max timestamp -> batch position.
//!
//! ```text
//!  entry (16 bytes, little-endian)
//!   0  8  max_timestamp   i64   largest timestamp in this segment up to and
//!                               including the batch at `position`
//!   8  4  relative_offset u32   that batch's base offset - segment base offset
//!  12  4  position        u32   byte position of that batch
//! ```
//!
//! An entry is added (at the index interval) only when the running max grows,
//! so entries are sorted by timestamp as well as by position.

use super::index_file::IndexEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub max_timestamp: i64,
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 16;
    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.max_timestamp.to_le_bytes());
        out[8..12].copy_from_slice(&self.relative_offset.to_le_bytes());
        out[12..16].copy_from_slice(&self.position.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[0..8]);
        TimeEntry {
            max_timestamp: i64::from_le_bytes(ts),
            relative_offset: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            position: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        }
    }
    fn position(&self) -> u32 {
        self.position
    }
}

/// Where to start scanning for the first batch with a timestamp >= `target`:
/// the last entry whose running max is still below `target` (every batch up to
/// it is older), else the segment start.
pub fn lookup_time(entries: &[TimeEntry], target: i64) -> TimeEntry {
    let at = entries.partition_point(|e| e.max_timestamp < target);
    if at == 0 {
        TimeEntry { max_timestamp: i64::MIN, relative_offset: 0, position: 0 }
    } else {
        entries[at - 1]
    }
}
