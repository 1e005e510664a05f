//! Load threads: each a glommio executor on its own OS thread (unpinned, so
//! it shares the machine's cores with the broker and the scheduler places
//! it), and the gate that starts them together.
//!
//! Workers connect first and check in; once everyone has, the main thread
//! starts the run's [`Clock`] and every worker begins. Send schedules and
//! reported throughputs therefore do not include connection setup.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use corelog_runtime::{CoreHandle, ExecutorConfig};

use crate::clock::Clock;
use crate::error::{PerfError, PerfResult};

/// glommio's registered I/O memory per load executor: the client does no
/// file I/O, so keep it small (it counts against RLIMIT_MEMLOCK).
const IO_MEMORY: usize = 2 << 20;

/// How long the main thread waits for every worker to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Shared start/stop state of a run's workers.
#[derive(Default)]
pub struct Gate {
    clock: OnceLock<Clock>,
    connected: AtomicUsize,
    running: AtomicUsize,
    /// Stop as soon as possible (a worker failed, or the run was cut short).
    abort: AtomicBool,
}

impl Gate {
    /// Workers that have not exited yet.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    pub fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
    }

    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    /// A worker is connected and ready; it then waits in [`Gate::wait_start`].
    pub fn check_in(&self) {
        self.connected.fetch_add(1, Ordering::AcqRel);
    }

    /// Waits (on the worker's executor) for the run to start; `None` if it
    /// was aborted instead.
    pub async fn wait_start(&self) -> Option<Clock> {
        loop {
            if let Some(clock) = self.clock.get() {
                return Some(*clock);
            }
            if self.aborted() {
                return None;
            }
            corelog_runtime::sleep(Duration::from_micros(500)).await;
        }
    }

    /// Starts the clock now, without waiting for anyone.
    pub fn start_now(&self) -> Clock {
        *self.clock.get_or_init(Clock::start)
    }

    /// (Main thread.) Waits until `expected` workers (producers, consumers)
    /// have checked in, then starts the clock. Fails if one fails (aborts),
    /// every thread exits first, or time runs out.
    pub fn start_when_connected(&self, expected: usize) -> PerfResult<Clock> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while self.connected.load(Ordering::Acquire) < expected {
            if self.running() == 0 || self.aborted() {
                self.abort();
                return Err(PerfError::new("a load worker failed before the run started"));
            }
            if Instant::now() > deadline {
                self.abort();
                return Err(PerfError::new("load workers did not connect within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(self.start_now())
    }
}

/// Decrements the running count when a worker exits, however it exits.
struct Running(Arc<Gate>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `main()` on a new OS thread with its own glommio executor.
pub fn spawn_worker<G, F, T>(name: &str, gate: &Arc<Gate>, main: G) -> PerfResult<CoreHandle<T>>
where
    G: FnOnce() -> F + Send + 'static,
    F: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let config = ExecutorConfig {
        io_memory: IO_MEMORY,
        placement: corelog_runtime::CpuPlacement::Unpinned,
        name: name.to_owned(),
    };
    gate.running.fetch_add(1, Ordering::AcqRel);
    let guard = Running(gate.clone());
    // spawn_cores wants a cloneable factory; it calls it exactly once for one core.
    let main = Arc::new(std::sync::Mutex::new(Some((main, guard))));
    let mut handles = corelog_runtime::spawn_cores(1, &config, move |_| {
        let taken = main.lock().expect("worker main").take();
        async move {
            let (main, guard) = taken.expect("worker started once");
            let out = main().await;
            drop(guard);
            out
        }
    })
    // On failure the factory, and with it the guard, is dropped: the count is restored.
    .map_err(|e| PerfError::new(format!("cannot start a load thread: {e}")))?;
    Ok(handles.remove(0))
}

/// Runs `main()` to completion on a fresh executor thread (setup steps).
pub fn run_on_executor<G, F, T>(main: G) -> PerfResult<T>
where
    G: FnOnce() -> F + Send + 'static,
    F: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let gate = Arc::new(Gate::default());
    spawn_worker("perf-setup", &gate, main)?.join().map_err(|e| PerfError::new(format!("setup thread: {e}")))
}

/// Joins workers, returning the first error (theirs or a panic).
pub fn join_all<T: Send + 'static>(handles: Vec<CoreHandle<PerfResult<T>>>) -> PerfResult<Vec<T>> {
    let mut out = Vec::with_capacity(handles.len());
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(PerfError::new(format!("load thread panicked: {e}")));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
