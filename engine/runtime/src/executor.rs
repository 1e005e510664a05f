//! One executor thread per core, placed as its [`CpuPlacement`] says.

use std::future::Future;
use std::io;

use glommio::{CpuSet, LocalExecutorBuilder, Placement, PoolPlacement};

use crate::limits::{BLOCKING_THREADS_PER_CORE, DEFAULT_IO_MEMORY_BYTES};
use crate::placement::CpuPlacement;

/// How each core's executor is built.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Memory glommio registers with io_uring per executor (three times against
    /// RLIMIT_MEMLOCK; if the limit is too small glommio skips registration).
    pub io_memory: usize,
    /// Which CPU each executor's thread is pinned to, if any. Unpinned for
    /// tests and tools that start many executors beside others.
    pub placement: CpuPlacement,
    /// Thread name prefix ("core-3").
    pub name: String,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig { io_memory: DEFAULT_IO_MEMORY_BYTES, placement: CpuPlacement::Spread, name: "core".into() }
    }
}

/// CPUs this process may run on. Placement beyond this fails in glommio, so
/// every requested core count is clamped to it.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A running core; `join` waits for its main future's result.
pub struct CoreHandle<T: Send + 'static> {
    pub core: usize,
    handle: glommio::ExecutorJoinHandle<T>,
}

impl<T: Send + 'static> CoreHandle<T> {
    pub fn join(self) -> io::Result<T> {
        self.handle.join().map_err(|e| io::Error::other(e.to_string()))
    }
}

/// Starts `cores` executors (clamped to what the placement can seat, at
/// least one), each running `main(core_index)` on its own thread.
pub fn spawn_cores<G, F, T>(cores: usize, config: &ExecutorConfig, main: G) -> io::Result<Vec<CoreHandle<T>>>
where
    G: Fn(usize) -> F + Send + Clone + 'static,
    F: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let cores = cores.clamp(1, config.placement.max_cores());
    let mut handles = Vec::with_capacity(cores);
    for core in 0..cores {
        let cpu = config.placement.cpu_of(core);
        let main = main.clone();
        let handle = LocalExecutorBuilder::new(cpu.map_or(Placement::Unbound, Placement::Fixed))
            .name(&format!("{}-{core}", config.name))
            .io_memory(config.io_memory)
            .blocking_thread_pool_placement(blocking_pool(cpu)?)
            .spawn(move || main(core))
            .map_err(|e| match cpu {
                Some(cpu) => io::Error::other(format!("cannot start core {core} on CPU {cpu}: {e}")),
                None => io::Error::other(e.to_string()),
            })?;
        handles.push(CoreHandle { core, handle });
    }
    Ok(handles)
}

/// The threads a core's [`crate::blocking`] work runs on (how many, and why
/// not glommio's one: [`BLOCKING_THREADS_PER_CORE`]): on the core's own CPU
/// when it has one, so a core's small-file syncs never take CPU time from
/// another core.
fn blocking_pool(cpu: Option<usize>) -> io::Result<PoolPlacement> {
    Ok(match cpu {
        None => PoolPlacement::Unbound(BLOCKING_THREADS_PER_CORE),
        Some(cpu) => {
            let online = CpuSet::online().map_err(|e| io::Error::other(format!("cannot list the online CPUs: {e}")))?;
            PoolPlacement::Fenced(BLOCKING_THREADS_PER_CORE, online.filter(|l| l.cpu == cpu))
        }
    })
}

/// Runs one future on a fresh unpinned executor on the calling thread (tests,
/// tools, benchmarks).
pub fn run_local<F, T>(future: F) -> T
where
    F: Future<Output = T>,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .blocking_thread_pool_placement(PoolPlacement::Unbound(BLOCKING_THREADS_PER_CORE))
        .make()
        .expect("cannot create a glommio executor: is io_uring available?")
        .run(future)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    /// Blocking work of one core in pieces that each wait (up to a second)
    /// for all of them to have started: true only if they ran side by side.
    async fn all_pieces_meet(pieces: usize) -> bool {
        let started = Arc::new(AtomicUsize::new(0));
        let waits = (0..pieces).map(|_| {
            let started = started.clone();
            crate::blocking(move || {
                started.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(1);
                while started.load(Ordering::SeqCst) < pieces {
                    if Instant::now() > deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                true
            })
        });
        futures::future::join_all(waits).await.into_iter().all(|met| met)
    }

    #[test]
    fn a_core_runs_its_blocking_work_side_by_side() {
        for placement in [CpuPlacement::Unpinned, CpuPlacement::Spread] {
            let config = ExecutorConfig { placement, ..ExecutorConfig::default() };
            let cores = spawn_cores(1, &config, |_| all_pieces_meet(BLOCKING_THREADS_PER_CORE)).unwrap();
            for core in cores {
                assert!(core.join().unwrap(), "{BLOCKING_THREADS_PER_CORE} blocking calls did not run at once");
            }
        }
        assert!(run_local(all_pieces_meet(BLOCKING_THREADS_PER_CORE)));
    }
}
