//! A real broker for the client integration tests: free loopback ports, data
//! under target/ (O_DIRECT needs a real file system; /tmp may be tmpfs), and
//! a helper that runs a client future on a local executor.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use corelog_net::server::{Broker, BrokerConfig};

/// A running broker; stopped (and its data removed) on drop.
pub struct ClientTestBroker {
    broker: Option<Broker>,
    _dir: tempfile::TempDir,
}

impl ClientTestBroker {
    /// Starts a broker with `cores` cores (retrying on port clashes).
    pub fn start(cores: usize) -> ClientTestBroker {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let mut last_err = None;
        for _ in 0..20 {
            let config = BrokerConfig {
                base_port: free_base_port(cores),
                data_dir: dir.path().to_path_buf(),
                cores,
                io_memory: 1 << 20,
                ..BrokerConfig::default()
            };
            match Broker::start(config) {
                Ok(broker) => return ClientTestBroker { broker: Some(broker), _dir: dir },
                Err(e) => last_err = Some(e),
            }
        }
        panic!("could not start a broker on free ports: {last_err:?}");
    }

    /// Per-core endpoints, index = core.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.broker.as_ref().expect("running").endpoints()
    }

    /// Stops the broker now.
    pub fn stop(&mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().expect("clean shutdown");
        }
    }
}

impl Drop for ClientTestBroker {
    fn drop(&mut self) {
        if let Some(b) = self.broker.take() {
            let _ = b.shutdown();
        }
    }
}

/// A port `p` such that `p..p + n` were all free a moment ago.
fn free_base_port(n: usize) -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = l.local_addr().expect("addr").port();
        drop(l);
        if usize::from(base) + n < 65_535
            && (1..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i as u16)).is_ok())
        {
            return base;
        }
    }
}

/// Runs a client future on a fresh local executor, failing the test if it
/// takes longer than `limit` (a hang would otherwise stall the suite).
pub fn run_client<F: Future<Output = ()>>(limit: Duration, future: F) {
    corelog_engine::runtime::run_local(async move {
        if corelog_engine::runtime::timeout(limit, future).await.is_none() {
            panic!("client test did not finish within {limit:?}");
        }
    });
}
