//! Replacing a small partition file whole and atomically (the leader-epoch
//! checkpoint, the producer snapshot): written to a temporary name,
//! fdatasync'd, renamed over the old one, the directory fsync'd. A crash
//! leaves either the old file or the new one, never a mix; a leftover
//! temporary file is ignored and overwritten by the next save.
//!
//! These files are tiny and written rarely, so they go through buffered
//! std::fs on the runtime's blocking pool (never on the executor), not
//! through the O_DIRECT [`crate::disk::Storage`] of the segments.
//!
//! Lives on: the core owning the partition (the I/O runs on the blocking
//! pool and completes on that core).

use std::io::{self, Write};
use std::path::PathBuf;

/// Replaces `dir/name` with `bytes` by way of `dir/tmp_name`, durably.
pub(super) async fn replace(
    dir: PathBuf,
    name: &'static str,
    tmp_name: &'static str,
    bytes: Vec<u8>,
) -> io::Result<()> {
    corelog_runtime::blocking(move || {
        let tmp = dir.join(tmp_name);
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_data()?;
        drop(file);
        std::fs::rename(&tmp, dir.join(name))?;
        std::fs::File::open(&dir)?.sync_all()
    })
    .await
    .map_err(|e| corelog_runtime::with_context(format!("saving {name}"), e))
}
