//! A storage that injects disk faults into a real one, for recovery tests.
//!
//! It wraps the production storage (real O_DIRECT files), so what recovery
//! later reads back is what a real disk would hold after the fault.

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{Storage, StorageFile};
use crate::limits::BLOCK_SIZE;
use corelog_runtime::{IoBuf, ReadBuf};

/// One fault, armed until it fires (except the sticky ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The next write persists only its first `keep_blocks` blocks and then
    /// fails with EIO: what a power cut leaves behind mid-write.
    TearNextWrite { keep_blocks: usize },
    /// Every write fails with EIO, persisting nothing (sticky).
    FailWrites,
    /// Every fdatasync fails with EIO (sticky).
    FailSync,
    /// Every read fails with EIO (sticky).
    FailReads,
    /// Reads of files whose path contains `path_contains` see bit `bit` of the
    /// byte at file position `pos` flipped (sticky; models media corruption).
    FlipBitOnRead { path_contains: String, pos: u64, bit: u8 },
    /// Truncations of files whose path contains `path_contains` wait while
    /// this is armed (sticky; a metadata change the disk is slow to make).
    StallTruncate { path_contains: String },
    /// Directory syncs wait while this is armed (sticky; a slow journal
    /// commit).
    StallSyncDir,
    /// File fdatasyncs wait while this is armed (sticky; a slow cache flush).
    StallSync,
}

/// A real EIO, as the kernel reports it, tagged with what failed.
fn eio(what: &str) -> io::Error {
    let eio = io::Error::from_raw_os_error(libc::EIO);
    io::Error::new(eio.kind(), format!("injected on {what}: {eio}"))
}

/// Wraps `S`, consulting a shared list of armed faults on every operation.
#[derive(Clone)]
pub struct FaultyStorage<S: Storage> {
    inner: S,
    faults: Rc<RefCell<Vec<Fault>>>,
}

impl<S: Storage> FaultyStorage<S> {
    pub fn new(inner: S) -> Self {
        FaultyStorage { inner, faults: Rc::default() }
    }

    pub fn arm(&self, fault: Fault) {
        self.faults.borrow_mut().push(fault);
    }

    pub fn disarm_all(&self) {
        self.faults.borrow_mut().clear();
    }

    fn has(&self, fault: &Fault) -> bool {
        self.faults.borrow().contains(fault)
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    type File = FaultyFile<S::File>;

    async fn open(&self, path: &Path, create: bool) -> io::Result<Self::File> {
        let inner = self.inner.open(path, create).await?;
        Ok(FaultyFile { inner, path: path.to_path_buf(), storage_faults: self.faults.clone() })
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to).await
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.has(&Fault::FailSync) {
            return Err(eio("directory sync"));
        }
        while self.has(&Fault::StallSyncDir) {
            corelog_runtime::sleep(std::time::Duration::from_millis(1)).await;
        }
        self.inner.sync_dir(dir).await
    }
}

/// A file of a [`FaultyStorage`].
pub struct FaultyFile<F: StorageFile> {
    inner: F,
    path: PathBuf,
    storage_faults: Rc<RefCell<Vec<Fault>>>,
}

impl<F: StorageFile> FaultyFile<F> {
    fn has(&self, fault: &Fault) -> bool {
        self.storage_faults.borrow().contains(fault)
    }

    /// Removes and returns a one-shot tear, if armed.
    fn take_tear(&self) -> Option<usize> {
        let mut faults = self.storage_faults.borrow_mut();
        let at = faults.iter().position(|f| matches!(f, Fault::TearNextWrite { .. }))?;
        match faults.remove(at) {
            Fault::TearNextWrite { keep_blocks } => Some(keep_blocks),
            _ => None,
        }
    }

    fn bit_flips(&self) -> Vec<(u64, u8)> {
        let path = self.path.to_string_lossy();
        self.storage_faults
            .borrow()
            .iter()
            .filter_map(|f| match f {
                Fault::FlipBitOnRead { path_contains, pos, bit } if path.contains(path_contains.as_str()) => {
                    Some((*pos, *bit))
                }
                _ => None,
            })
            .collect()
    }
}

impl<F: StorageFile> StorageFile for FaultyFile<F> {
    fn alloc_buffer(&self, len: usize) -> IoBuf {
        self.inner.alloc_buffer(len)
    }

    async fn write_at(&self, buf: IoBuf, pos: u64) -> io::Result<()> {
        if self.has(&Fault::FailWrites) {
            return Err(eio("write"));
        }
        if let Some(keep_blocks) = self.take_tear() {
            let keep = (keep_blocks * BLOCK_SIZE).min(buf.len());
            if keep > 0 {
                let mut prefix = self.inner.alloc_buffer(keep);
                prefix.as_mut_slice().copy_from_slice(&buf.as_slice()[..keep]);
                self.inner.write_at(prefix, pos).await?;
            }
            return Err(eio("write (torn)"));
        }
        self.inner.write_at(buf, pos).await
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<ReadBuf> {
        if self.has(&Fault::FailReads) {
            return Err(eio("read"));
        }
        let read = self.inner.read_at(pos, len).await?;
        let flips: Vec<_> =
            self.bit_flips().into_iter().filter(|(at, _)| *at >= pos && *at < pos + read.len() as u64).collect();
        if flips.is_empty() {
            return Ok(read);
        }
        let mut copy = read.to_vec();
        for (at, bit) in flips {
            copy[(at - pos) as usize] ^= 1 << (bit % 8);
        }
        Ok(ReadBuf::Owned(copy.into()))
    }

    async fn fdatasync(&self) -> io::Result<()> {
        if self.has(&Fault::FailSync) {
            return Err(eio("fdatasync"));
        }
        while self.has(&Fault::StallSync) {
            corelog_runtime::sleep(std::time::Duration::from_millis(1)).await;
        }
        self.inner.fdatasync().await
    }

    async fn preallocate(&self, len: u64) -> io::Result<()> {
        self.inner.preallocate(len).await
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        let path = self.path.to_string_lossy();
        let stalled =
            |f: &Fault| matches!(f, Fault::StallTruncate { path_contains } if path.contains(path_contains.as_str()));
        while self.storage_faults.borrow().iter().any(stalled) {
            corelog_runtime::sleep(std::time::Duration::from_millis(1)).await;
        }
        self.inner.truncate(len).await
    }

    async fn size(&self) -> io::Result<u64> {
        self.inner.size().await
    }
}
