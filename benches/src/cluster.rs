//! A three-node cluster for a run: `corelog broker` child processes on
//! 127.0.0.1, each a broker and a controller (`--controllers` lists all
//! three), `--cores 1`, on its own data directory and free ports. Ready once
//! the controller quorum reports every node registered and unfenced.
//!
//! Lives on: the harness's main thread (the children are processes; the
//! admin calls run on a short-lived executor thread of their own).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::broker::{spawn_listening, stop_child};
use crate::cluster_admin::unfenced_brokers;
use crate::probes::process_cpu;

/// Nodes in a benchmark cluster: the smallest quorum that survives a loss,
/// and enough brokers for replication factor 3.
pub const CLUSTER_NODES: usize = 3;
/// Cores per node: three nodes share the (2-core) machine.
pub const NODE_CORES: usize = 1;
/// How long the quorum has to elect a leader and unfence every broker.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two `describe_cluster` polls while waiting.
const READY_POLL: Duration = Duration::from_millis(200);

/// One node's ports: client (core 0), controller, metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePorts {
    pub client: u16,
    pub controller: u16,
    pub metrics: u16,
}

/// `count` nodes' ports, all distinct and free right now.
pub fn free_node_ports(count: usize) -> Vec<NodePorts> {
    let mut taken: Vec<u16> = Vec::with_capacity(3 * count);
    let mut next = || loop {
        let port = corelog_testkit::free_port();
        if !taken.contains(&port) {
            taken.push(port);
            return port;
        }
    };
    (0..count).map(|_| NodePorts { client: next(), controller: next(), metrics: next() }).collect()
}

/// `1@127.0.0.1:P1,2@127.0.0.1:P2,…`: node ids are 1-based positions.
pub fn controllers_arg(ports: &[NodePorts]) -> String {
    ports.iter().enumerate().map(|(i, p)| format!("{}@127.0.0.1:{}", i + 1, p.controller)).collect::<Vec<_>>().join(",")
}

/// A running cluster of `corelog broker` children.
pub struct BenchCluster {
    children: Vec<Child>,
    endpoints: Vec<SocketAddr>,
    metrics: Vec<SocketAddr>,
}

impl BenchCluster {
    /// Starts [`CLUSTER_NODES`] nodes under `data_dir/node-<id>` and waits
    /// until all are unfenced. `log_dir`: node i's stderr goes to
    /// `broker-<i>.log` there (else inherited).
    pub fn start(bin: &Path, data_dir: &Path, log_dir: Option<&Path>) -> Result<BenchCluster, String> {
        let ports = free_node_ports(CLUSTER_NODES);
        let controllers = controllers_arg(&ports);
        let mut cluster = BenchCluster { children: Vec::new(), endpoints: Vec::new(), metrics: Vec::new() };
        for (i, p) in ports.iter().enumerate() {
            let id = i + 1;
            let dir = node_dir(data_dir, id);
            std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            let log = log_dir.map(|d| d.join(format!("broker-{id}.log")));
            let (child, endpoint) = spawn_node(bin, id, &controllers, *p, &dir, log.as_deref())?;
            cluster.children.push(child);
            cluster.endpoints.push(endpoint);
            cluster.metrics.push(SocketAddr::from(([127, 0, 0, 1], p.metrics)));
        }
        cluster.wait_ready()?;
        Ok(cluster)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            for (i, child) in self.children.iter_mut().enumerate() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("cluster node {} exited with {status} while starting", i + 1));
                }
            }
            let last = match unfenced_brokers(&self.endpoints) {
                Ok(n) if n >= CLUSTER_NODES => return Ok(()),
                Ok(n) => format!("{n} of {CLUSTER_NODES} brokers unfenced"),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!("the cluster was not ready within {READY_TIMEOUT:?}: {last}"));
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// Every node's client endpoint (the bootstrap list).
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.endpoints.clone()
    }

    /// Every node's Prometheus endpoint.
    pub fn metrics(&self) -> Vec<SocketAddr> {
        self.metrics.clone()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.id()).collect()
    }

    /// CPU time of every node so far.
    pub fn cpu(&self) -> Option<Duration> {
        self.children.iter().map(|c| process_cpu(c.id())).sum()
    }

    /// SIGTERM to every node at once (each flushes and exits), then SIGKILL
    /// to any still running after the stop timeout. The first failure is
    /// returned after every node is gone.
    pub fn stop(self) -> Result<(), String> {
        for child in &self.children {
            // SAFETY: kill(2) with a pid we spawned and still hold (not yet reaped).
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        }
        let mut first = Ok(());
        for (i, child) in self.children.into_iter().enumerate() {
            if let Err(e) = stop_child(child) {
                if first.is_ok() {
                    first = Err(format!("cluster node {}: {e}", i + 1));
                }
            }
        }
        first
    }
}

fn spawn_node(
    bin: &Path,
    id: usize,
    controllers: &str,
    ports: NodePorts,
    dir: &Path,
    log: Option<&Path>,
) -> Result<(Child, SocketAddr), String> {
    let mut command = Command::new(bin);
    command
        .arg("broker")
        .args(["--node-id", &id.to_string(), "--controllers", controllers])
        .args(["--host", "127.0.0.1", "--cores", &NODE_CORES.to_string()])
        // Three nodes share the machine's CPUs: pinned, every node's core 0
        // would sit on CPU 0 while the others idle.
        .args(["--cpuset", "none"])
        .args(["--port", &ports.client.to_string(), "--metrics-port", &ports.metrics.to_string()])
        .args(["--kafka-port", "0"])
        .arg("--data-dir")
        .arg(dir);
    let (child, endpoints) = spawn_listening(command, log, 1, &format!("cluster node {id}"))?;
    Ok((child, endpoints[0]))
}

/// Where node `id`'s data lives under a cluster's data directory.
pub fn node_dir(data_dir: &Path, id: usize) -> PathBuf {
    data_dir.join(format!("node-{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_the_controller_list_names_every_node() {
        let ports = free_node_ports(3);
        let mut all: Vec<u16> = ports.iter().flat_map(|p| [p.client, p.controller, p.metrics]).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 9);
        let fixed = [
            NodePorts { client: 1, controller: 10, metrics: 100 },
            NodePorts { client: 2, controller: 20, metrics: 200 },
        ];
        assert_eq!(controllers_arg(&fixed), "1@127.0.0.1:10,2@127.0.0.1:20");
        assert_eq!(node_dir(Path::new("/d"), 2), PathBuf::from("/d/node-2"));
    }
}
