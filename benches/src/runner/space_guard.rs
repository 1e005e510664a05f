//! Stops a run before it fills the disk.
//!
//! A broker in a run keeps everything it is sent unless the workload sets
//! `retention_bytes`, so a max-rate run without it writes as fast as the
//! disk takes it: a 20 s `1k-max-durable` (before it had retention) wrote
//! 28 GB on the 2-core development machine and once filled its disk,
//! which left the broker failing its appends and every other program on the
//! machine without space. While a run goes on, a thread watches the free
//! space of the data directory's filesystem; below [`MIN_FREE_BYTES`] it
//! kills the run's broker processes, deletes the run's data (unless
//! `--keep-data`) and exits with an error that says so.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::probes::{free_bytes, parent_pid};

/// Free space below which a run is stopped: room for the broker to close
/// its segments and for the rest of the machine.
pub const MIN_FREE_BYTES: u64 = 2 << 30;

/// How often the free space is read: at 2.5 GB/s a run writes 0.5 GB
/// between two reads, well inside [`MIN_FREE_BYTES`].
pub const POLL: Duration = Duration::from_millis(200);

const _: () = assert!(MIN_FREE_BYTES >= 2_500_000_000 / 1000 * POLL.as_millis() as u64 * 2);

/// Exit status of a run stopped for space.
const EXIT_NO_SPACE: i32 = 3;

/// Whether a run with `free` bytes left must stop.
pub fn must_stop(free: u64) -> bool {
    free < MIN_FREE_BYTES
}

/// Watches the data directory while it lives; dropping it stops the watch.
pub struct SpaceGuard {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SpaceGuard {
    /// Watches the filesystem of `run_dir` (the run's scratch directory).
    pub fn watch(run_dir: PathBuf, keep_data: bool) -> SpaceGuard {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("space-guard".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    if let Ok(free) = free_bytes(&run_dir) {
                        if must_stop(free) {
                            out_of_space(&run_dir, free, keep_data);
                        }
                    }
                    std::thread::sleep(POLL);
                }
            })
            .expect("spawning the space guard");
        SpaceGuard { stop, thread: Some(thread) }
    }
}

impl Drop for SpaceGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Kills the run's brokers (this process's children), frees their data and
/// exits: the run cannot finish, and the disk must not fill.
fn out_of_space(run_dir: &Path, free: u64, keep_data: bool) -> ! {
    let killed = kill_children();
    eprintln!(
        "corelog-bench: stopping the run: {} has {} MiB free (below {} MiB); the broker keeps all it is sent, \
         so a max-rate run needs about (warmup + duration) x the disk's write rate free, plus the raw baseline's volume",
        run_dir.display(),
        free >> 20,
        MIN_FREE_BYTES >> 20,
    );
    if killed > 0 {
        eprintln!("corelog-bench: killed {killed} broker process(es)");
    }
    if keep_data {
        eprintln!("corelog-bench: --keep-data: left {}", run_dir.display());
    } else {
        // Children first: a broker still writing would fill it again.
        let _ = std::fs::remove_dir_all(run_dir);
        eprintln!("corelog-bench: deleted {}", run_dir.display());
    }
    std::process::exit(EXIT_NO_SPACE);
}

/// SIGKILLs every child process of this one; how many.
fn kill_children() -> usize {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let mut killed = 0;
    for pid in entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()) {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        if parent_pid(&stat) == Some(me) {
            // SAFETY: a plain signal to a process we started.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_only_below_the_floor() {
        assert!(must_stop(0));
        assert!(must_stop(MIN_FREE_BYTES - 1));
        assert!(!must_stop(MIN_FREE_BYTES));
        assert!(!must_stop(u64::MAX));
    }
}
