//! The three files of one segment and their names.
//!
//! ```text
//!  <dir>/<base offset, 20 digits>.log        batches, end to end
//!  <dir>/<base offset, 20 digits>.index      sparse offset index
//!  <dir>/<base offset, 20 digits>.timeindex  sparse time index
//! ```
//!
//! Lives on: the core owning the partition.

use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::fd_cache::{FdCache, FileSource};
use crate::disk::{Storage, StorageFile};
use corelog_runtime::{IoBuf, ReadBuf};

pub const LOG_SUFFIX: &str = "log";
pub const INDEX_SUFFIX: &str = "index";
pub const TIME_INDEX_SUFFIX: &str = "timeindex";

/// Path of a segment file with the given suffix.
pub fn segment_path(dir: &Path, base_offset: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// Base offset of a `.log` file name, if it is one.
pub fn parse_log_name(name: &str) -> Option<u64> {
    parse_segment_name(name, LOG_SUFFIX)
}

/// Base offset of a file named like [`segment_path`] with `suffix`, if it is one.
pub fn parse_segment_name(name: &str, suffix: &str) -> Option<u64> {
    let stem = name.strip_suffix(suffix)?.strip_suffix('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// A segment's three files, opened together for recovery or for creating
/// the segment; they close when this is dropped. What a log keeps afterwards
/// is a [`SegmentFiles`].
pub struct OpenSegment<F> {
    pub base_offset: u64,
    pub log: F,
    pub offset_index: F,
    pub time_index: F,
}

impl<F> OpenSegment<F> {
    pub async fn open<S: Storage<File = F>>(
        storage: &S,
        dir: &Path,
        base_offset: u64,
        create: bool,
    ) -> io::Result<Self> {
        Ok(OpenSegment {
            base_offset,
            log: storage.open(&segment_path(dir, base_offset, LOG_SUFFIX), create).await?,
            offset_index: storage.open(&segment_path(dir, base_offset, INDEX_SUFFIX), true).await?,
            time_index: storage.open(&segment_path(dir, base_offset, TIME_INDEX_SUFFIX), true).await?,
        })
    }
}

/// The files of a segment as a partition log keeps them: the active
/// segment's log open for good, a sealed segment's log through the core's
/// [`FdCache`], and both index files opened only while they are written (the
/// entries live in memory). So an open partition holds one descriptor, and
/// its sealed segments share the cache's.
pub struct SegmentFiles<F> {
    pub base_offset: u64,
    pub log: SegmentFile<F>,
    pub offset_index: SegmentFile<F>,
    pub time_index: SegmentFile<F>,
    source: Rc<dyn FileSource<F>>,
    dir: PathBuf,
}

impl<F: StorageFile> SegmentFiles<F> {
    /// An active segment's files: `log` (already open) stays open.
    pub fn active<S: Storage<File = F>>(cache: &Rc<FdCache<S>>, dir: &Path, base_offset: u64, log: F) -> Self {
        let source: Rc<dyn FileSource<F>> = cache.clone();
        let path = segment_path(dir, base_offset, LOG_SUFFIX);
        Self::with_log(source, dir, base_offset, SegmentFile { path, access: Access::Held(log) })
    }

    /// A sealed segment's files: the log is opened through the cache.
    pub fn sealed<S: Storage<File = F>>(cache: &Rc<FdCache<S>>, dir: &Path, base_offset: u64) -> Self {
        Self::sealed_from(cache.clone(), dir, base_offset)
    }

    /// The same segment's files as a sealed segment keeps them (on roll: the
    /// log this handle holds closes once nothing uses the handle any more).
    pub fn to_sealed(&self) -> Self {
        Self::sealed_from(self.source.clone(), &self.dir, self.base_offset)
    }

    fn sealed_from(source: Rc<dyn FileSource<F>>, dir: &Path, base_offset: u64) -> Self {
        let slot = CacheSlot { id: source.new_id(), source: source.clone() };
        let log = SegmentFile { path: segment_path(dir, base_offset, LOG_SUFFIX), access: Access::Cached(slot) };
        Self::with_log(source, dir, base_offset, log)
    }

    fn with_log(source: Rc<dyn FileSource<F>>, dir: &Path, base_offset: u64, log: SegmentFile<F>) -> Self {
        let on_demand = |suffix| SegmentFile {
            path: segment_path(dir, base_offset, suffix),
            access: Access::OnDemand(source.clone()),
        };
        SegmentFiles {
            base_offset,
            log,
            offset_index: on_demand(INDEX_SUFFIX),
            time_index: on_demand(TIME_INDEX_SUFFIX),
            source: source.clone(),
            dir: dir.to_path_buf(),
        }
    }
}

impl<F> SegmentFiles<F> {
    /// Deletes all three files (callers sync the directory afterwards). The
    /// log goes last: recovery finds segments by their `.log`, so a crash
    /// midway leaves at worst a log without indexes (rebuilt on open), never
    /// indexes without a log that a new segment could inherit.
    pub async fn remove<S: Storage<File = F>>(storage: &S, dir: &Path, base_offset: u64) -> io::Result<()> {
        Self::remove_files(storage, dir, base_offset, &[INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]).await
    }

    /// Deletes the segment's files with these suffixes, in order; a file
    /// already gone is no error.
    pub async fn remove_files<S: Storage<File = F>>(
        storage: &S,
        dir: &Path,
        base_offset: u64,
        suffixes: &[&str],
    ) -> io::Result<()> {
        for suffix in suffixes {
            match storage.remove(&segment_path(dir, base_offset, suffix)).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

/// One file of a segment, opened the way its role needs (see
/// [`SegmentFiles`]). It is a [`StorageFile`] itself: every operation opens
/// the file first if it is not open, so code written against an open file
/// works on it unchanged. Several operations in a row on a file opened on
/// demand should share one [`SegmentFile::open`].
pub struct SegmentFile<F> {
    path: PathBuf,
    access: Access<F>,
}

enum Access<F> {
    /// Open for as long as the handle lives (the active segment's log).
    Held(F),
    /// Through the core's fd cache (a sealed segment's log).
    Cached(CacheSlot<F>),
    /// Opened (created if missing) for each use and closed after (index
    /// files: written only at persist intervals, on roll and on close).
    OnDemand(Rc<dyn FileSource<F>>),
}

/// A handle's entry in the fd cache; dropping the handle closes the file
/// (the segment is gone or its log closed: nobody reads it through this id
/// again).
struct CacheSlot<F> {
    id: u64,
    source: Rc<dyn FileSource<F>>,
}

impl<F> Drop for CacheSlot<F> {
    fn drop(&mut self) {
        self.source.evict(self.id);
    }
}

/// An open segment file, however it was opened; closes (or goes back to the
/// cache) when dropped.
pub enum Opened<'a, F> {
    Held(&'a F),
    Cached(Rc<F>),
    Owned(F),
}

impl<F> Deref for Opened<'_, F> {
    type Target = F;
    fn deref(&self) -> &F {
        match self {
            Opened::Held(f) => f,
            Opened::Cached(f) => f,
            Opened::Owned(f) => f,
        }
    }
}

impl<F: StorageFile> SegmentFile<F> {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, opened if it is not open.
    pub async fn open(&self) -> io::Result<Opened<'_, F>> {
        match &self.access {
            Access::Held(file) => Ok(Opened::Held(file)),
            Access::Cached(slot) => slot.source.cached(slot.id, &self.path).await.map(Opened::Cached),
            Access::OnDemand(source) => source.open(&self.path, true).await.map(Opened::Owned),
        }
    }
}

impl<F: StorageFile> StorageFile for SegmentFile<F> {
    fn alloc_buffer(&self, len: usize) -> IoBuf {
        match &self.access {
            Access::Held(file) => file.alloc_buffer(len),
            // Buffers come from the executor's DMA allocator whatever file
            // they are for, so a write can be planned before its file opens.
            _ => IoBuf::alloc(len),
        }
    }

    async fn write_at(&self, buf: IoBuf, pos: u64) -> io::Result<()> {
        self.open().await?.write_at(buf, pos).await
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<ReadBuf> {
        self.open().await?.read_at(pos, len).await
    }

    async fn fdatasync(&self) -> io::Result<()> {
        self.open().await?.fdatasync().await
    }

    async fn preallocate(&self, len: u64) -> io::Result<()> {
        self.open().await?.preallocate(len).await
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        self.open().await?.truncate(len).await
    }

    async fn size(&self) -> io::Result<u64> {
        self.open().await?.size().await
    }
}
