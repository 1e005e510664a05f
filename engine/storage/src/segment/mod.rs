//! Segments: the files a partition log is made of.
//!
//! A partition is a sequence of sealed segments followed by exactly one
//! active segment. [`active::ActiveSegment`] stages and plans writes;
//! [`sealed::SealedSegment`] is the immutable reader it turns into on roll.
//! [`files::SegmentFiles`] says which of their files stay open: the active
//! log only; sealed logs go through the core's [`fd_cache::FdCache`].
//! [`recycled`] keeps a deleted segment's log to write the next one into.

pub mod active;
pub mod fd_cache;
pub mod files;
pub mod index_file;
pub mod indexer;
pub mod offset_index;
pub mod reader;
pub mod recycled;
pub mod scan;
pub mod sealed;
pub mod time_index;

pub use active::{ActiveSegment, FlushPlan, Staged};
pub use fd_cache::{FdCache, FdCacheStats};
pub use files::{OpenSegment, SegmentFiles};
pub use sealed::SealedSegment;

/// `offset` relative to a segment's base, saturated into the index's u32.
fn relative(base_offset: u64, offset: u64) -> u32 {
    offset.saturating_sub(base_offset).min(u64::from(u32::MAX)) as u32
}

/// An offset-index entry as an absolute `(position, base offset)` boundary.
fn boundary(entry: offset_index::OffsetEntry, base_offset: u64) -> (u64, u64) {
    (u64::from(entry.position), base_offset + u64::from(entry.relative_offset))
}
