//! The active segment: the one segment of a partition that takes appends.
//!
//! Appends are copied once into block-aligned staging chunks (the stored
//! header, then the rest of the batch from the buffer it arrived in, then a
//! Kafka batch's zero padding). A chunk that
//! fills up is handed out at once to be written (write-behind: the appender
//! that filled it writes it, so several writes are in flight while an
//! fdatasync runs), unless the log holds it for a flush
//! (`WriteBehind::BetweenFlushes`); a flush writes the rest: chunks not yet handed out and the
//! partial last one, whose partial tail block stays in memory (copied into a
//! fresh chunk) and is rewritten on the next flush.
//!
//! Two writes must never race on one block: a chunk that starts with a copied
//! tail block may be handed out only after the flush that wrote the old copy
//! of that block completed (`plan_done`). Fresh chunks start on blocks nothing
//! has written.
//!
//! Nothing here does I/O: it plans writes that the log performs and reports
//! back, so this state can sit in a `RefCell` never held across an await.
//!
//! Lives on: the core owning the partition.

use std::rc::Rc;

use crate::disk::StorageFile;
use crate::limits::{preallocation_end, BLOCK_SIZE, INDEX_PERSIST_INTERVAL_BYTES};
use crate::segment::files::SegmentFiles;
use crate::segment::index_file::{IndexFile, IndexWrite};
use crate::segment::indexer::Indexer;
use crate::segment::offset_index::OffsetEntry;
use crate::segment::time_index::TimeEntry;
use corelog_format::limits::BATCH_ALIGNMENT;
use corelog_format::ValidBatch;
use corelog_runtime::IoBuf;

/// The zeros a stored Kafka batch is padded with (never more than
/// BATCH_ALIGNMENT - 1 of them).
pub(crate) static STORED_PADDING: [u8; BATCH_ALIGNMENT] = [0; BATCH_ALIGNMENT];

/// A staging chunk: `buf` will be written at file position `pos`.
struct Chunk {
    pos: u64,
    buf: IoBuf,
    fill: usize,
    /// May be written as soon as it is full (see the module docs).
    writable_early: bool,
}

/// A full chunk to write now, outside any flush.
pub struct ChunkWrite {
    pub pos: u64,
    pub buf: IoBuf,
}

/// Everything one flush of the active segment must write.
pub struct FlushPlan {
    /// Data writes, block-aligned.
    pub writes: Vec<(u64, IoBuf)>,
    /// Reserve space up to here first, if set.
    pub preallocate: Option<u64>,
    /// Logical size the segment has on disk once the plan and every chunk
    /// handed out before it are written.
    pub end: u64,
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staged {
    pub position: u64,
    pub base_offset: u64,
    pub next_offset: u64,
}

pub struct ActiveSegment<F: StorageFile> {
    pub files: Rc<SegmentFiles<F>>,
    base_offset: u64,
    next_offset: u64,
    /// Logical size: bytes of whole batches appended.
    size: u64,
    /// Logical size known to be written to the file (maybe not yet synced).
    written: u64,
    /// Logical size covered by flush plans and chunks handed out so far.
    planned: u64,
    chunks: Vec<Chunk>,
    /// Size of every staging chunk (a multiple of BLOCK_SIZE).
    chunk_bytes: usize,
    /// File position where the next fresh chunk starts.
    next_chunk_pos: u64,
    pub offset_index: IndexFile<OffsetEntry>,
    pub time_index: IndexFile<TimeEntry>,
    indexer: Indexer,
    /// Size when the index tails were last written.
    index_written_at: u64,
    max_timestamp: i64,
    preallocated: u64,
    /// The log is a recycled file (`recycled.rs`): old batches follow
    /// whatever this segment has written.
    recycled: bool,
    /// Wall-clock ms after which the segment should roll even if not full.
    pub roll_deadline_ms: u64,
    /// The directory entries of its files are durable. A roll leaves them
    /// to the segment's first fdatasync, which syncs the directory beside
    /// it, so no batch in the segment is durable before its file's name is.
    dir_synced: bool,
}

impl<F: StorageFile> ActiveSegment<F> {
    /// An active segment over files holding `size` valid bytes, the last
    /// `size % BLOCK_SIZE` of which are `tail` (read back from disk by the
    /// caller) so the next flush can rewrite that block whole. `indexer` has
    /// observed every batch already in the file.
    #[allow(clippy::too_many_arguments)]
    pub fn resume(
        files: Rc<SegmentFiles<F>>,
        next_offset: u64,
        size: u64,
        tail: &[u8],
        offset_index: IndexFile<OffsetEntry>,
        time_index: IndexFile<TimeEntry>,
        indexer: Indexer,
        roll_deadline_ms: u64,
        chunk_bytes: usize,
    ) -> Self {
        let tail_start = align_down(size);
        assert_eq!(tail.len() as u64, size - tail_start, "tail must be the partial last block");
        assert!(chunk_bytes >= BLOCK_SIZE && chunk_bytes.is_multiple_of(BLOCK_SIZE), "chunks are whole blocks");
        let mut buf = files.log.alloc_buffer(chunk_bytes);
        buf.as_mut_slice()[..tail.len()].copy_from_slice(tail);
        ActiveSegment {
            base_offset: files.base_offset,
            files,
            next_offset,
            size,
            written: size,
            planned: size,
            // No write is in flight for the tail block: writable at once.
            chunks: vec![Chunk { pos: tail_start, buf, fill: tail.len(), writable_early: true }],
            chunk_bytes,
            next_chunk_pos: tail_start + chunk_bytes as u64,
            offset_index,
            time_index,
            max_timestamp: indexer.running_max(),
            indexer,
            index_written_at: size,
            preallocated: size,
            recycled: false,
            roll_deadline_ms,
            dir_synced: true,
        }
    }

