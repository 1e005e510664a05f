//! The disk contract the log is written against.
//!
//! Segments and indexes talk to a [`Storage`], not to the runtime directly, so
//! tests can put a fault-injecting storage ([`faulty`]) between the log and
//! the real O_DIRECT files: torn writes, flipped bits, EIO.
//!
//! Contract (what the log assumes and what every implementation must honour):
//! - writes are positional, block-aligned in position and length;
//! - `fdatasync` returns only when every write that completed before it is durable;
//! - a write that fails may have persisted any prefix of its blocks (torn);
//! - reads may be unaligned; they return fewer bytes only at end of file;
//! - `remove`, `rename` and file creation are durable after `sync_dir` of the parent;
//! - `rename` is atomic: after a crash the file has one name or the other.
//!
//! Lives on: the core that owns the partition; nothing here is `Send`.

pub mod dma;
pub mod faulty;

use std::io;
use std::path::Path;

pub use dma::DmaStorage;
pub use faulty::{Fault, FaultyStorage};

use corelog_runtime::{IoBuf, ReadBuf};

/// Opens and removes files. Cheap to clone (a handle).
#[allow(async_fn_in_trait)]
pub trait Storage: Clone + 'static {
    type File: StorageFile;

    /// Opens read-write, creating the file if `create` and it does not exist.
    async fn open(&self, path: &Path, create: bool) -> io::Result<Self::File>;
    async fn remove(&self, path: &Path) -> io::Result<()>;
    /// Renames a file inside one directory, replacing `to` if it exists.
    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creates, renames and removes inside `dir` durable.
    async fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// One open file.
#[allow(async_fn_in_trait)]
pub trait StorageFile: 'static {
    /// An aligned buffer suitable for [`StorageFile::write_at`].
    fn alloc_buffer(&self, len: usize) -> IoBuf;
    /// Writes all of `buf` at `pos`; both block-aligned.
    async fn write_at(&self, buf: IoBuf, pos: u64) -> io::Result<()>;
    /// Reads up to `len` bytes at `pos` (short only at end of file).
    async fn read_at(&self, pos: u64, len: usize) -> io::Result<ReadBuf>;
    async fn fdatasync(&self) -> io::Result<()>;
    /// Reserves space up to `len` (the file size may grow to it).
    async fn preallocate(&self, len: u64) -> io::Result<()>;
    async fn truncate(&self, len: u64) -> io::Result<()>;
    async fn size(&self) -> io::Result<u64>;
}
