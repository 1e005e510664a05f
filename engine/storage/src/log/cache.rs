//! The tail cache: recent batches kept in memory so consumers at the head of
//! the log are served without touching the disk.
//!
//! Bounded by bytes, except that a batch not yet written to its segment file
//! is never evicted (the file can't serve it yet). A batch is kept as the
//! `Bytes` it was appended from (for a produce request, a slice of the
//! received frame) plus a copy of its header as the log stamped it (base
//! offset, leader epoch; 80 bytes native, 61 Kafka): caching copies only the
//! header, and a read returns the pieces to be sent one after the other: the
//! header, the rest, and for a Kafka batch its stored zero padding (static
//! zeros, so the pieces are exactly the stored bytes).
//!
//! Lives on: the core owning the partition.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::segment::active::STORED_PADDING;

/// One batch read from the cache: `header`, `rest` and `padding` are the
/// batch's bytes as stored, to be sent one after the other.
///
/// Lives on: the core owning the partition.
#[derive(Clone)]
pub struct CachedBatch {
    /// The stored header (base offset and leader epoch assigned).
    pub header: Bytes,
    /// The rest of the batch as appended (a native batch's padding
    /// included), sharing the appended bytes' memory.
    pub rest: Bytes,
    /// A Kafka batch's stored padding (static zeros); empty for a native one.
    pub padding: Bytes,
}

impl CachedBatch {
    /// Stored size of the batch.
    pub fn len(&self) -> usize {
        self.header.len() + self.rest.len() + self.padding.len()
    }

    /// The non-empty pieces, in order: what a sender sends.
    pub fn into_pieces(self) -> impl Iterator<Item = Bytes> {
        [self.header, self.rest, self.padding].into_iter().filter(|piece| !piece.is_empty())
    }

    /// Always false for a batch the log appended. Here for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Entry {
    base_offset: u64,
    next_offset: u64,
    /// Log byte sequence just past this batch (see `PartitionLog`).
    seq_end: u64,
    /// The stored header, replacing the first `header.len()` bytes of `batch`.
    header: Bytes,
    /// The batch as appended (its own header as the producer sent it).
    batch: Bytes,
    /// Zeros stored after `batch` (a Kafka batch's padding).
    padding: usize,
}

impl Entry {
    /// Stored size.
    fn len(&self) -> usize {
        self.batch.len() + self.padding
    }

    /// Memory the entry keeps alive, as counted against the budget: the
    /// appended batch whole (serving its rest keeps its first bytes too) and
    /// the header copy.
    fn held_bytes(&self) -> usize {
        self.header.len() + self.batch.len()
    }
}

#[derive(Default)]
pub struct TailCache {
    entries: VecDeque<Entry>,
    bytes: usize,
}

impl TailCache {
    /// Keeps `batch` (as appended) to be served with `header` (as stored)
    /// in place of its first `header.len()` bytes, and `padding` zeros after.
    pub fn push(
        &mut self,
        base_offset: u64,
        next_offset: u64,
        seq_end: u64,
        header: Bytes,
        batch: Bytes,
        padding: usize,
    ) {
        debug_assert!(self.entries.back().is_none_or(|e| e.next_offset == base_offset));
        debug_assert!(header.len() <= batch.len());
        debug_assert!(padding <= STORED_PADDING.len());
        let entry = Entry { base_offset, next_offset, seq_end, header, batch, padding };
        self.bytes += entry.held_bytes();
        self.entries.push_back(entry);
    }

    /// Evicts the oldest batches while over `budget`, keeping any batch whose
    /// bytes are not yet written (`seq_end > written_seq`).
    pub fn evict(&mut self, budget: usize, written_seq: u64) {
        while self.bytes > budget {
            match self.entries.front() {
                Some(e) if e.seq_end <= written_seq => {
                    self.bytes -= e.held_bytes();
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
    pub fn read(&self, offset: u64, max_bytes: usize, limit_offset: u64) -> Option<Vec<CachedBatch>> {
        let start = self.start_offset()?;
        if offset < start {
            return None;
        }
        let first = self.entries.partition_point(|e| e.next_offset <= offset);
        let mut out = Vec::new();
        let mut total = 0usize;
        for e in self.entries.range(first..) {
            if e.next_offset > limit_offset || (!out.is_empty() && total + e.len() > max_bytes) {
                break;
            }
            total += e.len();
            out.push(CachedBatch {
                header: e.header.clone(),
                rest: e.batch.slice(e.header.len()..),
                padding: Bytes::from_static(&STORED_PADDING[..e.padding.min(STORED_PADDING.len())]),
            });
        }
        Some(out)
    }

    /// Drops batches at or after `offset` (log truncation).
    pub fn truncate(&mut self, offset: u64) {
        while self.entries.back().is_some_and(|e| e.next_offset > offset) {
            let e = self.entries.pop_back().expect("checked non-empty");
            self.bytes -= e.held_bytes();
        }
    }

    /// Memory held, as counted against the budget.
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
            c.push(*b, *n, (i as u64 + 1) * 10, Bytes::from(vec![1u8; 2]), Bytes::from(vec![0u8; 10]), 0);
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
        assert_eq!(c.bytes(), 24);
        assert!(c.read(3, 100, 12).is_none());
    }

    #[test]
    fn truncate_drops_the_batch_containing_the_offset() {
        let mut c = cache_of(&[(0, 5), (5, 10), (10, 12)]);
        c.truncate(7);
        assert_eq!(c.read(0, 100, 12).map(|v| v.len()), Some(1));
    }

    #[test]
    fn serves_the_stored_header_and_counts_what_it_holds() {
        let mut c = TailCache::default();
        let batch = Bytes::from_static(b"OLDrest-of-batch");
        c.push(0, 1, 10, Bytes::from_static(b"NEW"), batch.clone(), 0);
        c.push(1, 2, 20, Bytes::from_static(b"NEW"), batch.clone(), 0);
        assert_eq!(c.bytes(), 2 * (3 + batch.len()), "the batch whole plus the header copy");
        let got = c.read(0, 1, 2).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((&got[0].header[..], &got[0].rest[..]), (&b"NEW"[..], &b"rest-of-batch"[..]));
        assert_eq!(got[0].len(), batch.len());
        assert_eq!(got[0].rest.as_ptr(), batch[3..].as_ptr(), "served from the appended bytes");
        c.truncate(1);
        assert_eq!(c.bytes(), 3 + batch.len());
        c.evict(0, 10);
        assert_eq!((c.bytes(), c.start_offset()), (0, None));
    }

    #[test]
    fn serves_a_kafka_batch_with_its_padding() {
        let mut c = TailCache::default();
        let batch = Bytes::from_static(b"OLDkafka-records");
        c.push(0, 3, 10, Bytes::from_static(b"NEW"), batch.clone(), 5);
        let got = c.read(0, 1, 3).unwrap().pop().unwrap();
        assert_eq!((&got.rest[..], &got.padding[..]), (&b"kafka-records"[..], &[0u8; 5][..]));
        assert_eq!(got.len(), batch.len() + 5, "the stored length");
        let pieces: Vec<u8> = got.clone().into_pieces().flat_map(|p| p.to_vec()).collect();
        assert_eq!(pieces, b"NEWkafka-records\0\0\0\0\0");
        assert_eq!(c.bytes(), 3 + batch.len(), "the padding is static");
        let native = CachedBatch { padding: Bytes::new(), ..got };
        assert_eq!(native.into_pieces().count(), 2, "no empty piece to send");
    }
}
