//! The production storage: O_DIRECT files through io_uring.

use std::io;
use std::path::Path;

use super::{Storage, StorageFile};
use crate::limits::BLOCK_SIZE;
use corelog_runtime::{DmaFile, IoBuf, ReadBuf};

/// Real files, opened O_DIRECT.
#[derive(Clone, Copy, Debug, Default)]
pub struct DmaStorage;

impl Storage for DmaStorage {
    type File = DmaFile;

    async fn open(&self, path: &Path, create: bool) -> io::Result<DmaFile> {
        let file = DmaFile::open_rw(path, create).await?;
        // Every write we issue is BLOCK_SIZE-aligned; a device needing more
        // would turn each into EINVAL, so refuse it up front.
        if !(BLOCK_SIZE as u64).is_multiple_of(file.alignment()) {
            return Err(io::Error::other(format!(
                "{}: device O_DIRECT alignment {} does not divide {BLOCK_SIZE}",
                path.display(),
                file.alignment()
            )));
        }
        Ok(file)
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        corelog_runtime::fs::remove_file(path).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        corelog_runtime::fs::rename(from, to).await
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        corelog_runtime::sync_dir(dir).await
    }
}

impl StorageFile for DmaFile {
    fn alloc_buffer(&self, len: usize) -> IoBuf {
        DmaFile::alloc_buffer(self, len)
    }

    async fn write_at(&self, buf: IoBuf, pos: u64) -> io::Result<()> {
        let len = buf.len();
        let written = DmaFile::write_at(self, buf, pos).await?;
        if written != len {
            return Err(io::Error::new(io::ErrorKind::WriteZero, format!("short write: {written} of {len} bytes")));
        }
        Ok(())
    }

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<ReadBuf> {
        DmaFile::read_at(self, pos, len).await
    }

    async fn fdatasync(&self) -> io::Result<()> {
        DmaFile::fdatasync(self).await
    }

    async fn preallocate(&self, len: u64) -> io::Result<()> {
        DmaFile::preallocate(self, len).await
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        DmaFile::truncate(self, len).await
    }

    async fn size(&self) -> io::Result<u64> {
        DmaFile::size(self).await
    }
}
