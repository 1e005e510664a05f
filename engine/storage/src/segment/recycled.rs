//! Recycled segment files: a log file that retention would delete, kept
//! under another name to become the next active segment's log.
//!
//! Why: ext4 hands out fallocated space as unwritten extents, and the first
//! write into them makes every fdatasync commit the journal (the extents
//! turn written); space written once before is just overwritten, and the
//! fdatasync is a cache flush. Measured on the dev machine, 1 MiB O_DIRECT
//! writes with an fdatasync every 2 MiB: 1712–1777 MB/s into fallocated
//! space, 2357–2409 MB/s into written space, fdatasync p50 0.15 vs 0.05 ms.
//! A partition at its retention limit deletes a segment for about every one
//! it rolls; reusing that file keeps its writes in written space.
//!
//! ```text
//!  <dir>/<base offset of the segment it was, 20 digits>.recycled
//! ```
//!
//! A log keeps at most [`MAX_RECYCLED_PER_LOG`] such file. Its bytes are the
//! old segment's batches, all with offsets below the log start offset when
//! it was recycled. The log never writes an offset below its log start
//! again (truncation stops at the start, `restart_at` only moves forward),
//! so recovery can never take a leftover batch for the continuation of the
//! new segment: the scan wants the next offset, and a leftover batch's
//! offset is lower (scan.rs ends the log there, cleanly). The file is only
//! ever reused by the partition it came from; another partition's offsets
//! would not be lower.
//!
//! Lives on: the core owning the partition.

use std::io;
use std::path::{Path, PathBuf};

use super::files::{parse_segment_name, segment_path, SegmentFiles, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::disk::Storage;
pub use crate::limits::MAX_RECYCLED_PER_LOG;

pub const RECYCLED_SUFFIX: &str = "recycled";

/// Path of the recycled file made from the segment at `base_offset`.
pub fn recycled_path(dir: &Path, base_offset: u64) -> PathBuf {
    segment_path(dir, base_offset, RECYCLED_SUFFIX)
}

/// Whether `name` is a recycled file's name.
pub fn is_recycled_name(name: &str) -> bool {
    parse_segment_name(name, RECYCLED_SUFFIX).is_some()
}

/// The recycled files in `dir`, sorted by name.
pub fn list(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(is_recycled_name))
        .map(|e| e.path())
        .collect();
    found.sort();
    Ok(found)
}

/// Deletes the segment at `base_offset` but keeps its log as a recycled
/// file, which is returned (callers sync the directory afterwards). The
/// indexes go first and the log is renamed last, for the reason
/// `SegmentFiles::remove` deletes it last; a rename is atomic, so a crash
/// leaves the log under one name or the other.
pub async fn recycle<S: Storage>(storage: &S, dir: &Path, base_offset: u64) -> io::Result<PathBuf> {
    SegmentFiles::remove_files(storage, dir, base_offset, &[INDEX_SUFFIX, TIME_INDEX_SUFFIX]).await?;
    let to = recycled_path(dir, base_offset);
    storage.rename(&segment_path(dir, base_offset, LOG_SUFFIX), &to).await?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let dir = Path::new("/d");
        assert_eq!(recycled_path(dir, 42), Path::new("/d/00000000000000000042.recycled"));
        assert!(is_recycled_name("00000000000000000042.recycled"));
        assert!(!is_recycled_name("00000000000000000042.log"));
        assert!(!is_recycled_name("42.recycled"));
        assert!(!is_recycled_name("0000000000000000004x.recycled"));
        // Not a segment: recovery's `.log` parser never picks it up.
        assert_eq!(super::super::files::parse_log_name("00000000000000000042.recycled"), None);
    }
}
