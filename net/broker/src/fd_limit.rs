//! The process's open-file limit: raised to the hard limit at start, then
//! spent as [`FdBudget`] says.
//!
//! The soft RLIMIT_NOFILE is often 1024 while the hard one is far higher
//! (systemd's default hard limit is 524288); a broker holds a descriptor
//! per partition, so it raises the soft limit to the hard one, as Go's
//! runtime does for every program. Lowering is never done.
//!
//! Lives on: the thread that starts the broker (the limit is per process).

use std::io;

use crate::limits::{fd_budget, FdBudget};

/// The open-file limit before and after [`raise_to_hard_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
}

fn get() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

fn set(soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises the soft open-file limit to the hard one. An unlimited hard limit
/// is capped at the kernel's `fs.nr_open` (setrlimit refuses more).
pub fn raise_to_hard_limit() -> io::Result<OpenFileLimit> {
    let limit = get()?;
    let (before, hard) = (limit.rlim_cur, limit.rlim_max);
    let target = if hard == libc::RLIM_INFINITY { nr_open().unwrap_or(before) } else { hard };
    if target > before {
        set(target, hard)?;
    }
    Ok(OpenFileLimit { before, now: get()?.rlim_cur, hard })
}

/// The kernel's ceiling on any process's descriptors.
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open").ok()?.trim().parse().ok()
}

/// Raises the limit and logs what it allows; the budget of the limit the
/// broker ends up with (the old one if it could not be raised).
pub fn raise_and_budget(cores: u64, max_connections_per_core: u64) -> io::Result<FdBudget> {
    let limit = match raise_to_hard_limit() {
        Ok(limit) => limit,
        Err(e) => {
            let now = get()?.rlim_cur;
            tracing::warn!(error = %e, limit = now, "cannot raise the open-file limit; keeping it");
            OpenFileLimit { before: now, now, hard: now }
        }
    };
    let budget = fd_budget(limit.now, cores, max_connections_per_core);
    tracing::info!(
        "open-file limit {} (raised from {}; hard limit {}): room for {} partitions at one descriptor each, with {} \
         sealed-segment files open per core and {} descriptors kept for connections and the broker",
        limit.now,
        limit.before,
        limit.hard,
        budget.partitions,
        budget.fd_cache_per_core,
        budget.reserved
    );
    Ok(budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_reaches_the_hard_limit_and_never_lowers() {
        let limit = raise_to_hard_limit().unwrap();
        assert!(limit.now >= limit.before);
        if limit.hard != libc::RLIM_INFINITY {
            assert_eq!(limit.now, limit.hard);
        }
        // Once raised, raising again changes nothing.
        let again = raise_to_hard_limit().unwrap();
        assert_eq!((again.before, again.now), (limit.now, limit.now));
    }
}
