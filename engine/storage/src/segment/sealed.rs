//! A sealed segment: immutable once the active segment rolls.
//!
//! The type has no write path at all; it exists to be read, looked up by
//! offset or time, and deleted whole by retention.
//!
//! Lives on: the core owning the partition.

use std::rc::{Rc, Weak};

use crate::disk::StorageFile;
use crate::segment::files::SegmentFiles;
use crate::segment::offset_index::{lookup_offset, OffsetEntry};
use crate::segment::time_index::{lookup_time, TimeEntry};

pub struct SealedSegment<F: StorageFile> {
    /// Its log is opened through the core's fd cache, its indexes only if
    /// they are rewritten (their entries are below, in memory).
    pub files: Rc<SegmentFiles<F>>,
    pub base_offset: u64,
    /// Offset after its last batch (the next segment's base).
    pub next_offset: u64,
    /// Exact file length: whole batches, no padding.
    pub size: u64,
    /// Largest record timestamp inside; retention by age uses it.
    pub max_timestamp: i64,
    offsets: Vec<OffsetEntry>,
    times: Vec<TimeEntry>,
    /// The handle its file had while it was the active segment, which a
    /// read begun then may still hold.
    active_handle: Weak<SegmentFiles<F>>,
}

impl<F: StorageFile> SealedSegment<F> {
    pub fn new(
        files: Rc<SegmentFiles<F>>,
        next_offset: u64,
        size: u64,
        max_timestamp: i64,
        offsets: Vec<OffsetEntry>,
        times: Vec<TimeEntry>,
    ) -> Self {
        SealedSegment {
            base_offset: files.base_offset,
            files,
            next_offset,
            size,
            max_timestamp,
            offsets,
            times,
            active_handle: Weak::new(),
        }
    }

    /// The same segment, remembering the handle it had while active (a
    /// roll's sealed segment).
    pub fn rolled_from(mut self, active_handle: &Rc<SegmentFiles<F>>) -> Self {
        self.active_handle = Rc::downgrade(active_handle);
        self
    }

    /// Whether something besides `self` may still read its file: a read
    /// in flight, a read-ahead, or either begun while it was active. Its
    /// file may be overwritten (recycled) only when not.
    pub fn file_in_use(self: &Rc<Self>) -> bool {
        Rc::strong_count(self) > 1 || Rc::strong_count(&self.files) > 1 || self.active_handle.strong_count() > 0
    }

    /// Batch boundary `(position, base offset)` to read `offset` from.
    pub fn lookup(&self, offset: u64) -> (u64, u64) {
        super::boundary(lookup_offset(&self.offsets, super::relative(self.base_offset, offset)), self.base_offset)
    }

    /// Batch boundary to look for the first batch with a timestamp >= `ts` from.
    pub fn lookup_time(&self, ts: i64) -> (u64, u64) {
        let e = lookup_time(&self.times, ts);
        (u64::from(e.position), self.base_offset + u64::from(e.relative_offset))
    }

    pub fn offset_entries(&self) -> &[OffsetEntry] {
        &self.offsets
    }

    pub fn time_entries(&self) -> &[TimeEntry] {
        &self.times
    }
}
