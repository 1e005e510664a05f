//! Which CPU each core's executor thread runs on (Seastar's and Redpanda's
//! `--cpuset`).
//!
//! Thread-per-core wants one pinned thread per CPU, but not always CPU i for
//! core i: several brokers sharing one machine (a test cluster, a benchmark,
//! three `--cores 1` nodes on a 2-CPU box) must not all pin their core 0 to
//! CPU 0 while the other CPUs idle, and a process started under `taskset`
//! may not run on CPU 0 at all.
//!
//! Lives on: the starting thread (it only describes where cores go).

use std::fmt;
use std::str::FromStr;

use crate::limits::MAX_CPU_INDEX;

/// Where the cores' threads run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CpuPlacement {
    /// Core i pinned to the i-th CPU this process may run on (its affinity
    /// mask, so `taskset` is honoured): the thread-per-core default.
    #[default]
    Spread,
    /// Core i pinned to `cpus[i]`; there are at most as many cores as CPUs
    /// listed.
    Cpus(Vec<usize>),
    /// Not pinned: the kernel places the threads and moves them as load
    /// changes. For processes that share a machine's CPUs.
    Unpinned,
}

impl CpuPlacement {
    /// The CPU core `core` pins to, or None if unpinned (or past the list).
    pub fn cpu_of(&self, core: usize) -> Option<usize> {
        match self {
            CpuPlacement::Spread => allowed_cpus().get(core).copied(),
            CpuPlacement::Cpus(cpus) => cpus.get(core).copied(),
            CpuPlacement::Unpinned => None,
        }
    }

    /// Most cores this placement can give a thread of their own.
    pub fn max_cores(&self) -> usize {
        match self {
            CpuPlacement::Cpus(cpus) => cpus.len(),
            // Never more than the affinity mask holds, so Spread seats them all.
            CpuPlacement::Spread | CpuPlacement::Unpinned => crate::executor::available_cores(),
        }
    }
}

/// The CPUs this process may run on, ascending (its affinity mask); CPU 0
/// alone if the mask cannot be read.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain bits; sched_getaffinity writes at most its
    // size into it and CPU_ISSET reads within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![0];
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect();
        if cpus.is_empty() {
            vec![0]
        } else {
            cpus
        }
    }
}

impl FromStr for CpuPlacement {
    /// Why the string names no placement, for the operator.
    type Err = String;

    /// `all` (spread over the allowed CPUs), `none` (unpinned), or a list
    /// of CPUs and ranges in core order: `0,2-3` puts core 0 on CPU 0, core
    /// 1 on CPU 2, core 2 on CPU 3. A CPU may not be listed twice.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "all" => return Ok(CpuPlacement::Spread),
            "none" => return Ok(CpuPlacement::Unpinned),
            _ => {}
        }
        let bad = |why: &str| format!("cpuset {s:?}: {why} (want all, none, or a list like 0,2-3)");
        let cpu = |t: &str| -> Result<usize, String> {
            let n: usize = t.trim().parse().map_err(|_| bad(&format!("{t:?} is not a CPU number")))?;
            if n > MAX_CPU_INDEX {
                return Err(bad(&format!("CPU {n} is past the largest, {MAX_CPU_INDEX}")));
            }
            Ok(n)
        };
        let mut cpus = Vec::new();
        for part in s.split(',') {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (cpu(a)?, cpu(b)?),
                None => {
                    let c = cpu(part)?;
                    (c, c)
                }
            };
            if first > last {
                return Err(bad(&format!("range {part:?} runs backwards")));
            }
            for c in first..=last {
                if cpus.contains(&c) {
                    return Err(bad(&format!("CPU {c} is listed twice")));
                }
                cpus.push(c);
            }
        }
        Ok(CpuPlacement::Cpus(cpus))
    }
}

impl fmt::Display for CpuPlacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuPlacement::Spread => f.write_str("all"),
            CpuPlacement::Unpinned => f.write_str("none"),
            CpuPlacement::Cpus(cpus) => {
                let list: Vec<String> = cpus.iter().map(ToString::to_string).collect();
                f.write_str(&list.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keywords_lists_and_ranges() {
        assert_eq!("all".parse(), Ok(CpuPlacement::Spread));
        assert_eq!(" none ".parse(), Ok(CpuPlacement::Unpinned));
        assert_eq!("3".parse(), Ok(CpuPlacement::Cpus(vec![3])));
        assert_eq!("0,2-4,1".parse(), Ok(CpuPlacement::Cpus(vec![0, 2, 3, 4, 1])));
        assert_eq!(CpuPlacement::Cpus(vec![0, 2, 3]).to_string(), "0,2,3");
    }

    #[test]
    fn refuses_what_names_no_cpu_set() {
        for bad in ["", "x", "1,,2", "3-1", "1,1", "0-2,2", "-1", "99999"] {
            let err = bad.parse::<CpuPlacement>().unwrap_err();
            assert!(err.to_string().contains("cpuset"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn cores_map_to_their_cpus() {
        let listed = CpuPlacement::Cpus(vec![5, 1]);
        assert_eq!((listed.cpu_of(0), listed.cpu_of(1), listed.cpu_of(2)), (Some(5), Some(1), None));
        assert_eq!(listed.max_cores(), 2);
        assert_eq!(CpuPlacement::Unpinned.cpu_of(0), None);
        let allowed = allowed_cpus();
        assert_eq!(CpuPlacement::Spread.cpu_of(0), allowed.first().copied());
        assert_eq!(CpuPlacement::Spread.max_cores(), allowed.len());
    }
}
