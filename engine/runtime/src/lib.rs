//! corelog-runtime: the only crate that names glommio.
//!
//! Everything above it (segments, logs, the broker) speaks in these types, so
//! the I/O engine can be swapped or simulated without touching storage logic.
//! Lives on: every core; each item is used only on the core that created it
//! except the [`channel`] endpoints, which are the one way cores talk.

pub mod channel;
pub mod executor;
pub mod file;
pub mod fs;
pub mod limits;
pub mod net;
pub mod placement;
pub mod sync;

pub use channel::{control_channel, ControlReceiver, ControlSender};
pub use executor::{available_cores, run_local, spawn_cores, CoreHandle, ExecutorConfig};
pub use file::{os_error, sync_dir, with_context, DmaFile, IoBuf, ReadBuf};
pub use net::{read_appending, TcpListener, TcpStream};
pub use placement::{allowed_cpus, CpuPlacement};

/// Sleeps the current task without blocking the core.
pub async fn sleep(duration: std::time::Duration) {
    glommio::timer::sleep(duration).await
}

/// Spawns a task on the current core and detaches it.
pub fn spawn_detached<F>(future: F)
where
    F: std::future::Future<Output = ()> + 'static,
{
    glommio::spawn_local(future).detach();
}

/// Spawns a task on the current core; the result is awaited through the handle.
pub fn spawn<F, T>(future: F) -> Task<T>
where
    F: std::future::Future<Output = T> + 'static,
    T: 'static,
{
    Task(glommio::spawn_local(future))
}

/// A task running on the current core; dropping it cancels the task.
pub struct Task<T>(glommio::Task<T>);

impl<T> Task<T> {
    pub async fn join(self) -> T {
        self.0.await
    }
    pub fn detach(self) {
        self.0.detach();
    }
}

/// Yields to other tasks on this core if the scheduler wants the CPU back.
pub async fn yield_if_needed() {
    glommio::yield_if_needed().await
}

/// Runs `future` for at most `duration`; None if the time ran out first.
pub async fn timeout<F: std::future::Future>(duration: std::time::Duration, future: F) -> Option<F::Output> {
    use futures::future::{select, Either};
    let future = std::pin::pin!(future);
    let timer = std::pin::pin!(sleep(duration));
    match select(future, timer).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(((), _)) => None,
    }
}

/// Runs `future` until `deadline`; None if it passed first.
pub async fn timeout_at<F: std::future::Future>(deadline: std::time::Instant, future: F) -> Option<F::Output> {
    timeout(deadline.saturating_duration_since(std::time::Instant::now()), future).await
}

/// Runs `work` on the calling executor's blocking thread pool and waits for
/// it without blocking the core. For synchronous calls that cannot be made
/// cooperative (file-system metadata operations, fsync of a small file).
pub async fn blocking<F, R>(work: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    glommio::executor().spawn_blocking(work).await
}
