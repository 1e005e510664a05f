//! The three files of one segment and their names.
//!
//! ```text
//!  <dir>/<base offset, 20 digits>.log        batches, end to end
//!  <dir>/<base offset, 20 digits>.index      sparse offset index
//!  <dir>/<base offset, 20 digits>.timeindex  sparse time index
//! ```

use std::io;
use std::path::{Path, PathBuf};

use crate::disk::Storage;

pub const LOG_SUFFIX: &str = "log";
pub const INDEX_SUFFIX: &str = "index";
pub const TIME_INDEX_SUFFIX: &str = "timeindex";

/// Path of a segment file with the given suffix.
pub fn segment_path(dir: &Path, base_offset: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// Base offset of a `.log` file name, if it is one.
pub fn parse_log_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Open handles on a segment's log and index files.
pub struct SegmentFiles<F> {
    pub base_offset: u64,
    pub log: F,
    pub offset_index: F,
    pub time_index: F,
}

impl<F> SegmentFiles<F> {
    pub async fn open<S: Storage<File = F>>(
        storage: &S,
        dir: &Path,
        base_offset: u64,
        create: bool,
    ) -> io::Result<Self> {
        Ok(SegmentFiles {
            base_offset,
            log: storage.open(&segment_path(dir, base_offset, LOG_SUFFIX), create).await?,
            offset_index: storage.open(&segment_path(dir, base_offset, INDEX_SUFFIX), true).await?,
            time_index: storage.open(&segment_path(dir, base_offset, TIME_INDEX_SUFFIX), true).await?,
        })
    }

    /// Deletes all three files (callers sync the directory afterwards). The
    /// log goes last: recovery finds segments by their `.log`, so a crash
    /// midway leaves at worst a log without indexes (rebuilt on open), never
    /// indexes without a log that a new segment could inherit.
    pub async fn remove<S: Storage<File = F>>(storage: &S, dir: &Path, base_offset: u64) -> io::Result<()> {
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX] {
            match storage.remove(&segment_path(dir, base_offset, suffix)).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}
