//! Read-ahead for consumers catching up from disk.
//!
//! After a fetch is served from a segment file, the next window of that file
//! is read in the background, so the next sequential fetch finds its bytes
//! in memory and the device works while the previous response travels to
//! the consumer: a catch-up read keeps two reads per partition going instead
//! of one read, then a round trip, then the next read.
//!
//! One window per partition, keyed by the offset the next sequential fetch
//! asks for (so its exact byte position is known, no index lookup). A read
//! anywhere else replaces it; truncation and retention drop it. Only
//! committed bytes are read ahead (up to the watermark's position when it
//! starts), and they never change afterwards: the tail block is rewritten
//! only with more data behind the same prefix.
//!
//! Lives on: the partition's core, inside its log state.

use std::io;
use std::rc::Rc;

use crate::disk::StorageFile;
use crate::segment::SegmentFiles;
use corelog_runtime::{ReadBuf, Task};

/// A window of a segment file being read (or read) in the background.
pub(crate) struct ReadAhead {
    /// The log's truncation count when the read that started it began: a
    /// truncation may reuse offsets for new batches, so a window from before
    /// one never serves a read after it.
    truncations: u64,
    /// Base offset of the segment the window belongs to.
    segment: u64,
    /// The offset whose batch starts the window, and its byte position.
    offset: u64,
    position: u64,
    read: Task<io::Result<ReadBuf>>,
}

impl ReadAhead {
    /// Starts reading `len` bytes of `files` at `position`, where the batch
    /// holding `offset` starts.
    pub fn start<F: StorageFile + 'static>(
        truncations: u64,
        files: Rc<SegmentFiles<F>>,
        offset: u64,
        position: u64,
        len: usize,
    ) -> Self {
        let segment = files.base_offset;
        let read = corelog_runtime::spawn(async move { files.log.read_at(position, len).await });
        ReadAhead { truncations, segment, offset, position, read }
    }

    /// Whether a read of `offset` in the segment at `segment` continues here.
    pub fn serves(&self, truncations: u64, segment: u64, offset: u64) -> bool {
        self.truncations == truncations && self.segment == segment && self.offset == offset
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// The window's bytes; `None` if its read failed (the caller reads
    /// again and reports what that read finds).
    pub async fn bytes(self) -> Option<ReadBuf> {
        self.read.join().await.ok().filter(|buf| !buf.is_empty())
    }
}
