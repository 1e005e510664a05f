//! The producer-state table of one partition and Kafka's sequence rules
//! (`ProducerStateManager` / `ProducerAppendInfo`):
//!
//! - a new producer, or a known one at a newer epoch, starts at sequence 0;
//! - at the same epoch a batch continues at the last sequence + 1 (wrapping
//!   from `i32::MAX` to 0); one matching any of the producer's last
//!   [`MAX_BATCHES_PER_PRODUCER`] batches is a duplicate (the client's
//!   in-flight batches, one of them retried), answered with its original
//!   offsets; anything else is `OutOfOrderSequence`;
//! - an older epoch is fenced (`InvalidProducerEpoch`);
//! - an unknown producer not at sequence 0 gets `UnknownProducerId` (its
//!   state was lost, e.g. expired): the client resets its sequences.
//!
//! The leader checks before appending and records after staging; followers
//! and recovery only record (the log already holds the batch). Memory is
//! bounded: past [`MAX_PRODUCERS_PER_PARTITION`] ids the least recently
//! written one is forgotten (a client cannot grow the table by inventing
//! producer ids).
//!
//! Lives on: the partition's core, beside its log.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::limits::{MAX_BATCHES_PER_PRODUCER, MAX_PRODUCERS_PER_PARTITION};

/// A batch's producer fields, as its header carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: u32,
}

impl ProducerBatch {
    /// Whether the batch takes part in idempotence (Kafka: producer id ≥ 0).
    pub fn is_idempotent(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence of the batch's last record (wrapping as Kafka does).
    pub fn last_sequence(&self) -> i32 {
        add_sequence(self.base_sequence, self.record_count.saturating_sub(1))
    }
}

/// One of a producer's recent batches and where the log holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSequence {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: u64,
    pub last_offset: u64,
}

/// What to do with a checked batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it (then [`ProducerStates::record`] it).
    Append,
    /// Already in the log at these offsets: answer with them, append nothing.
    Duplicate { first_offset: u64, last_offset: u64 },
}

/// Why a batch was refused (Kafka's error codes of the same names).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("producer {producer_id} has epoch {current}; a batch at epoch {epoch} is fenced")]
    InvalidProducerEpoch { producer_id: i64, epoch: i16, current: i16 },
    #[error("producer {producer_id} epoch {epoch}: expected sequence {expected}, got {got}")]
    OutOfOrderSequence { producer_id: i64, epoch: i16, expected: i32, got: i32 },
    #[error("producer {producer_id} is unknown here and its batch starts at sequence {got}, not 0")]
    UnknownProducerId { producer_id: i64, got: i32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProducerEntry {
    pub(super) epoch: i16,
    /// Oldest first; at most MAX_BATCHES_PER_PRODUCER.
    pub(super) batches: VecDeque<BatchSequence>,
    /// The write that last touched this entry (for eviction).
    pub(super) last_write: u64,
}

/// Every producer's recent batches in one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStates {
    pub(super) producers: HashMap<i64, ProducerEntry>,
    /// `last_write` → producer id, to evict the least recently written.
    by_write: BTreeMap<u64, i64>,
    writes: u64,
}

