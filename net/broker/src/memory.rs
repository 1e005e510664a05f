//! The broker's allocator, and giving freed memory back to the system.
//!
//! The broker allocates through jemalloc ([`Allocator`], installed by the
//! `corelog` binary). Every partition that flushes stages its bytes in
//! 4096-aligned chunks of up to `WRITE_CHUNK_BYTES`; with 10,000 partitions
//! under load glibc's heap fragmented around them (peak RSS 1.06–1.15 GB,
//! 0.96 GB still held afterwards), where jemalloc's size-classed extents keep
//! the same run at 0.68–0.71 GB.
//!
//! jemalloc returns unused pages on its own only as it allocates (decay), so
//! an idle broker would stay at its last peak after a burst of connections,
//! of large requests or of hostile peers. Every [`TRIM_INTERVAL`] core 0
//! purges every arena, on its blocking pool since purging a large heap takes
//! milliseconds.
//!
//! Lives on: core 0 (the purge covers the whole process).

use crate::limits::TRIM_INTERVAL;

/// The global allocator the broker is built for: [`trim_periodically`]
/// purges this allocator's arenas, so a binary that serves a broker installs
/// it (`#[global_allocator] static A: Allocator = ALLOCATOR;`).
pub type Allocator = tikv_jemallocator::Jemalloc;

/// The one value of [`Allocator`].
pub const ALLOCATOR: Allocator = tikv_jemallocator::Jemalloc;

/// Purges the heap every [`TRIM_INTERVAL`], forever.
pub(crate) async fn trim_periodically() {
    loop {
        corelog_runtime::sleep(TRIM_INTERVAL).await;
        corelog_runtime::blocking(trim).await;
    }
}

/// jemalloc's index that names every arena at once in `arena.<i>.*`
/// controls (`MALLCTL_ARENAS_ALL` in jemalloc.h; the sys crate does not
/// export it).
const ARENAS_ALL: u32 = 4096;

fn trim() {
    let rc = purge_every_arena();
    if rc != 0 {
        tracing::warn!(rc, "jemalloc refused to purge its arenas");
    }
}

/// Returns every arena's unused dirty pages to the system; 0 or an errno.
fn purge_every_arena() -> libc::c_int {
    // `arena.<i>.purge` takes no value in or out.
    let name = format!("arena.{ARENAS_ALL}.purge\0");
    // SAFETY: a NUL-terminated name and null value pointers, as this
    // control requires; it only walks jemalloc's own arenas.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The control exists under this name: a wrong name or arena index is
    /// refused (ENOENT / EFAULT), which `trim` would only log.
    #[test]
    fn purging_every_arena_is_accepted() {
        assert_eq!(purge_every_arena(), 0);
    }
}
