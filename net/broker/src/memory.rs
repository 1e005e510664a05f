//! The broker's allocator, and giving freed memory back to the system.
//!
//! The broker allocates through jemalloc ([`Allocator`], installed by the
//! `corelog` binary): glibc's heap fragmented around the per-flush
//! 4096-aligned staging chunks of 10,000 busy partitions and held past 1 GiB,
//! where jemalloc's size classes reuse them (figures in docs/broker.md).
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
/// it (`#[global_allocator] static A: Allocator = Allocator;`).
pub use tikv_jemallocator::Jemalloc as Allocator;

/// Purges the heap every [`TRIM_INTERVAL`], forever.
pub(crate) async fn trim_periodically() {
    loop {
        corelog_runtime::sleep(TRIM_INTERVAL).await;
        corelog_runtime::blocking(trim).await;
    }
}

/// The control that purges every arena at once: 4096 is
/// `MALLCTL_ARENAS_ALL` in jemalloc.h (the sys crate does not export it).
const PURGE_EVERY_ARENA: &std::ffi::CStr = c"arena.4096.purge";

fn trim() {
    let rc = purge_every_arena();
    if rc != 0 {
        tracing::warn!(rc, "jemalloc refused to purge its arenas");
    }
}

/// Returns every arena's unused dirty pages to the system; 0 or an errno.
fn purge_every_arena() -> libc::c_int {
    // SAFETY: a NUL-terminated name and null value pointers, as this
    // control (no value in or out) requires; it only walks jemalloc's own
    // arenas.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_EVERY_ARENA.as_ptr(),
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

    /// The control exists under this name: a wrong name is refused
    /// (ENOENT), which `trim` would only log.
    #[test]
    fn purging_every_arena_is_accepted() {
        assert_eq!(purge_every_arena(), 0);
    }
}
