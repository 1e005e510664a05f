//! One core's listening endpoint: accepts connections and serves each on
//! this core; also starts the core's metrics publisher and group coordinator.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::shard::Shard;
use corelog_runtime::TcpListener;

use super::connection;
use super::context::ServerContext;
use super::metrics::publish;
use std::time::{Duration, Instant};

use crate::limits::{ACCEPT_BACKOFF, ACCEPT_BACKOFF_MAX, ACCEPT_LOG_INTERVAL, BIND_RETRY_PAUSE};
use crate::log_throttle::LogThrottle;

/// Listens on `host:base_port + core` and serves connections forever.
/// Reports once on `ready` whether listening succeeded.
pub async fn serve(shard: Rc<Shard>, context: Rc<ServerContext>, ready: flume::Sender<Result<(), String>>) {
    let addr = match context.config.host.parse() {
        Ok(ip) => SocketAddr::new(ip, context.config.base_port + shard.core as u16),
        Err(e) => {
            let _ = ready.send(Err(format!("host {:?}: {e}", context.config.host)));
            return;
        }
    };
    let listener = match bind(addr, shard.core, context.config.bind_retry).await {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(format!("core {} cannot listen on {addr}: {e}", shard.core)));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    tracing::info!(core = shard.core, %addr, "listening");
    corelog_runtime::spawn_detached(publish::publish(
        shard.clone(),
        context.metrics.clone(),
        context.controller_leader.clone(),
    ));
    context.groups.start();
    if shard.core == 0 {
        corelog_runtime::spawn_detached(super::memory::trim_periodically());
    }
    let mut failures = AcceptFailures::default();
    let mut refused = RefusedConnections::default();
    loop {
        let accepted = {
            let accept = std::pin::pin!(listener.accept());
            let stopped = std::pin::pin!(shard.stopped());
            match futures::future::select(accept, stopped).await {
                futures::future::Either::Left((accepted, _)) => accepted,
                // Stopping: the listener closes as this returns.
                futures::future::Either::Right(_) => return,
            }
        };
        match accepted {
            Ok(stream) => {
                failures.succeeded(shard.core);
                if context.metrics.open_connections() >= context.config.max_connections_per_core {
                    refused.refuse(shard.core, context.config.max_connections_per_core);
                    drop(stream);
                    continue;
                }
                let open = context.metrics.connection_opened();
                corelog_runtime::spawn_detached(connection::serve(stream, shard.clone(), context.clone(), open))
            }
            Err(e) => {
                let pause = failures.failed(shard.core, &e);
                corelog_runtime::sleep(pause).await;
            }
        }
    }
}

/// Binds `addr`, retrying for up to `retry_for` while it is in use:
/// right after a kill -9 the dying process (or a TIME_WAIT peer of a
/// reused port) may hold it for a moment, and a restart should ride that
/// out instead of failing. Any other error fails at once.
async fn bind(addr: SocketAddr, core: u32, retry_for: Duration) -> std::io::Result<TcpListener> {
    let started = Instant::now();
    let mut warned = false;
    loop {
        match TcpListener::bind(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && started.elapsed() < retry_for => {
                if !std::mem::replace(&mut warned, true) {
                    tracing::warn!(core, %addr, "address in use; retrying the bind for {retry_for:?}");
                }
                corelog_runtime::sleep(BIND_RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// Connections closed at once because the core serves its maximum; logged
/// at most once per [`ACCEPT_LOG_INTERVAL`] with the count since.
struct RefusedConnections(LogThrottle);

impl Default for RefusedConnections {
    fn default() -> Self {
        RefusedConnections(LogThrottle::new(ACCEPT_LOG_INTERVAL, 1))
    }
}

impl RefusedConnections {
    fn refuse(&mut self, core: u32, max: usize) {
        if let Some(suppressed) = self.0.allow() {
            let refused = suppressed + 1;
            tracing::warn!(core, max_connections_per_core = max, refused, "too many connections; closing new ones");
        }
    }
}

/// Consecutive accept failures (out of file descriptors, mostly): the pause
/// doubles up to [`ACCEPT_BACKOFF_MAX`] so a persistent error does not spin
/// the core, and the log gets the first failure and then one line per
/// [`ACCEPT_LOG_INTERVAL`] with the count, not a line every pause.
struct AcceptFailures {
    in_a_row: u32,
    log: LogThrottle,
}

impl Default for AcceptFailures {
    fn default() -> Self {
        AcceptFailures { in_a_row: 0, log: LogThrottle::new(ACCEPT_LOG_INTERVAL, 1) }
    }
}

impl AcceptFailures {
    fn failed(&mut self, core: u32, error: &std::io::Error) -> Duration {
        self.in_a_row = self.in_a_row.saturating_add(1);
        if let Some(suppressed) = self.log.allow() {
            tracing::warn!(core, error = %error, failures_in_a_row = self.in_a_row, suppressed, "accept failed");
        }
        let shift = (self.in_a_row - 1).min(16);
        ACCEPT_BACKOFF.saturating_mul(1 << shift).min(ACCEPT_BACKOFF_MAX)
    }

    fn succeeded(&mut self, core: u32) {
        if self.in_a_row > 0 {
            tracing::info!(core, failures = self.in_a_row, "accepting again");
            *self = AcceptFailures::default();
        }
    }
}
