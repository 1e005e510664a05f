//! The persistence shared by the offset and time indexes.
//!
//! An index file is a flat array of fixed-size little-endian entries, written
//! with O_DIRECT in whole blocks (the tail block zero-padded and rewritten as
//! it fills) and trimmed to its exact length when the segment is sealed:
//!
//! ```text
//!  +---------+---------+-----+---------+------------------+
//!  | entry 0 | entry 1 | ... | entry n | zero padding ... |
//!  +---------+---------+-----+---------+------------------+
//! ```
//!
//! A sealed segment's index ends with a trailer that checksums the entries:
//!
//! ```text
//!  +---------+-----+---------+---------------------------------------------+
//!  | entry 0 | ... | entry n | "CLIX" | count u32 | crc32 u32 | reserved u32 |
//!  +---------+-----+---------+---------------------------------------------+
//! ```
//!
//! so a damaged sealed index is detected whole and rebuilt from the log. The
//! active segment's index has no trailer (it grows in place); it is advisory:
//! never fsynced before an ack, and on load an entry is accepted only while
//! positions strictly increase and stay inside the segment; the first zero or
//! out-of-order entry ends it. Entries never point at position 0 (a lookup
//! falls back to 0 anyway), so the zero padding reads as "end". Readers that
//! find no batch where an entry points fall back to the segment start.
//!
//! Lives on: the core owning the partition.

use std::io;

use crate::disk::StorageFile;
use crate::limits::BLOCK_SIZE;
use crate::segment::files::SegmentFile;
use corelog_runtime::IoBuf;

/// A fixed-size index entry.
pub trait IndexEntry: Copy {
    const SIZE: usize;
    fn encode(&self, out: &mut [u8]);
    fn decode(bytes: &[u8]) -> Self;
    /// Byte position in the segment the entry points at (strictly increasing).
    fn position(&self) -> u32;
}

/// A write the index wants done: `buf` at `pos`, after which the file holds
/// the first `entries` entries.
pub struct IndexWrite {
    pub buf: IoBuf,
    pub pos: u64,
    pub entries: usize,
}

/// Marks the trailer of a sealed index ("CLIX", little-endian).
const TRAILER_MAGIC: u32 = u32::from_le_bytes(*b"CLIX");
pub const TRAILER_LEN: usize = 16;

/// What loading found in an index file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexForm {
    /// A sealed index whose trailer checksum matched.
    Sealed,
    /// No trailer: an active segment's index (its valid prefix was kept).
    Growing,
    /// A trailer that doesn't match its entries, or entries out of bounds:
    /// nothing was kept.
    Damaged,
}

/// Entries in memory plus how many of them the file already holds. Holds no
/// file: callers own the handle and do the I/O this plans, so the index can
/// live inside state that is never borrowed across an await.
pub struct IndexFile<E: IndexEntry> {
    entries: Vec<E>,
    /// Entries whose bytes are in the file (written, maybe not synced).
    written: usize,
}

impl<E: IndexEntry> Default for IndexFile<E> {
    fn default() -> Self {
        IndexFile { entries: Vec::new(), written: 0 }
    }
}

impl<E: IndexEntry> IndexFile<E> {
    /// Loads an index file: a sealed one whole if its checksum matches, a
    /// growing one's valid prefix (positions strictly increasing, inside
    /// `segment_len`).
    pub async fn load<F: StorageFile>(file: &F, segment_len: u64) -> io::Result<(Self, IndexForm)> {
        let size = file.size().await?;
        if size == 0 {
            return Ok((IndexFile::default(), IndexForm::Growing));
        }
        let bytes = file.read_at(0, size as usize).await?;
        let (entries, form) = parse::<E>(&bytes, segment_len);
        let written = entries.len();
        Ok((IndexFile { entries, written }, form))
    }

    pub fn entries(&self) -> &[E] {
        &self.entries
    }

    pub fn last(&self) -> Option<&E> {
        self.entries.last()
    }

    pub fn push(&mut self, entry: E) {
        debug_assert!(entry.position() > 0);
        debug_assert!(self.entries.last().is_none_or(|l| l.position() < entry.position()));
        self.entries.push(entry);
    }

    /// Replaces all entries (a rebuild from the log); the file is rewritten.
    pub fn replace(&mut self, entries: Vec<E>) {
        self.entries = entries;
        self.written = 0;
    }

    /// Whether entries exist that the file doesn't have yet.
    pub fn is_dirty(&self) -> bool {
        self.written < self.entries.len()
    }

    /// Drops entries pointing at or past `position`.
    pub fn truncate_to_position(&mut self, position: u64) {
        let keep = self.entries.partition_point(|e| u64::from(e.position()) < position);
        self.entries.truncate(keep);
        self.written = self.written.min(keep);
    }

    /// Bytes of the entries the file holds (what a growing file is cut to).
    pub fn written_len(&self) -> u64 {
        (self.written * E::SIZE) as u64
    }

