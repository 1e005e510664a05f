//! O_DIRECT files through io_uring, and the buffers they take and return.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::ops::Deref;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use glommio::io::{DmaBuffer, OpenOptions, ReadResult};

fn to_io(e: glommio::GlommioError<()>) -> io::Error {
    match e {
        // glommio's own conversion keeps the kind of an I/O error but not its
        // OS error code, which callers need to tell "out of descriptors"
        // from other failures ([`os_error`]).
        glommio::GlommioError::EnhancedIoError { source, op, path, .. } => {
            let what = match path {
                Some(path) => format!("{op} {}", path.display()),
                None => op.to_string(),
            };
            io::Error::new(source.kind(), WithContext { what, source })
        }
        other => other.into(),
    }
}

/// `source` with what was being done when it happened, keeping its OS
/// error code for [`os_error`] (an `io::Error::new` around its text would
/// lose it, and with it the broker's "too many open files" advice).
pub fn with_context(what: impl Into<String>, source: io::Error) -> io::Error {
    io::Error::new(source.kind(), WithContext { what: what.into(), source })
}

/// An OS error and what was being done when it happened.
#[derive(Debug)]
struct WithContext {
    what: String,
    source: io::Error,
}

impl std::fmt::Display for WithContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.source, self.what)
    }
}

impl std::error::Error for WithContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The OS error code (`errno`) behind an I/O error, also when a file
/// operation of this crate wrapped it with what it was doing.
pub fn os_error(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref().and_then(|inner| inner.downcast_ref::<WithContext>()).and_then(|c| c.source.raw_os_error())
    })
}

/// A block-aligned buffer a [`DmaFile`] can write without a bounce copy.
pub struct IoBuf(DmaBuffer);

impl IoBuf {
    /// A buffer from this executor's DMA allocator: the one every
    /// [`DmaFile`] of the executor allocates from, so it suits any of them.
    /// For callers that must prepare a write before the file is open (files
    /// opened on demand, see corelog-storage's fd cache).
    pub fn alloc(len: usize) -> IoBuf {
        IoBuf(glommio::allocate_dma_buffer(len))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_bytes()
    }
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.0.as_bytes_mut()
    }
    /// Shrinks the length written (must stay block-aligned for O_DIRECT).
    pub fn truncate(&mut self, len: usize) {
        self.0.trim_to_size(len)
    }
}

/// Bytes read from a file: either the DMA buffer itself (no copy) or owned
/// bytes (fault-injecting storage hands back modified copies).
#[derive(Clone)]
pub enum ReadBuf {
    Dma(ReadResult),
    Owned(bytes::Bytes),
}

impl ReadBuf {
    /// A sub-range sharing the same memory; None if out of bounds.
    pub fn slice(&self, offset: usize, len: usize) -> Option<ReadBuf> {
        match self {
            ReadBuf::Dma(r) => ReadResult::slice(r, offset, len).map(ReadBuf::Dma),
            ReadBuf::Owned(b) => {
                let end = offset.checked_add(len)?;
                (end <= b.len()).then(|| ReadBuf::Owned(b.slice(offset..end)))
            }
        }
    }
}

impl Deref for ReadBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ReadBuf::Dma(r) => r,
            ReadBuf::Owned(b) => b,
        }
    }
}

impl AsRef<[u8]> for ReadBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

thread_local! {
    /// Devices whose iopoll support this thread's executor has probed.
    static PROBED_DEVICES: RefCell<HashSet<u64>> = RefCell::new(HashSet::new());
}

/// glommio 0.9 decides once per device (per thread) whether to use the
/// polled-I/O ring by reading the first block of the first file it opens
/// there. On an empty file that read succeeds without reaching the driver,
/// so a device without poll queues is taken as pollable and every later
/// read fails with EOPNOTSUPP. Probing with a file that holds a block
/// makes the answer real.
async fn ensure_iopoll_probed(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let device = std::fs::metadata(dir)?.dev();
    if PROBED_DEVICES.with(|p| p.borrow().contains(&device)) {
        return Ok(());
    }
    let probe = dir.join(format!(".iopoll-probe-{}", std::process::id()));
    std::fs::write(&probe, vec![0u8; crate::limits::BLOCK_SIZE])?;
    let opened = OpenOptions::new().read(true).dma_open(&probe).await.map_err(to_io);
    let _ = std::fs::remove_file(&probe);
    opened?.close().await.map_err(to_io)?;
    PROBED_DEVICES.with(|p| p.borrow_mut().insert(device));
    Ok(())
}

