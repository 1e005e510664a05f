//! The leader-epoch cache (Kafka's leader-epoch-checkpoint, KIP-101/279):
//! which leader epoch each stretch of the log was written under, as a list
//! of `(epoch, start_offset)` entries strictly increasing in both, meaning
//! "epoch E's batches start at offset S and run to the next entry's start
//! (or the log end)". A follower asks its leader where its own latest epoch
//! ends there and truncates to that, instead of to a high watermark that can
//! lag and lose records, or keep ones the leader never had.
//!
//! This file is the in-memory list and its encoding; `epoch_file.rs` keeps
//! it on disk, `epochs.rs` ties it to the log's appends.
//!
//! Byte layout of the file (all integers little-endian):
//!
//! ```text
//! offset     size  field
//!  0          4    magic        b"CLEP"
//!  4          2    version      u16 = 1
//!  6          2    reserved     u16 = 0
//!  8          4    count        u32, number of entries (<= MAX_LEADER_EPOCH_ENTRIES)
//! 12          12n  entries      n x { epoch u32, start_offset u64 }, strictly
//!                               increasing in both fields
//! 12 + 12n    4    crc          u32, CRC-32 (IEEE) of every byte before it
//! ```
//!
//! The file is always exactly `16 + 12n` bytes; anything else is damage.
//!
//! Lives on: the core owning the partition, inside its log state.

use crate::limits::MAX_LEADER_EPOCH_ENTRIES;

/// "Epoch `epoch`'s batches start at `start_offset`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: u32,
    pub start_offset: u64,
}

pub(crate) const MAGIC: [u8; 4] = *b"CLEP";
pub(crate) const VERSION: u16 = 1;
/// Magic, version, reserved, count.
pub(crate) const PREAMBLE_LEN: usize = 12;
pub(crate) const ENTRY_LEN: usize = 12;
pub(crate) const CRC_LEN: usize = 4;

/// Bytes of a file of `entries` entries.
pub(crate) const fn file_len(entries: usize) -> usize {
    PREAMBLE_LEN + entries * ENTRY_LEN + CRC_LEN
}

/// The cache itself. Invariant: entries strictly increasing in epoch and in
/// start offset (checked when decoded, kept by every change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeaderEpochs {
    entries: Vec<EpochEntry>,
}

impl LeaderEpochs {
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    pub fn latest_epoch(&self) -> Option<u32> {
        self.latest().map(|e| e.epoch)
    }

    /// Whether one more entry would exceed [`MAX_LEADER_EPOCH_ENTRIES`].
    pub fn is_full(&self) -> bool {
        self.entries.len() >= MAX_LEADER_EPOCH_ENTRIES
    }

    /// Records that `epoch` starts at `start_offset`. An entry at the same
    /// start (an epoch that never got a batch) is replaced: the list stays
    /// strictly increasing. Callers only move forward: `epoch` above the
    /// latest, `start_offset` at or past its start.
    pub fn assign(&mut self, epoch: u32, start_offset: u64) {
        debug_assert!(self.latest().is_none_or(|l| epoch > l.epoch && start_offset >= l.start_offset));
        debug_assert!(!self.is_full(), "callers check is_full first");
        while self.latest().is_some_and(|l| l.epoch >= epoch || l.start_offset >= start_offset) {
            self.entries.pop();
        }
        self.entries.push(EpochEntry { epoch, start_offset });
    }

