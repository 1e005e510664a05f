//! The tail cache: recent batches kept in memory so consumers at the head of
//! the log are served without touching the disk.
//!
//! Bounded by bytes, except that a batch not yet written to its segment file
//! is never evicted (the file can't serve it yet). Batches are kept as the
//! `Bytes` the producer's request arrived in: caching costs no copy.
//!
//! Lives on: the core owning the partition.

use std::collections::VecDeque;

use bytes::Bytes;

struct Entry {
    base_offset: u64,
    next_offset: u64,
    /// Log byte sequence just past this batch (see `PartitionLog`).
    seq_end: u64,
    bytes: Bytes,
}

#[derive(Default)]
pub struct TailCache {
    entries: VecDeque<Entry>,
    bytes: usize,
}

impl TailCache {
    pub fn push(&mut self, base_offset: u64, next_offset: u64, seq_end: u64, bytes: Bytes) {
        debug_assert!(self.entries.back().is_none_or(|e| e.next_offset == base_offset));
        self.bytes += bytes.len();
        self.entries.push_back(Entry { base_offset, next_offset, seq_end, bytes });
    }

    /// Evicts the oldest batches while over `budget`, keeping any batch whose
    /// bytes are not yet written (`seq_end > written_seq`).
    pub fn evict(&mut self, budget: usize, written_seq: u64) {
        while self.bytes > budget {
            match self.entries.front() {
                Some(e) if e.seq_end <= written_seq => {
                    self.bytes -= e.bytes.len();
                    self.entries.pop_front();
                }
                _ => break,
            }
        }
    }

    /// First offset the cache can serve.
    pub fn start_offset(&self) -> Option<u64> {
        self.entries.front().map(|e| e.base_offset)
    }

    /// Batches from the one containing `offset`, up to `max_bytes` (at least
    /// one) and ending at or before `limit_offset`. None if the cache does not
    /// reach back to `offset`.
    pub fn read(&self, offset: u64, max_bytes: usize, limit_offset: u64) -> Option<Vec<Bytes>> {
        let start = self.start_offset()?;
        if offset < start {
            return None;
        }
        let first = self.entries.partition_point(|e| e.next_offset <= offset);
        let mut out = Vec::new();
        let mut total = 0usize;
        for e in self.entries.range(first..) {
            if e.next_offset > limit_offset || (!out.is_empty() && total + e.bytes.len() > max_bytes) {
                break;
            }
            total += e.bytes.len();
            out.push(e.bytes.clone());
        }
        Some(out)
    }

    /// Drops batches at or after `offset` (log truncation).
    pub fn truncate(&mut self, offset: u64) {
        while self.entries.back().is_some_and(|e| e.next_offset > offset) {
            let e = self.entries.pop_back().expect("checked non-empty");
            self.bytes -= e.bytes.len();
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_of(batches: &[(u64, u64)]) -> TailCache {
        let mut c = TailCache::default();
        for (i, (b, n)) in batches.iter().enumerate() {
            c.push(*b, *n, (i as u64 + 1) * 10, Bytes::from(vec![0u8; 10]));
        }
        c
    }

    #[test]
    fn reads_from_the_batch_containing_the_offset() {
        let c = cache_of(&[(0, 5), (5, 10), (10, 12)]);
        assert_eq!(c.read(7, 100, 12).map(|v| v.len()), Some(2));
        assert_eq!(c.read(0, 15, 12).map(|v| v.len()), Some(1));
        assert_eq!(c.read(12, 100, 12).map(|v| v.len()), Some(0));
        assert_eq!(c.read(0, 100, 10).map(|v| v.len()), Some(2), "stops at the limit offset");
    }

    #[test]
    fn never_evicts_unwritten_batches() {
        let mut c = cache_of(&[(0, 5), (5, 10), (10, 12)]);
        c.evict(0, 10);
        assert_eq!(c.start_offset(), Some(5));
        assert_eq!(c.bytes(), 20);
        assert!(c.read(3, 100, 12).is_none());
    }

    #[test]
    fn truncate_drops_the_batch_containing_the_offset() {
        let mut c = cache_of(&[(0, 5), (5, 10), (10, 12)]);
        c.truncate(7);
        assert_eq!(c.read(0, 100, 12).map(|v| v.len()), Some(1));
    }
}