    pub fn base_offset(&self) -> u64 {
        self.base_offset
    }
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn written(&self) -> u64 {
        self.written
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
    /// Whether the log is a recycled file.
    pub fn is_recycled(&self) -> bool {
        self.recycled
    }

    /// Whether the directory entries of its files are durable.
    pub fn dir_synced(&self) -> bool {
        self.dir_synced
    }
    pub fn set_dir_synced(&mut self, synced: bool) {
        self.dir_synced = synced;
    }

    /// Marks the log as a recycled file of `len` bytes: space up to there
    /// is the old segment's, written, so it is not preallocated again.
    pub fn reuse_written_space(&mut self, len: u64) {
        self.recycled = true;
        self.preallocated = self.preallocated.max(len);
    }

    /// Whether staged bytes wait for a flush plan.
    pub fn has_unplanned(&self) -> bool {
        self.planned < self.size
    }

    /// Copies one batch into the staging chunks and indexes it: `header`,
    /// the batch's header in its own format as the log stamped it (base
    /// offset `base_offset`, this segment's next offset), then the rest of
    /// the batch as appended, then its stored padding (zeros; Kafka batches
    /// only). This is the one copy an append makes.
    pub fn stage(&mut self, base_offset: u64, header: &[u8], batch: &ValidBatch) -> Staged {
        assert_eq!(base_offset, self.next_offset, "offsets must be contiguous");
        debug_assert_eq!(header.len(), batch.header_len(), "a stamped header replaces the batch's own");
        let len = batch.len() as u64;
        let position = self.size;
        let max_timestamp = batch.max_timestamp();
        let entries = self.indexer.observe(position, len, base_offset, max_timestamp);
        if let Some(e) = entries.offset {
            self.offset_index.push(e);
        }
        if let Some(e) = entries.time {
            self.time_index.push(e);
        }
        self.copy_in(header);
        self.copy_in(&batch.bytes()[batch.header_len()..]);
        let mut padding = batch.padding_len();
        while padding > 0 {
            let n = padding.min(STORED_PADDING.len());
            self.copy_in(&STORED_PADDING[..n]);
            padding -= n;
        }
        self.size += len;
        self.next_offset = base_offset.saturating_add(u64::from(batch.last_offset_delta()) + 1);
        self.max_timestamp = self.max_timestamp.max(max_timestamp);
        Staged { position, base_offset, next_offset: self.next_offset }
    }

    fn copy_in(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let needs_chunk = self.chunks.last().is_none_or(|c| c.fill == c.buf.len());
            if needs_chunk {
                let pos = self.next_chunk_pos;
                debug_assert_eq!(pos % BLOCK_SIZE as u64, 0);
                let buf = self.files.log.alloc_buffer(self.chunk_bytes);
                self.chunks.push(Chunk { pos, buf, fill: 0, writable_early: true });
                self.next_chunk_pos = pos + self.chunk_bytes as u64;
            }
            let chunk = self.chunks.last_mut().expect("a chunk was just ensured");
            let n = (chunk.buf.len() - chunk.fill).min(bytes.len());
            chunk.buf.as_mut_slice()[chunk.fill..chunk.fill + n].copy_from_slice(&bytes[..n]);
            chunk.fill += n;
            bytes = &bytes[n..];
        }
    }

    /// Hands out every full chunk that may be written now (write-behind),
    /// with the preallocation to do first, if any.
    pub fn take_full_chunks(&mut self) -> (Vec<ChunkWrite>, Option<u64>) {
        let mut ready = Vec::new();
        let mut i = 0;
        while i < self.chunks.len() {
            let c = &self.chunks[i];
            if c.writable_early && c.fill == c.buf.len() {
                let c = self.chunks.remove(i);
                ready.push(ChunkWrite { pos: c.pos, buf: c.buf });
            } else {
                i += 1;
            }
        }
        let end = ready.iter().map(|w| w.pos + w.buf.len() as u64).max().unwrap_or(0);
        (ready, self.preallocation_for(end))
    }