    /// Kafka's truncateFromEnd: the log now ends at `end`, so epochs that
    /// start at or after it have no batch left. Returns whether any went.
    pub fn truncate_from_end(&mut self, end: u64) -> bool {
        let keep = self.entries.partition_point(|e| e.start_offset < end);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    /// Kafka's truncateFromStart: the log now starts at `start`, so the
    /// entry covering it starts there and earlier ones go. Returns whether
    /// anything changed.
    pub fn truncate_from_start(&mut self, start: u64) -> bool {
        let covering = self.entries.partition_point(|e| e.start_offset <= start);
        let Some(first) = covering.checked_sub(1) else { return false };
        let changed = first > 0 || self.entries[first].start_offset != start;
        self.entries.drain(..first);
        self.entries[0].start_offset = start;
        changed
    }

    /// Kafka's OffsetsForLeaderEpoch answer (`LeaderEpochFileCache.endOffsetFor`)
    /// for `requested` on a log ending at `log_end`:
    /// - `requested` is the latest epoch: `(requested, log_end)`;
    /// - otherwise the largest cached epoch at or below `requested`, ending
    ///   where the first epoch above `requested` starts;
    /// - `requested` below every cached epoch (their start was deleted by
    ///   retention): `(requested, first entry's start)`, so the follower
    ///   replicates from the leader's log start;
    /// - `requested` above every cached epoch, or nothing cached: None
    ///   (Kafka's UNDEFINED_EPOCH_OFFSET).
    pub fn end_offset_for(&self, requested: u32, log_end: u64) -> Option<(u32, u64)> {
        let latest = self.latest()?;
        if requested == latest.epoch {
            return Some((requested, log_end));
        }
        let higher = self.entries.partition_point(|e| e.epoch <= requested);
        let next = self.entries.get(higher)?;
        let epoch = higher.checked_sub(1).map_or(requested, |floor| self.entries[floor].epoch);
        Some((epoch, next.start_offset))
    }

    /// The file's bytes (layout in the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(file_len(self.entries.len()));
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            out.extend_from_slice(&e.epoch.to_le_bytes());
            out.extend_from_slice(&e.start_offset.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        debug_assert_eq!(out.len(), file_len(self.entries.len()));
        out
    }

    /// Parses a file's bytes; any deviation from the layout is an error
    /// saying what is wrong (the caller names the file).
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < file_len(0) {
            return Err(format!("{} bytes, shorter than the {}-byte minimum", bytes.len(), file_len(0)));
        }
        let (body, crc) = bytes.split_at(bytes.len() - CRC_LEN);
        let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        let actual = crc32fast::hash(body);
        if stored != actual {
            return Err(format!("crc mismatch: file says {stored:#010x}, bytes hash to {actual:#010x}"));
        }
        if body[0..4] != MAGIC {
            return Err(format!("bad magic {:02x?}", &body[0..4]));
        }
        let version = u16::from_le_bytes([body[4], body[5]]);
        if version != VERSION {
            return Err(format!("unknown version {version}"));
        }
        let reserved = u16::from_le_bytes([body[6], body[7]]);
        if reserved != 0 {
            return Err(format!("reserved field is {reserved:#06x}, must be zero"));
        }
        let count = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes")) as usize;
        if count > MAX_LEADER_EPOCH_ENTRIES {
            return Err(format!("{count} entries, the limit is {MAX_LEADER_EPOCH_ENTRIES}"));
        }
        if bytes.len() != file_len(count) {
            return Err(format!("{count} entries need {} bytes, the file has {}", file_len(count), bytes.len()));
        }
        let mut entries: Vec<EpochEntry> = Vec::with_capacity(count);
        for raw in body[PREAMBLE_LEN..].chunks_exact(ENTRY_LEN) {
            let epoch = u32::from_le_bytes(raw[0..4].try_into().expect("4 bytes"));
            let start_offset = u64::from_le_bytes(raw[4..12].try_into().expect("8 bytes"));
            if let Some(prev) = entries.last() {
                if epoch <= prev.epoch || start_offset <= prev.start_offset {
                    return Err(format!(
                        "entry (epoch {epoch}, start {start_offset}) does not follow (epoch {}, start {})",
                        prev.epoch, prev.start_offset
                    ));
                }
            }
            entries.push(EpochEntry { epoch, start_offset });
        }
        Ok(LeaderEpochs { entries })
    }