/// A file opened with O_DIRECT; every read and write goes through io_uring.
pub struct DmaFile(glommio::io::DmaFile);

impl DmaFile {
    /// Opens for read and write, creating it if `create`.
    pub async fn open_rw(path: &Path, create: bool) -> io::Result<DmaFile> {
        ensure_iopoll_probed(path).await?;
        let file = OpenOptions::new().read(true).write(true).create(create).dma_open(path).await.map_err(to_io)?;
        Ok(DmaFile(file))
    }

    /// Opens read-only (sealed segments).
    pub async fn open_read(path: &Path) -> io::Result<DmaFile> {
        ensure_iopoll_probed(path).await?;
        let file = OpenOptions::new().read(true).dma_open(path).await.map_err(to_io)?;
        Ok(DmaFile(file))
    }

    /// The device's O_DIRECT alignment.
    pub fn alignment(&self) -> u64 {
        self.0.alignment()
    }

    pub fn alloc_buffer(&self, len: usize) -> IoBuf {
        IoBuf(self.0.alloc_dma_buffer(len))
    }

    pub async fn write_at(&self, buf: IoBuf, pos: u64) -> io::Result<usize> {
        self.0.write_at(buf.0, pos).await.map_err(to_io)
    }

    /// Reads up to `len` bytes at any `pos`; glommio widens the request to the
    /// alignment and hands back the requested window without copying.
    pub async fn read_at(&self, pos: u64, len: usize) -> io::Result<ReadBuf> {
        self.0.read_at(pos, len).await.map(ReadBuf::Dma).map_err(to_io)
    }

    pub async fn fdatasync(&self) -> io::Result<()> {
        self.0.fdatasync().await.map_err(to_io)
    }

    /// Reserves blocks up to `len` and extends the file size to it (writes
    /// inside the size are not size-extending direct writes, which ext4
    /// serializes); the log finds its logical end by scanning, not by size.
    pub async fn preallocate(&self, len: u64) -> io::Result<()> {
        self.0.pre_allocate(len, false).await.map_err(to_io)
    }

    pub async fn truncate(&self, len: u64) -> io::Result<()> {
        self.0.truncate(len).await.map_err(to_io)
    }

    pub async fn size(&self) -> io::Result<u64> {
        self.0.file_size().await.map_err(to_io)
    }

    pub async fn close(self) -> io::Result<()> {
        self.0.close().await.map_err(to_io)
    }
}

/// fsyncs a directory so a create, rename or unlink inside it is durable.
pub async fn sync_dir(path: &Path) -> io::Result<()> {
    // glommio opens directories with openat(-1, ..), which needs an absolute path.
    let path = std::fs::canonicalize(path)?;
    let dir = glommio::io::Directory::open(&path).await.map_err(to_io)?;
    dir.sync().await.map_err(to_io)?;
    dir.close().await.map_err(to_io)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linux's "too many open files".
    const EMFILE: i32 = 24;

    #[test]
    fn file_errors_keep_their_os_error_code_and_say_what_failed() {
        let e = to_io(glommio::GlommioError::EnhancedIoError {
            source: io::Error::from_raw_os_error(EMFILE),
            op: "Opening",
            path: Some("/data/t/0/00000000000000000000.log".into()),
            fd: None,
        });
        assert_eq!(os_error(&e), Some(EMFILE));
        let shown = e.to_string();
        assert!(shown.contains("Too many open files") && shown.contains("Opening /data/t/0/"), "{shown}");
        assert_eq!(os_error(&io::Error::from_raw_os_error(EMFILE)), Some(EMFILE));
        assert_eq!(os_error(&io::Error::other("no code")), None);
    }

    #[test]
    fn context_added_by_hand_keeps_the_os_error_code() {
        let e = with_context("reading /data/t/0/leader-epoch-checkpoint", io::Error::from_raw_os_error(EMFILE));
        assert_eq!(os_error(&e), Some(EMFILE));
        let shown = e.to_string();
        assert!(shown.contains("Too many open files") && shown.contains("leader-epoch-checkpoint"), "{shown}");
    }
}