    /// Reserves space ahead, in steps growing with the segment; Some(new end
    /// of the reservation).
    fn preallocation_for(&mut self, end: u64) -> Option<u64> {
        (end > self.preallocated).then(|| {
            self.preallocated = preallocation_end(end);
            self.preallocated
        })
    }

    /// Plans writing everything staged and not yet handed out. The partial
    /// last block is copied into a fresh chunk so appends can continue while
    /// the plan is in flight.
    pub fn plan_flush(&mut self) -> Option<FlushPlan> {
        if !self.has_unplanned() {
            return None;
        }
        let end = self.size;
        self.planned = end;
        let tail_start = align_down(end);
        let mut next_tail = self.files.log.alloc_buffer(self.chunk_bytes);
        let mut writes = Vec::with_capacity(self.chunks.len());
        for mut chunk in self.chunks.drain(..) {
            if chunk.fill == 0 {
                continue;
            }
            let chunk_end = chunk.pos + chunk.fill as u64;
            if chunk_end == end && tail_start >= chunk.pos {
                let from = (tail_start - chunk.pos) as usize;
                next_tail.as_mut_slice()[..chunk.fill - from].copy_from_slice(&chunk.buf.as_slice()[from..chunk.fill]);
            }
            // Written padding is zero so recovery reads it as "end of log".
            let len = chunk.fill.div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
            chunk.buf.as_mut_slice()[chunk.fill..len].fill(0);
            chunk.buf.truncate(len);
            writes.push((chunk.pos, chunk.buf));
        }
        if self.recycled && end == tail_start {
            // Written data ends on a block boundary, where an old batch's
            // bytes would follow: a zero block there makes recovery see the
            // end of the log (`scan.rs`), not a torn batch. The next append
            // lands in this block only after this plan is done (below).
            let mut zeros = self.files.log.alloc_buffer(BLOCK_SIZE);
            zeros.as_mut_slice().fill(0);
            writes.push((end, zeros));
        }
        self.chunks.push(Chunk {
            pos: tail_start,
            buf: next_tail,
            fill: (end - tail_start) as usize,
            // This flush rewrites the block it starts with: not before it is done.
            writable_early: false,
        });
        self.next_chunk_pos = tail_start + self.chunk_bytes as u64;

        let preallocate = self.preallocation_for(end);
        Some(FlushPlan { writes, preallocate, end })
    }

    /// Plans the index tail writes if due (or `force`d), covering only
    /// entries for data below the written point.
    pub fn plan_index_writes(&mut self, force: bool) -> (Option<IndexWrite>, Option<IndexWrite>) {
        if !force && self.written - self.index_written_at.min(self.written) < INDEX_PERSIST_INTERVAL_BYTES {
            return (None, None);
        }
        self.index_written_at = self.written;
        (
            self.offset_index.plan_tail_write(&self.files.offset_index, self.written),
            self.time_index.plan_tail_write(&self.files.time_index, self.written),
        )
    }

    /// Records that planned index writes reached the files.
    pub fn index_written(&mut self, offset_entries: Option<usize>, time_entries: Option<usize>) {
        if let Some(n) = offset_entries {
            self.offset_index.wrote(n);
        }
        if let Some(n) = time_entries {
            self.time_index.wrote(n);
        }
    }

    /// Records that a plan's own writes completed: the block it rewrote may
    /// now be written again.
    pub fn plan_done(&mut self) {
        for chunk in &mut self.chunks {
            chunk.writable_early = true;
        }
    }

    /// Records that everything below `pos` is written to the file.
    pub fn set_written(&mut self, pos: u64) {
        debug_assert!(pos <= self.size);
        self.written = self.written.max(pos);
    }

    /// Batch boundary `(position, base offset)` to read `offset` from.
    pub fn lookup(&self, offset: u64) -> (u64, u64) {
        let e =
            super::offset_index::lookup_offset(self.offset_index.entries(), super::relative(self.base_offset, offset));
        super::boundary(e, self.base_offset)
    }

    /// Batch boundary to look for the first batch with a timestamp >= `ts` from.
    pub fn lookup_time(&self, ts: i64) -> (u64, u64) {
        let e = super::time_index::lookup_time(self.time_index.entries(), ts);
        (u64::from(e.position), self.base_offset + u64::from(e.relative_offset))
    }
}

fn align_down(pos: u64) -> u64 {
    pos / BLOCK_SIZE as u64 * BLOCK_SIZE as u64
}
