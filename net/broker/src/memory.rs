//! Giving freed memory back to the system.
//!
//! glibc keeps freed heap memory in its arenas (one per thread that
//! allocated) for reuse, so after a burst of connections, of large requests
//! or of hostile peers the broker's RSS would stay at its peak. Every
//! [`TRIM_INTERVAL`] core 0 asks glibc to return the free pages of every
//! arena (`malloc_trim(0)`), on its blocking pool since a trim of a large
//! heap takes milliseconds.
//!
//! Lives on: core 0 (the trim covers the whole process).

use crate::limits::TRIM_INTERVAL;

/// Trims the heap every [`TRIM_INTERVAL`], forever.
pub async fn trim_periodically() {
    loop {
        corelog_runtime::sleep(TRIM_INTERVAL).await;
        corelog_runtime::blocking(trim).await;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks and releases glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