impl ProducerStates {
    /// Kafka's sequence rules for a batch about to be appended by a leader.
    /// Non-idempotent batches are always appended.
    pub fn check(&self, batch: &ProducerBatch) -> Result<SequenceCheck, SequenceError> {
        if !batch.is_idempotent() {
            return Ok(SequenceCheck::Append);
        }
        let (id, epoch, got) = (batch.producer_id, batch.producer_epoch, batch.base_sequence);
        let Some(entry) = self.producers.get(&id) else {
            return if got == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(SequenceError::UnknownProducerId { producer_id: id, got })
            };
        };
        if epoch < entry.epoch {
            return Err(SequenceError::InvalidProducerEpoch { producer_id: id, epoch, current: entry.epoch });
        }
        if epoch > entry.epoch {
            return if got == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(SequenceError::OutOfOrderSequence { producer_id: id, epoch, expected: 0, got })
            };
        }
        let last = batch.last_sequence();
        if let Some(dup) = entry.batches.iter().find(|b| b.first_sequence == got && b.last_sequence == last) {
            return Ok(SequenceCheck::Duplicate { first_offset: dup.first_offset, last_offset: dup.last_offset });
        }
        let expected = entry.batches.back().map_or(0, |b| add_sequence(b.last_sequence, 1));
        if got == expected {
            Ok(SequenceCheck::Append)
        } else {
            Err(SequenceError::OutOfOrderSequence { producer_id: id, epoch, expected, got })
        }
    }

    /// Records a batch the log now holds at `first_offset..=last_offset`
    /// (a leader's append, a follower's, or recovery replaying the log).
    /// Never refuses: the log is the truth. A newer epoch replaces the old
    /// one's batches.
    pub fn record(&mut self, batch: &ProducerBatch, first_offset: u64, last_offset: u64) {
        if !batch.is_idempotent() {
            return;
        }
        self.writes += 1;
        let write = self.writes;
        let entry = self.producers.entry(batch.producer_id).or_insert_with(|| ProducerEntry {
            epoch: batch.producer_epoch,
            batches: VecDeque::new(),
            last_write: 0,
        });
        if batch.producer_epoch != entry.epoch {
            entry.epoch = batch.producer_epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(BatchSequence {
            first_sequence: batch.base_sequence,
            last_sequence: batch.last_sequence(),
            first_offset,
            last_offset,
        });
        while entry.batches.len() > MAX_BATCHES_PER_PRODUCER {
            entry.batches.pop_front();
        }
        self.by_write.remove(&entry.last_write);
        entry.last_write = write;
        self.by_write.insert(write, batch.producer_id);
        while self.producers.len() > MAX_PRODUCERS_PER_PARTITION {
            let Some((_, oldest)) = self.by_write.pop_first() else { break };
            self.producers.remove(&oldest);
        }
        debug_assert_eq!(self.by_write.len(), self.producers.len());
    }

    /// The log was cut back to end at `end`: batches at or past it are
    /// forgotten, and producers left with none too (their next batch then
    /// starts over at sequence 0 or gets `UnknownProducerId`).
    pub fn truncate_to(&mut self, end: u64) {
        self.producers.retain(|_, entry| {
            entry.batches.retain(|b| b.last_offset < end);
            !entry.batches.is_empty()
        });
        let live = &self.producers;
        self.by_write.retain(|_, id| live.contains_key(id));
    }

    /// Producers known.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// A producer's epoch and recent batches (oldest first).
    pub fn producer(&self, producer_id: i64) -> Option<(i16, Vec<BatchSequence>)> {
        self.producers.get(&producer_id).map(|e| (e.epoch, e.batches.iter().copied().collect()))
    }

    /// Rebuilds the table from decoded snapshot entries, in their write order.
    pub(super) fn from_entries(entries: Vec<(i64, i16, Vec<BatchSequence>)>) -> Self {
        let mut states = ProducerStates::default();
        for (producer_id, epoch, batches) in entries {
            states.writes += 1;
            states.by_write.insert(states.writes, producer_id);
            let entry = ProducerEntry { epoch, batches: batches.into(), last_write: states.writes };
            states.producers.insert(producer_id, entry);
        }
        states
    }

    /// Entries oldest write first (the snapshot's order, so eviction order
    /// survives a restart).
    pub(super) fn entries_in_write_order(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.by_write.values().map(|id| (*id, &self.producers[id]))
    }
}

