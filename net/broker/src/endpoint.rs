//! One core's listening endpoints: accepts connections and serves each on
//! this core (the native protocol on `base_port + core`, Kafka's on
//! `kafka_port + core` when enabled); also starts the core's metrics
//! publisher and group coordinator. Both listeners share the core's
//! connection limit.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::shard::Shard;
use corelog_runtime::TcpListener;

use super::connection;
use super::context::ServerContext;
use super::metrics::publish;
use std::time::{Duration, Instant};

use crate::limits::{
    ACCEPT_BACKOFF, ACCEPT_BACKOFF_MAX, ACCEPT_LOG_INTERVAL, BIND_RETRY_PAUSE, SHUTDOWN_CONNECTION_CLOSE,
};
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
    let kafka_listener = match kafka_addr(&context, shard.core) {
        None => None,
        Some(Err(e)) => {
            let _ = ready.send(Err(e));
            return;
        }
        Some(Ok(kafka)) => match bind(kafka, shard.core, context.config.bind_retry).await {
            Ok(l) => Some((l, kafka)),
            Err(e) => {
                let _ = ready.send(Err(format!("core {} cannot listen for Kafka clients on {kafka}: {e}", shard.core)));
                return;
            }
        },
    };
    let _ = ready.send(Ok(()));
    tracing::info!(core = shard.core, %addr, "listening");
    let kafka_accepting = kafka_listener.map(|(listener, kafka)| {
        tracing::info!(core = shard.core, addr = %kafka, "listening for Kafka clients");
        let (shard, context) = (shard.clone(), context.clone());
        corelog_runtime::spawn(async move {
            accept_loop(listener, &shard, &context, |stream, shard, context, open| {
                corelog_runtime::spawn_detached(crate::kafka::connection::serve(stream, shard, context, open))
            })
            .await
        })
    });
    corelog_runtime::spawn_detached(publish::publish(
        shard.clone(),
        context.metrics.clone(),
        context.controller_leader.clone(),
    ));
    context.groups.start();
    if shard.core == 0 {
        corelog_runtime::spawn_detached(super::memory::trim_periodically());
    }
    accept_loop(listener, &shard, &context, |stream, shard, context, open| {
        corelog_runtime::spawn_detached(connection::serve(stream, shard, context, open))
    })
    .await;
    if let Some(accepting) = kafka_accepting {
        accepting.join().await;
    }
    close_connections(&context).await;
}

/// Waits, at shutdown, for this core's connections to close. Each closes
/// on its first turn after the stop, but it must get that turn before the
/// core exits: a task still pending on an exiting executor is not dropped
/// by then, and its client would wait on a socket nobody serves.
async fn close_connections(context: &ServerContext) {
    let deadline = Instant::now() + SHUTDOWN_CONNECTION_CLOSE;
    while context.metrics.open_connections() > 0 && Instant::now() < deadline {
        corelog_runtime::sleep(Duration::from_millis(1)).await;
    }
}

/// Where this core's Kafka listener binds: `host:kafka_port + core`, None
/// when the Kafka listener is off (`kafka_port` 0).
fn kafka_addr(context: &ServerContext, core: u32) -> Option<Result<SocketAddr, String>> {
    let config = &context.config;
    if config.kafka_port == 0 {
        return None;
    }
    Some(match config.host.parse() {
        Ok(ip) => Ok(SocketAddr::new(ip, config.kafka_port + core as u16)),
        Err(e) => Err(format!("host {:?}: {e}", config.host)),
    })
}

/// Accepts connections until the shard stops, handing each to `serve`
/// unless the core already serves its maximum (native and Kafka
/// connections count together).
async fn accept_loop(
    listener: TcpListener,
    shard: &Rc<Shard>,
    context: &Rc<ServerContext>,
    serve: impl Fn(corelog_runtime::TcpStream, Rc<Shard>, Rc<ServerContext>, crate::metrics::ConnectionGuard),
) {
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
                serve(stream, shard.clone(), context.clone(), open)
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
