//! File-system operations that are not reads or writes of an open file:
//! unlinks, directory trees. None of them may block a core's executor (a
//! `remove_dir_all` of a big partition, or an unlink that frees a 1 GiB
//! segment, can take milliseconds during which every partition of the core
//! would stall), so they run on the executor's blocking thread pool
//! ([`crate::blocking`]).
//!
//! Lives on: any core; each call completes on the core that made it.

use std::io;
use std::path::{Path, PathBuf};

/// Removes a file.
pub async fn remove_file(path: &Path) -> io::Result<()> {
    let path = path.to_path_buf();
    crate::blocking(move || std::fs::remove_file(path)).await
}

/// Renames a file (atomic within one file system; replaces `to`).
pub async fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    crate::blocking(move || std::fs::rename(from, to)).await
}

/// Removes a directory and everything in it; Ok if it did not exist.
pub async fn remove_dir_all(path: &Path) -> io::Result<()> {
    let path = path.to_path_buf();
    crate::blocking(move || match std::fs::remove_dir_all(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    })
    .await
}

/// Removes a directory if it is empty; false if it was not (or is gone).
pub async fn remove_dir_if_empty(path: &Path) -> bool {
    let path = path.to_path_buf();
    crate::blocking(move || std::fs::remove_dir(path).is_ok()).await
}

/// Creates a directory and its parents.
pub async fn create_dir_all(path: &Path) -> io::Result<()> {
    let path: PathBuf = path.to_path_buf();
    crate::blocking(move || std::fs::create_dir_all(path)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_operations_run_off_the_executor() {
        let dir = std::env::temp_dir().join(format!("corelog-runtime-fs-{}", std::process::id()));
        crate::run_local(async {
            create_dir_all(&dir.join("a/b")).await.unwrap();
            std::fs::write(dir.join("a/b/f"), b"x").unwrap();
            assert!(!remove_dir_if_empty(&dir.join("a")).await);
            remove_file(&dir.join("a/b/f")).await.unwrap();
            assert!(remove_file(&dir.join("a/b/f")).await.is_err());
            assert!(remove_dir_if_empty(&dir.join("a/b")).await);
            remove_dir_all(&dir).await.unwrap();
            assert!(!dir.exists());
            // A tree that is already gone is not an error.
            remove_dir_all(&dir).await.unwrap();
            // The work ran on another thread than the executor's.
            let here = std::thread::current().id();
            assert_ne!(crate::blocking(|| std::thread::current().id()).await, here);
        });
    }
}