/// `sequence + n`, wrapping past `i32::MAX` to 0 as Kafka's
/// `DefaultRecordBatch.incrementSequence` does.
fn add_sequence(sequence: i32, n: u32) -> i32 {
    let sum = i64::from(sequence) + i64::from(n);
    (sum % (i64::from(i32::MAX) + 1)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, producer_epoch: i16, base_sequence: i32, record_count: u32) -> ProducerBatch {
        ProducerBatch { producer_id, producer_epoch, base_sequence, record_count }
    }

    #[test]
    fn a_producer_starts_at_zero_and_continues_where_it_left_off() {
        let mut s = ProducerStates::default();
        assert_eq!(s.check(&batch(7, 0, 0, 3)), Ok(SequenceCheck::Append));
        s.record(&batch(7, 0, 0, 3), 100, 102);
        assert_eq!(s.check(&batch(7, 0, 3, 2)), Ok(SequenceCheck::Append));
        s.record(&batch(7, 0, 3, 2), 103, 104);
        assert_eq!(
            s.check(&batch(7, 0, 6, 1)),
            Err(SequenceError::OutOfOrderSequence { producer_id: 7, epoch: 0, expected: 5, got: 6 })
        );
        assert_eq!(s.check(&batch(8, 0, 4, 1)), Err(SequenceError::UnknownProducerId { producer_id: 8, got: 4 }));
        assert_eq!(s.check(&batch(-1, -1, -1, 5)), Ok(SequenceCheck::Append), "not idempotent");
    }

    #[test]
    fn a_retried_batch_among_the_last_ones_remembered_is_a_duplicate_with_its_offsets() {
        let mut s = ProducerStates::default();
        let total = MAX_BATCHES_PER_PRODUCER as u64 + 2;
        for i in 0..total {
            s.record(&batch(7, 2, (i * 10) as i32, 10), i * 10, i * 10 + 9);
        }
        // Batches 2.. are remembered; 0 and 1 are gone.
        assert_eq!(s.check(&batch(7, 2, 20, 10)), Ok(SequenceCheck::Duplicate { first_offset: 20, last_offset: 29 }));
        let last = (total - 1) * 10;
        assert_eq!(
            s.check(&batch(7, 2, last as i32, 10)),
            Ok(SequenceCheck::Duplicate { first_offset: last, last_offset: last + 9 })
        );
        assert!(matches!(s.check(&batch(7, 2, 10, 10)), Err(SequenceError::OutOfOrderSequence { .. })));
        // Same first sequence, other length: not the same batch.
        assert!(matches!(s.check(&batch(7, 2, last as i32, 5)), Err(SequenceError::OutOfOrderSequence { .. })));
    }

    #[test]
    fn epochs_fence_older_producers_and_restart_sequences() {
        let mut s = ProducerStates::default();
        s.record(&batch(7, 3, 0, 5), 0, 4);
        assert_eq!(
            s.check(&batch(7, 2, 5, 1)),
            Err(SequenceError::InvalidProducerEpoch { producer_id: 7, epoch: 2, current: 3 })
        );
        assert_eq!(s.check(&batch(7, 4, 0, 1)), Ok(SequenceCheck::Append));
        assert!(matches!(s.check(&batch(7, 4, 5, 1)), Err(SequenceError::OutOfOrderSequence { expected: 0, .. })));
        s.record(&batch(7, 4, 0, 1), 5, 5);
        assert_eq!(
            s.producer(7),
            Some((4, vec![BatchSequence { first_sequence: 0, last_sequence: 0, first_offset: 5, last_offset: 5 }]))
        );
    }

    #[test]
    fn sequences_wrap_past_the_largest() {
        let mut s = ProducerStates::default();
        // A producer near the end of the sequence space (as a replay of its
        // log would find it).
        s.record(&batch(1, 0, i32::MAX - 4, 3), 0, 2);
        assert_eq!(s.check(&batch(1, 0, i32::MAX - 1, 2)), Ok(SequenceCheck::Append));
        s.record(&batch(1, 0, i32::MAX - 1, 2), 3, 4);
        assert_eq!(batch(1, 0, i32::MAX - 1, 2).last_sequence(), i32::MAX);
        assert_eq!(batch(1, 0, i32::MAX, 3).last_sequence(), 1);
        assert_eq!(s.check(&batch(1, 0, 0, 1)), Ok(SequenceCheck::Append));
    }

    #[test]
    fn truncation_forgets_batches_past_the_new_end() {
        let mut s = ProducerStates::default();
        s.record(&batch(1, 0, 0, 5), 0, 4);
        s.record(&batch(2, 0, 0, 5), 5, 9);
        s.record(&batch(1, 0, 5, 5), 10, 14);
        s.truncate_to(10);
        assert_eq!(s.check(&batch(1, 0, 5, 5)), Ok(SequenceCheck::Append), "the cut batch may come again");
        s.truncate_to(3);
        assert!(s.is_empty());
    }

    #[test]
    fn invented_producer_ids_cannot_grow_the_table_past_its_bound() {
        let mut s = ProducerStates::default();
        for id in 0..(MAX_PRODUCERS_PER_PARTITION as i64 + 100) {
            s.record(&batch(id, 0, 0, 1), id as u64, id as u64);
        }
        assert_eq!(s.len(), MAX_PRODUCERS_PER_PARTITION);
        assert!(s.producer(0).is_none(), "the least recently written went first");
        assert!(s.producer(MAX_PRODUCERS_PER_PARTITION as i64 + 99).is_some());
    }
}
