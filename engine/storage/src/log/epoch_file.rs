//! The leader-epoch cache on disk: `leader-epoch-checkpoint` in the
//! partition directory (layout in `leader_epochs.rs`), replaced whole and
//! atomically by way of `leader-epoch-checkpoint.tmp` (`replace_file.rs`),
//! once per leader change or truncation.
//!
//! Lives on: the core owning the partition (the I/O runs on the blocking
//! pool and completes on that core).

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::leader_epochs::LeaderEpochs;
use crate::error::{LogError, LogResult};
use crate::limits::MAX_LEADER_EPOCH_FILE_BYTES;

pub const FILE_NAME: &str = "leader-epoch-checkpoint";
const TMP_NAME: &str = "leader-epoch-checkpoint.tmp";

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The cache saved in `dir`, or None if there is no file. A file that is
/// not a valid one is an error naming it (the log does not open).
pub async fn load(dir: &Path) -> LogResult<Option<LeaderEpochs>> {
    let path = path(dir);
    let read = {
        let path = path.clone();
        corelog_runtime::blocking(move || read_bounded(&path)).await
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::Io(corelog_runtime::with_context(format!("reading {}", path.display()), e))),
    };
    LeaderEpochs::decode(&bytes).map(Some).map_err(|reason| {
        LogError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("damaged leader-epoch file {}: {reason}", path.display()),
        ))
    })
}

/// Reads the file whole, refusing one larger than any valid file.
fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_LEADER_EPOCH_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{len} bytes, larger than any leader-epoch file ({MAX_LEADER_EPOCH_FILE_BYTES})"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_LEADER_EPOCH_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Replaces the file in `dir` with `epochs`, durably (module docs).
pub async fn save(dir: &Path, epochs: &LeaderEpochs) -> io::Result<()> {
    super::replace_file::replace(dir.to_path_buf(), FILE_NAME, TMP_NAME, epochs.encode()).await
}
