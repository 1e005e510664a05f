//! The rule for when a batch gets index entries, shared by appends and by
//! recovery's rebuild so both produce the same indexes.

use super::offset_index::OffsetEntry;
use super::time_index::TimeEntry;
use crate::limits::INDEX_INTERVAL_BYTES;

/// Decides index entries batch by batch, in log order.
#[derive(Debug, Clone)]
pub struct Indexer {
    base_offset: u64,
    bytes_since_entry: u64,
    /// Largest timestamp of every batch seen so far (an upper bound of the
    /// timestamps before any later position, as the time index requires).
    running_max: i64,
    last_time_entry: i64,
    /// No entry is made at or before this position (already indexed).
    indexed_through: u64,
}

/// Entries to add for one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewEntries {
    pub offset: Option<OffsetEntry>,
    pub time: Option<TimeEntry>,
}

impl Indexer {
    /// An indexer resuming after entries that end at `indexed_through` with
    /// the time index's last running max `last_time_entry`. The first batch
    /// observed must start where `running_max` is exact: at the segment start
    /// or at the last time entry's batch.
    pub fn new(base_offset: u64, indexed_through: u64, running_max: i64, last_time_entry: i64) -> Self {
        Indexer { base_offset, bytes_since_entry: 0, running_max, last_time_entry, indexed_through }
    }

    pub fn running_max(&self) -> i64 {
        self.running_max
    }

    /// Observes the batch at `position` (`len` bytes, base offset
    /// `base_offset`, newest record `max_timestamp`).
    pub fn observe(&mut self, position: u64, len: u64, base_offset: u64, max_timestamp: i64) -> NewEntries {
        let mut out = NewEntries::default();
        let running_max = self.running_max.max(max_timestamp);
        if position > self.indexed_through && self.bytes_since_entry >= INDEX_INTERVAL_BYTES {
            let relative_offset = (base_offset - self.base_offset) as u32;
            out.offset = Some(OffsetEntry { relative_offset, position: position as u32 });
            if running_max > self.last_time_entry {
                out.time = Some(TimeEntry { max_timestamp: running_max, relative_offset, position: position as u32 });
                self.last_time_entry = running_max;
            }
            self.bytes_since_entry = 0;
        }
        self.running_max = running_max;
        self.bytes_since_entry += len;
        out
    }
}
