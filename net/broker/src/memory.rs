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
//! That purge is the only one: jemalloc's own decay is off
//! ([`JEMALLOC_OPTIONS`]). A broker frees what it receives at the rate it
//! receives it (a produce request once appended, a replica fetch answer once
//! written), and decay handed those pages back to the kernel between one
//! request and the next, so each new receive buffer was fresh memory that
//! recv(2) faulted in and the kernel zeroed, page by page: 74,000 faults a
//! second over three RF 3 replicas, against 10,000 with decay off, and 1.33x
//! the throughput (docs/bench.md). `_RJEM_MALLOC_CONF` still overrides it.
//!
//! Lives on: core 0 (the purge covers the whole process).

use crate::limits::TRIM_INTERVAL;

/// The global allocator the broker is built for: [`trim_periodically`]
/// purges this allocator's arenas, so a binary that serves a broker installs
/// it (`#[global_allocator] static A: Allocator = Allocator;`).
pub use tikv_jemallocator::Jemalloc as Allocator;

/// jemalloc's options, as its `malloc_conf` string: no time-based purging of
/// dirty or lazily freed pages, so freed buffers are reused warm until the
/// next [`TRIM_INTERVAL`] purge.
pub const JEMALLOC_OPTIONS: &[u8] = b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

/// The `malloc_conf` symbol jemalloc reads when it initializes (named with
/// the `_rjem_` prefix tikv-jemalloc-sys builds it with): a C string
/// pointer, so a thin pointer to the first byte.
#[used]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &u8 = &JEMALLOC_OPTIONS[0];

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

    /// jemalloc took the options: its decay is off (a misspelt symbol or
    /// option would leave the default of 10 s).
    #[test]
    fn jemalloc_runs_without_decay() {
        for option in [c"opt.dirty_decay_ms", c"opt.muzzy_decay_ms"] {
            let mut value: libc::ssize_t = 0;
            let mut len = std::mem::size_of::<libc::ssize_t>();
            // SAFETY: a NUL-terminated name, and a value pointer and length
            // that match the control's type (ssize_t).
            let rc = unsafe {
                tikv_jemalloc_sys::mallctl(
                    option.as_ptr(),
                    (&mut value as *mut libc::ssize_t).cast(),
                    &mut len,
                    std::ptr::null_mut(),
                    0,
                )
            };
            assert_eq!((rc, value), (0, -1), "{option:?}");
        }
        assert_eq!(JEMALLOC_OPTIONS.last(), Some(&0), "a C string");
    }
}