    /// Plans the write of the entries the file lacks that point below
    /// `below` (only data known written may be indexed on disk: recovery
    /// trusts everything before the last entry), rewriting the partial tail
    /// block; None if there is nothing to write.
    pub fn plan_tail_write<F: StorageFile>(&self, file: &F, below: u64) -> Option<IndexWrite> {
        let count = self.entries.partition_point(|e| u64::from(e.position()) < below);
        if count <= self.written {
            return None;
        }
        let first_byte = (self.written * E::SIZE) / BLOCK_SIZE * BLOCK_SIZE;
        let first_entry = first_byte / E::SIZE;
        let end_byte = count * E::SIZE;
        let len = (end_byte - first_byte).div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
        let mut buf = file.alloc_buffer(len);
        let out = buf.as_mut_slice();
        out.fill(0);
        for (i, entry) in self.entries[first_entry..count].iter().enumerate() {
            entry.encode(&mut out[i * E::SIZE..(i + 1) * E::SIZE]);
        }
        Some(IndexWrite { buf, pos: first_byte as u64, entries: count })
    }

    /// Records that a planned write reached the file.
    pub fn wrote(&mut self, entries: usize) {
        self.written = self.written.max(entries.min(self.entries.len()));
    }

    /// Plans writing the whole index in its sealed form (entries and
    /// trailer); returns the write and the file's exact final length.
    pub fn plan_sealed_write<F: StorageFile>(&self, file: &F) -> (IndexWrite, u64) {
        let entries_len = self.entries.len() * E::SIZE;
        let exact = entries_len + TRAILER_LEN;
        let mut buf = file.alloc_buffer(exact.div_ceil(BLOCK_SIZE) * BLOCK_SIZE);
        let out = buf.as_mut_slice();
        out.fill(0);
        for (i, entry) in self.entries.iter().enumerate() {
            entry.encode(&mut out[i * E::SIZE..(i + 1) * E::SIZE]);
        }
        let crc = crc32fast::hash(&out[..entries_len]);
        let trailer = &mut out[entries_len..exact];
        trailer[0..4].copy_from_slice(&TRAILER_MAGIC.to_le_bytes());
        trailer[4..8].copy_from_slice(&(self.entries.len() as u32).to_le_bytes());
        trailer[8..12].copy_from_slice(&crc.to_le_bytes());
        (IndexWrite { buf, pos: 0, entries: self.entries.len() }, exact as u64)
    }
}

/// Parses index bytes (see the module docs for the two forms).
fn parse<E: IndexEntry>(bytes: &[u8], segment_len: u64) -> (Vec<E>, IndexForm) {
    let in_bounds = |entries: &[E]| {
        entries.windows(2).all(|w| w[0].position() < w[1].position())
            && entries.iter().all(|e| e.position() > 0 && u64::from(e.position()) < segment_len)
    };
    if bytes.len() >= TRAILER_LEN && (bytes.len() - TRAILER_LEN).is_multiple_of(E::SIZE) {
        let (body, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
        let word = |i: usize| u32::from_le_bytes([trailer[i], trailer[i + 1], trailer[i + 2], trailer[i + 3]]);
        if word(0) == TRAILER_MAGIC {
            let entries: Vec<E> = body.chunks_exact(E::SIZE).map(E::decode).collect();
            let intact = word(4) as usize == entries.len() && word(8) == crc32fast::hash(body) && in_bounds(&entries);
            return if intact { (entries, IndexForm::Sealed) } else { (Vec::new(), IndexForm::Damaged) };
        }
    }
    let mut entries: Vec<E> = Vec::new();
    for raw in bytes.chunks_exact(E::SIZE) {
        let entry = E::decode(raw);
        let pos = entry.position();
        if pos == 0 || u64::from(pos) >= segment_len || entries.last().is_some_and(|l| pos <= l.position()) {
            break;
        }
        entries.push(entry);
    }
    (entries, IndexForm::Growing)
}

/// Performs `write` (if any) and marks it done; for callers that own both.
pub async fn write_planned<F: StorageFile>(file: &F, write: Option<IndexWrite>) -> io::Result<Option<usize>> {
    match write {
        Some(w) => {
            file.write_at(w.buf, w.pos).await?;
            Ok(Some(w.entries))
        }
        None => Ok(None),
    }
}

/// [`write_planned`] on an active segment's index file, opened for it. The
/// entries are advisory (recovery checks what they point at), so an index
/// file that cannot be opened now, e.g. out of descriptors, is left behind
/// this time rather than failing the log: its entries stay in memory and go
/// out with the next persist, the roll or the close. A failed write is an
/// error.
pub async fn persist_planned<F: StorageFile>(
    file: &SegmentFile<F>,
    write: Option<IndexWrite>,
) -> io::Result<Option<usize>> {
    if write.is_none() {
        return Ok(None);
    }
    match file.open().await {
        Ok(opened) => write_planned(&*opened, write).await,
        Err(e) => {
            tracing::warn!(path = %file.path().display(), error = %e, "cannot open the index file; its tail is written later");
            Ok(None)
        }
    }
}