    /// Rebuilding the cache from a log's batches, fed their `(epoch,
    /// base_offset)` in log order: an entry wherever the epoch rises. A
    /// batch whose epoch is below the one before it (damage the reads
    /// refuse) starts nothing.
    pub fn observe_batch(&mut self, epoch: u32, base_offset: u64) {
        if self.latest_epoch().is_none_or(|latest| epoch > latest) && !self.is_full() {
            self.assign(epoch, base_offset);
        }
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(u32, u64)]) -> Self {
        let mut epochs = LeaderEpochs::default();
        for &(epoch, start_offset) in pairs {
            epochs.assign(epoch, start_offset);
        }
        epochs
    }

    #[cfg(test)]
    fn pairs(&self) -> Vec<(u32, u64)> {
        self.entries.iter().map(|e| (e.epoch, e.start_offset)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let epochs = LeaderEpochs::from_pairs(&[(1, 0), (3, 0x0102_0304_0506)]);
        let bytes = epochs.encode();
        let mut want = Vec::new();
        want.extend_from_slice(b"CLEP");
        want.extend_from_slice(&[1, 0, 0, 0]); // version 1, reserved
        want.extend_from_slice(&[2, 0, 0, 0]); // two entries
        want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // (1, 0)
        want.extend_from_slice(&[3, 0, 0, 0, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0, 0]); // (3, 0x010203040506)
        let crc = crc32fast::hash(&want);
        want.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, want);
        assert_eq!(bytes.len(), file_len(2));
        // The CRC pinned as a number, so a change of algorithm shows.
        assert_eq!(&bytes[36..], &[148, 47, 7, 84], "CRC-32 (IEEE) as Python's zlib.crc32 computes it");
        assert_eq!(LeaderEpochs::default().encode().len(), 16);
    }

    #[test]
    fn round_trip() {
        for pairs in [vec![], vec![(0, 0)], vec![(1, 0), (2, 50), (7, 51), (u32::MAX, u64::MAX)]] {
            let epochs = LeaderEpochs::from_pairs(&pairs);
            assert_eq!(LeaderEpochs::decode(&epochs.encode()).unwrap(), epochs);
            assert_eq!(epochs.pairs(), pairs);
        }
    }

    #[test]
    fn damaged_bytes_are_refused_with_a_reason() {
        let good = LeaderEpochs::from_pairs(&[(1, 0), (2, 50)]).encode();
        let reencode = |mut body: Vec<u8>| {
            body.truncate(body.len() - CRC_LEN);
            let crc = crc32fast::hash(&body);
            body.extend_from_slice(&crc.to_le_bytes());
            body
        };
        let mut flipped = good.clone();
        flipped[20] ^= 1;
        assert!(LeaderEpochs::decode(&flipped).unwrap_err().contains("crc mismatch"));
        assert!(LeaderEpochs::decode(&good[..10]).unwrap_err().contains("shorter"));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(LeaderEpochs::decode(&reencode(magic)).unwrap_err().contains("magic"));
        let mut version = good.clone();
        version[4] = 2;
        assert!(LeaderEpochs::decode(&reencode(version)).unwrap_err().contains("version"));
        let mut reserved = good.clone();
        reserved[7] = 1;
        assert!(LeaderEpochs::decode(&reencode(reserved)).unwrap_err().contains("reserved"));
        let mut count = good.clone();
        count[8] = 3;
        assert!(LeaderEpochs::decode(&reencode(count)).unwrap_err().contains("need"));
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LeaderEpochs::decode(&reencode(huge)).unwrap_err().contains("limit"));
        // Entries out of order: (2, 50) then (1, 0).
        let mut order = good.clone();
        let (a, b) = (order[12..24].to_vec(), order[24..36].to_vec());
        order[12..24].copy_from_slice(&b);
        order[24..36].copy_from_slice(&a);
        assert!(LeaderEpochs::decode(&reencode(order)).unwrap_err().contains("does not follow"));
    }

    #[test]
    fn assign_replaces_an_epoch_that_got_no_batch() {
        let mut epochs = LeaderEpochs::from_pairs(&[(1, 0)]);
        epochs.assign(2, 10);
        epochs.assign(3, 10);
        assert_eq!(epochs.pairs(), vec![(1, 0), (3, 10)]);
    }

    #[test]
    fn truncate_from_end_drops_epochs_starting_at_or_past_the_end() {
        let mut epochs = LeaderEpochs::from_pairs(&[(1, 0), (2, 50), (4, 80)]);
        assert!(!epochs.truncate_from_end(81));
        assert!(epochs.truncate_from_end(80));
        assert_eq!(epochs.pairs(), vec![(1, 0), (2, 50)]);
        assert!(epochs.truncate_from_end(30));
        assert_eq!(epochs.pairs(), vec![(1, 0)]);
        assert!(epochs.truncate_from_end(0));
        assert!(epochs.entries().is_empty());
    }

    #[test]
    fn truncate_from_start_clamps_the_covering_entry() {
        let mut epochs = LeaderEpochs::from_pairs(&[(1, 0), (2, 50), (4, 80)]);
        assert!(!epochs.truncate_from_start(0));
        assert!(epochs.truncate_from_start(60));
        assert_eq!(epochs.pairs(), vec![(2, 60), (4, 80)]);
        assert!(epochs.truncate_from_start(80));
        assert_eq!(epochs.pairs(), vec![(4, 80)]);
        assert!(!epochs.truncate_from_start(80));
        assert!(epochs.truncate_from_start(95));
        assert_eq!(epochs.pairs(), vec![(4, 95)]);
        let mut empty = LeaderEpochs::default();
        assert!(!empty.truncate_from_start(5));
    }

    #[test]
    fn end_offset_for_answers_as_kafka() {
        let epochs = LeaderEpochs::from_pairs(&[(1, 0), (3, 10), (5, 20)]);
        let end = 30;
        assert_eq!(epochs.end_offset_for(0, end), Some((0, 0)), "below the first: its start");
        assert_eq!(epochs.end_offset_for(1, end), Some((1, 10)));
        assert_eq!(epochs.end_offset_for(2, end), Some((1, 10)), "a gap: the epoch below, ending at the next");
        assert_eq!(epochs.end_offset_for(3, end), Some((3, 20)));
        assert_eq!(epochs.end_offset_for(4, end), Some((3, 20)));
        assert_eq!(epochs.end_offset_for(5, end), Some((5, 30)), "the latest ends at the log end");
        assert_eq!(epochs.end_offset_for(6, end), None, "above the latest: undefined");
        assert_eq!(LeaderEpochs::default().end_offset_for(0, end), None);
    }

    #[test]
    fn rebuild_starts_an_entry_where_the_epoch_rises() {
        let mut epochs = LeaderEpochs::default();
        for (epoch, base) in [(0, 0), (0, 5), (2, 9), (1, 12), (2, 14), (4, 20)] {
            epochs.observe_batch(epoch, base);
        }
        assert_eq!(epochs.pairs(), vec![(0, 0), (2, 9), (4, 20)]);
    }
}
