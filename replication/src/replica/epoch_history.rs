//! A replica's leader-epoch history: which epoch's leader wrote each offset
//! range (Kafka's leader-epoch checkpoint, `LeaderEpochFileCache`). The
//! storage layer keeps the durable copy; the replica state machines keep this
//! one in step with the commands they emit. Lives on the partition's core.

use super::ReplicaError;

/// Epoch `epoch` starts at `start_offset` and runs until the next entry's
/// start (or the log end for the last entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: u32,
    pub start_offset: u64,
}

/// The answer to "where does epoch E end?" (Kafka's OffsetForLeaderEpoch):
/// the largest known epoch ≤ E and the offset one past its last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    pub epoch: u32,
    pub end_offset: u64,
}

/// Epochs strictly increasing, start offsets non-decreasing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochHistory {
    entries: Vec<EpochEntry>,
}

impl EpochHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The history as the storage layer loaded it; refused unless epochs
    /// strictly increase and start offsets never decrease.
    pub fn from_entries(entries: Vec<EpochEntry>) -> Result<Self, ReplicaError> {
        for pair in entries.windows(2) {
            if pair[1].epoch <= pair[0].epoch || pair[1].start_offset < pair[0].start_offset {
                return Err(ReplicaError::InvalidEpochHistory(format!(
                    "entry {:?} does not follow {:?}",
                    pair[1], pair[0]
                )));
            }
        }
        Ok(Self { entries })
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<u32> {
        self.entries.last().map(|e| e.epoch)
    }

    pub fn start_offset_of(&self, epoch: u32) -> Option<u64> {
        self.entries.iter().find(|e| e.epoch == epoch).map(|e| e.start_offset)
    }

    /// Records that `epoch` starts at `start_offset` (a new leader at its
    /// log end, or a follower appending the first batch of an epoch). An
    /// epoch already known keeps its earlier start. Entries that would break
    /// the ordering (a larger epoch, or a start at or past the new one) are
    /// dropped first, as Kafka's `assign` does. Returns whether it changed.
    pub fn assign(&mut self, epoch: u32, start_offset: u64) -> bool {
        if self.latest_epoch() == Some(epoch) {
            return false;
        }
        self.entries.retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry { epoch, start_offset });
        true
    }

    /// Kafka's `endOffsetFor(epoch)` for a log ending at `log_end`: the
    /// latest epoch answers `log_end`; an older one answers the start of the
    /// next larger epoch, labelled with the largest known epoch ≤ `epoch` (or
    /// `epoch` itself if it predates every entry). `None` when nothing is
    /// known or `epoch` is newer than every entry.
    pub fn end_offset_for(&self, epoch: u32, log_end: u64) -> Option<EpochEndOffset> {
        let latest = self.entries.last()?;
        if epoch == latest.epoch {
            return Some(EpochEndOffset { epoch, end_offset: log_end });
        }
        if epoch > latest.epoch {
            return None;
        }
        let higher = self.entries.partition_point(|e| e.epoch <= epoch);
        let end_offset = self.entries[higher].start_offset;
        let label = if higher == 0 { epoch } else { self.entries[higher - 1].epoch };
        Some(EpochEndOffset { epoch: label, end_offset })
    }

    /// The log was truncated to end at `end_offset`: epochs starting at or
    /// past it are gone (Kafka's `truncateFromEnd`).
    pub fn truncate_from_end(&mut self, end_offset: u64) {
        self.entries.retain(|e| e.start_offset < end_offset);
    }

    /// The log was emptied to restart at some offset: nothing is known.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(pairs: &[(u32, u64)]) -> EpochHistory {
        EpochHistory::from_entries(
            pairs.iter().map(|&(epoch, start_offset)| EpochEntry { epoch, start_offset }).collect(),
        )
        .unwrap()
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let h = history(&[(1, 0), (3, 10), (6, 25)]);
        assert_eq!(h.end_offset_for(6, 40), Some(EpochEndOffset { epoch: 6, end_offset: 40 }));
        assert_eq!(h.end_offset_for(3, 40), Some(EpochEndOffset { epoch: 3, end_offset: 25 }));
        // Unknown epoch between two known ones: labelled with the one below.
        assert_eq!(h.end_offset_for(4, 40), Some(EpochEndOffset { epoch: 3, end_offset: 25 }));
        assert_eq!(h.end_offset_for(1, 40), Some(EpochEndOffset { epoch: 1, end_offset: 10 }));
        // Older than every entry: the requested epoch, ending where the first starts.
        let h2 = history(&[(2, 5), (4, 9)]);
        assert_eq!(h2.end_offset_for(1, 12), Some(EpochEndOffset { epoch: 1, end_offset: 5 }));
        assert_eq!(h.end_offset_for(7, 40), None);
        assert_eq!(EpochHistory::new().end_offset_for(0, 0), None);
    }

    #[test]
    fn from_entries_refuses_disorder() {
        let bad_epoch = vec![EpochEntry { epoch: 2, start_offset: 0 }, EpochEntry { epoch: 2, start_offset: 5 }];
        assert!(EpochHistory::from_entries(bad_epoch).is_err());
        let bad_start = vec![EpochEntry { epoch: 1, start_offset: 5 }, EpochEntry { epoch: 2, start_offset: 4 }];
        assert!(EpochHistory::from_entries(bad_start).is_err());
        // An empty epoch (two entries at one start) is fine.
        let empty_epoch = vec![EpochEntry { epoch: 1, start_offset: 5 }, EpochEntry { epoch: 2, start_offset: 5 }];
        assert!(EpochHistory::from_entries(empty_epoch).is_ok());
    }

    #[test]
    fn assign_keeps_order_and_first_start() {
        let mut h = history(&[(1, 0), (3, 10)]);
        assert!(!h.assign(3, 12));
        assert_eq!(h.start_offset_of(3), Some(10));
        assert!(h.assign(5, 20));
        assert_eq!(h.latest_epoch(), Some(5));
        // A start before existing entries drops them (they were never written).
        assert!(h.assign(6, 10));
        assert_eq!(h.entries(), history(&[(1, 0), (6, 10)]).entries());
    }

    #[test]
    fn truncate_from_end_drops_epochs_starting_at_or_past_the_end() {
        let mut h = history(&[(1, 0), (3, 10), (6, 25)]);
        h.truncate_from_end(25);
        assert_eq!(h.latest_epoch(), Some(3));
        h.truncate_from_end(11);
        assert_eq!(h.latest_epoch(), Some(3));
        h.truncate_from_end(10);
        assert_eq!(h.latest_epoch(), Some(1));
        h.truncate_from_end(0);
        assert_eq!(h.latest_epoch(), None);
    }
}
