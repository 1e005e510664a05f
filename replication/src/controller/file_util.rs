//! The durable-write steps the controller's files share.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ControllerError;

/// Replaces `path` by `bytes` so that after a crash it holds either the old
/// or the new bytes: write `<path>.tmp`, fsync it, rename it over `path`,
/// fsync the directory (the rename itself is durable only then).
pub(crate) fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<(), ControllerError> {
    let tmp = tmp_path(path);
    let mut file = File::create(&tmp).map_err(ControllerError::io(&tmp))?;
    file.write_all(bytes).map_err(ControllerError::io(&tmp))?;
    file.sync_all().map_err(ControllerError::io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(ControllerError::io(path))?;
    sync_dir(path.parent().expect("controller files live in a directory"))
}

pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().expect("a file name").to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes the directory's entries (creations, renames) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ControllerError> {
    OpenOptions::new().read(true).open(dir).and_then(|d| d.sync_all()).map_err(ControllerError::io(dir))
}

/// The whole file, or `None` if it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, ControllerError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ControllerError::Io { path: path.to_path_buf(), source: e }),
    }
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}
