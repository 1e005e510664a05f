//! A cluster of `corelog broker` processes on 127.0.0.1 for the tests: every
//! node a broker and a controller (combined mode), `--cores 1` each, its own
//! ports and data directory, short session and lag timeouts so failovers
//! take seconds. Nodes are killed with SIGKILL and restarted on the same
//! ports and data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_corelog");

/// Settings every test node gets: a fenced broker within ~2 s of its death,
/// an ISR shrink within ~3 s of a follower stalling.
pub const FAST_FAILOVER: &str = "broker_session_timeout_ms = 2000\n\
     broker_heartbeat_interval_ms = 300\n\
     replica_lag_time_max_ms = 3000\n\
     bind_retry_ms = 10000\n";

/// Longest a test waits for the cluster to reach a state.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(60);

pub struct Node {
    pub id: u32,
    pub port: u16,
    pub controller_port: u16,
    dir: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Node {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// This node's log (every start's, concatenated).
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|i| std::fs::read_to_string(self.dir.join(format!("broker-{i}.log"))).unwrap_or_default())
            .collect()
    }
}

pub struct TestCluster {
    pub nodes: Vec<Node>,
    controllers: String,
    _root: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl TestCluster {
    /// Starts `n` nodes (ids 1..=n, all controllers) with `FAST_FAILOVER`
    /// plus `extra` settings, and waits until every broker is registered
    /// and unfenced.
    pub fn start(n: u32, extra: &str) -> TestCluster {
        let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let nodes: Vec<Node> = (1..=n)
            .map(|id| {
                let dir = root.path().join(format!("node-{id}"));
                std::fs::create_dir_all(&dir).expect("node dir");
                let config = format!("[broker]\nio_memory_bytes = 1048576\n{FAST_FAILOVER}{extra}");
                std::fs::write(dir.join("corelog.toml"), config).expect("config");
                Node { id, port: free_port(), controller_port: free_port(), dir, child: None, starts: 0 }
            })
            .collect();
        let controllers =
            nodes.iter().map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port)).collect::<Vec<_>>().join(",");
        let mut cluster = TestCluster { nodes, controllers, _root: root };
        for id in 1..=n {
            cluster.spawn(id);
        }
        cluster.wait_until("every broker registered and unfenced", |c| c.live_brokers() == Some(n as usize));
        cluster
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.id == id).expect("node id")
    }

    pub fn node(&self, id: u32) -> &Node {
        self.nodes.iter().find(|n| n.id == id).expect("node id")
    }

    fn spawn(&mut self, id: u32) {
        let controllers = self.controllers.clone();
        let node = self.node_mut(id);
        node.starts += 1;
        let log = std::fs::File::create(node.dir.join(format!("broker-{}.log", node.starts))).expect("log file");
        let child = Command::new(BIN)
            .args(["broker", "--config"])
            .arg(node.dir.join("corelog.toml"))
            .arg("--data-dir")
            .arg(node.dir.join("data"))
            .args(["--cores", "1", "--port", &node.port.to_string(), "--node-id", &id.to_string()])
            .args(["--controllers", &controllers])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn a broker");
        node.child = Some(child);
    }

    /// Every running node's client endpoint, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// kill -9: no flush, no goodbye.
    pub fn kill(&mut self, id: u32) {
        let node = self.node_mut(id);
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self, id: u32) {
        self.kill(id);
        self.spawn(id);
    }

    /// Runs `corelog <args>` against the running nodes; its stdout, or None
    /// if it failed.
    pub fn corelog(&self, args: &[&str]) -> Option<String> {
        let bootstrap = self.bootstrap();
        let out = Command::new(BIN)
            .args(args)
            .args(["-b", &bootstrap, "--reconnect-timeout-ms", "2000"])
            .stdin(Stdio::null())
            .output()
            .expect("run corelog");
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Unfenced brokers per `cluster status` (None if it cannot be asked).
    pub fn live_brokers(&self) -> Option<usize> {
        let status = self.corelog(&["cluster", "status"])?;
        let line = status.lines().find(|l| l.starts_with("Brokers: "))?;
        let brokers: usize = line.strip_prefix("Brokers: ")?.split('\t').next()?.parse().ok()?;
        let fenced = line.split("Fenced: ").nth(1)?;
        let fenced = if fenced == "none" { 0 } else { fenced.split(',').count() };
        Some(brokers - fenced)
    }

    /// Per partition of `topic`: (leader, epoch, isr) from `topic describe`.
    pub fn describe(&self, topic: &str) -> Option<Vec<PartitionState>> {
        let out = self.corelog(&["topic", "describe", topic])?;
        let rows = out
            .lines()
            .skip_while(|l| !l.starts_with("PARTITION"))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // PARTITION LEADER (node N core C) EPOCH REPLICAS ISR ...
                let leader = if f[1] == "none" { None } else { f[3].parse().ok() };
                let rest = if f[1] == "none" { &f[2..] } else { &f[6..] };
                let nodes = |s: &str| s.split(',').filter_map(|n| n.parse().ok()).collect::<Vec<u32>>();
                PartitionState {
                    partition: f[0].parse().expect("partition"),
                    leader,
                    epoch: rest[0].parse().expect("epoch"),
                    replicas: nodes(rest[1]),
                    isr: nodes(rest[2]),
                }
            })
            .collect();
        Some(rows)
    }

    /// Waits (up to `SETTLE_LIMIT`) until `done(self)`; panics naming `what`
    /// with the nodes' log tails if it never happens.
    pub fn wait_until(&self, what: &str, done: impl Fn(&TestCluster) -> bool) {
        let deadline = Instant::now() + SETTLE_LIMIT;
        while Instant::now() < deadline {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let logs: String = self
            .nodes
            .iter()
            .map(|n| {
                let log = n.log();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!("--- node {} ---\n{}\n", n.id, tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect();
        panic!("the cluster never reached: {what}\n{logs}");
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for id in self.nodes.iter().map(|n| n.id).collect::<Vec<_>>() {
            self.kill(id);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub partition: u32,
    pub leader: Option<u32>,
    pub epoch: u32,
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
}
