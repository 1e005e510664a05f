//! One core's listening endpoint: accepts connections and serves each on
//! this core; also starts the core's metrics publisher and group coordinator.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::shard::Shard;
use corelog_runtime::TcpListener;

use super::connection;
use super::context::ServerContext;
use super::metrics::publish;
use crate::limits::ACCEPT_BACKOFF;

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
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(format!("core {} cannot listen on {addr}: {e}", shard.core)));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    tracing::info!(core = shard.core, %addr, "listening");
    corelog_runtime::spawn_detached(publish::publish(shard.clone(), context.metrics.clone()));
    context.groups.start();
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
            Ok(stream) => corelog_runtime::spawn_detached(connection::serve(stream, shard.clone(), context.clone())),
            Err(e) => {
                tracing::warn!(core = shard.core, error = %e, "accept failed");
                corelog_runtime::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}
