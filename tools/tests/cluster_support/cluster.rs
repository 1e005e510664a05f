//! A cluster of `corelog broker` processes on 127.0.0.1 for the tests: every
//! node a broker and a controller (combined mode), `--cores 1` each, its own
//! ports and data directory, short session and lag timeouts so failovers
//! take seconds. Nodes are killed with SIGKILL and restarted on the same
//! ports and data.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::proxy::{Direction, Fault, FaultProxy};

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
    /// Its Kafka listener's port (one core), 0: off.
    pub kafka_port: u16,
    /// This node's `--controllers` list: its own entry is its real port;
    /// the others are the real ports, or proxies in front of them.
    controllers: String,
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

/// A proxy on the controller link from node `from` (which dials it) to node
/// `to`'s controller port.
pub struct ControllerLink {
    pub from: u32,
    pub to: u32,
    pub proxy: FaultProxy,
}

pub struct TestCluster {
    pub nodes: Vec<Node>,
    /// Empty unless started with `start_with_proxies`.
    pub links: Vec<ControllerLink>,
    _root: tempfile::TempDir,
}

use corelog_testkit::free_port;

impl TestCluster {
    /// Starts `n` nodes (ids 1..=n, all controllers) with `FAST_FAILOVER`
    /// plus `extra` settings, and waits until every broker is registered
    /// and unfenced.
    pub fn start(n: u32, extra: &str) -> TestCluster {
        Self::start_inner(n, extra, false, false)
    }

    /// Like `start`, with every node's Kafka listener on (`Node::kafka_port`).
    pub fn start_with_kafka(n: u32, extra: &str) -> TestCluster {
        Self::start_inner(n, extra, false, true)
    }

    /// Like `start`, but node i reaches every other node j's controller
    /// through a `FaultProxy` P(i→j) (`link(i, j)`): cutting all of a node's
    /// links isolates it from the quorum (raft and its broker heartbeats)
    /// while client and replica-fetch traffic stays direct.
    pub fn start_with_proxies(n: u32, extra: &str) -> TestCluster {
        Self::start_inner(n, extra, true, false)
    }

    fn start_inner(n: u32, extra: &str, proxied: bool, kafka: bool) -> TestCluster {
        let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let mut nodes: Vec<Node> = (1..=n)
            .map(|id| {
                let dir = root.path().join(format!("node-{id}"));
                std::fs::create_dir_all(&dir).expect("node dir");
                let config = format!("[broker]\nio_memory_bytes = 1048576\n{FAST_FAILOVER}{extra}");
                std::fs::write(dir.join("corelog.toml"), config).expect("config");
                let controllers = String::new();
                let kafka_port = if kafka { free_port() } else { 0 };
                Node {
                    id,
                    port: free_port(),
                    controller_port: free_port(),
                    kafka_port,
                    controllers,
                    dir,
                    child: None,
                    starts: 0,
                }
            })
            .collect();
        let mut links = Vec::new();
        let ports: Vec<(u32, u16)> = nodes.iter().map(|n| (n.id, n.controller_port)).collect();
        for node in &mut nodes {
            let entries: Vec<String> = ports
                .iter()
                .map(|&(to, port)| {
                    let real: SocketAddr = ([127, 0, 0, 1], port).into();
                    let addr = if proxied && to != node.id {
                        let proxy = FaultProxy::start(real).expect("start a controller link proxy");
                        let addr = proxy.local_addr();
                        links.push(ControllerLink { from: node.id, to, proxy });
                        addr
                    } else {
                        real
                    };
                    format!("{to}@{addr}")
                })
                .collect();
            node.controllers = entries.join(",");
        }
        let mut cluster = TestCluster { nodes, links, _root: root };
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
        let node = self.node_mut(id);
        let controllers = node.controllers.clone();
        let kafka_port = node.kafka_port.to_string();
        node.starts += 1;
        let log = std::fs::File::create(node.dir.join(format!("broker-{}.log", node.starts))).expect("log file");
        let child = Command::new(BIN)
            .args(["broker", "--config"])
            .arg(node.dir.join("corelog.toml"))
            .arg("--data-dir")
            .arg(node.dir.join("data"))
            .args([
                "--cores",
                "1",
                // The nodes share the machine's CPUs (pinned, all would sit on CPU 0).
                "--cpuset",
                "none",
                "--port",
                &node.port.to_string(),
                "--node-id",
                &id.to_string(),
                "--kafka-port",
                &kafka_port,
            ])
            .args(["--controllers", &controllers])
            // CLUSTER_TEST_RUST_LOG overrides the nodes' log filter (to debug a failure).
            .env("RUST_LOG", std::env::var("CLUSTER_TEST_RUST_LOG").unwrap_or_else(|_| "info".into()))
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

    /// The client endpoints of these nodes only, comma-separated.
    pub fn bootstrap_of(&self, ids: &[u32]) -> String {
        ids.iter().map(|&id| format!("127.0.0.1:{}", self.node(id).port)).collect::<Vec<_>>().join(",")
    }

    /// The proxy on the controller link `from` → `to`.
    pub fn link(&self, from: u32, to: u32) -> &FaultProxy {
        &self.links.iter().find(|l| l.from == from && l.to == to).expect("a proxied controller link").proxy
    }

    /// Sets `fault` on both directions of every controller link from and to
    /// node `id`: a partition of `id` from the quorum, both ways.
    pub fn isolate_controllers(&self, id: u32, fault: Fault) {
        assert!(!self.links.is_empty(), "isolation needs start_with_proxies");
        for l in self.links.iter().filter(|l| l.from == id || l.to == id) {
            l.proxy.set_both(fault);
        }
    }

    /// Black-holes only what node `id` sends to the other controllers (its
    /// requests on its own links, its answers on theirs); it still hears them.
    pub fn mute_controllers(&self, id: u32) {
        assert!(!self.links.is_empty(), "muting needs start_with_proxies");
        for l in &self.links {
            if l.from == id {
                l.proxy.set_fault(Direction::ToTarget, Fault::DropBytes);
            } else if l.to == id {
                l.proxy.set_fault(Direction::ToClient, Fault::DropBytes);
            }
        }
    }

    /// Every controller link passes again.
    pub fn heal_controllers(&self) {
        for l in &self.links {
            l.proxy.heal();
        }
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

    /// Runs `corelog <args> -b <bootstrap>`: its whole output.
    pub fn corelog_at(&self, bootstrap: &str, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["-b", bootstrap, "--reconnect-timeout-ms", "2000"])
            .stdin(Stdio::null())
            .output()
            .expect("run corelog")
    }

    /// Runs `corelog <args>` with node `id` as the only bootstrap; its
    /// stdout, or None if it failed.
    pub fn corelog_via(&self, id: u32, args: &[&str]) -> Option<String> {
        let out = self.corelog_at(&self.bootstrap_of(&[id]), args);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The quorum leader per `cluster status` through node `via` (None
    /// during an election or if it cannot be asked).
    pub fn controller_leader_via(&self, via: u32) -> Option<u32> {
        let status = self.corelog_via(via, &["cluster", "status"])?;
        status.lines().next()?.split("Leader: ").nth(1)?.split('\t').next()?.parse().ok()
    }

    /// Unfenced brokers per `cluster status` (None if it cannot be asked).
    pub fn live_brokers(&self) -> Option<usize> {
        Self::parse_live_brokers(&self.corelog(&["cluster", "status"])?)
    }

    /// Unfenced brokers per `cluster status` through node `via` only.
    pub fn live_brokers_via(&self, via: u32) -> Option<usize> {
        Self::parse_live_brokers(&self.corelog_via(via, &["cluster", "status"])?)
    }

    fn parse_live_brokers(status: &str) -> Option<usize> {
        let line = status.lines().find(|l| l.starts_with("Brokers: "))?;
        let brokers: usize = line.strip_prefix("Brokers: ")?.split('\t').next()?.parse().ok()?;
        let fenced = line.split("Fenced: ").nth(1)?;
        let fenced = if fenced == "none" { 0 } else { fenced.split(',').count() };
        Some(brokers - fenced)
    }

    /// Per partition of `topic`: (leader, epoch, isr) from `topic describe`.
    pub fn describe(&self, topic: &str) -> Option<Vec<PartitionState>> {
        Self::parse_describe(&self.corelog(&["topic", "describe", topic])?)
    }

    /// `describe` through node `via` only (its own view of the metadata).
    pub fn describe_via(&self, via: u32, topic: &str) -> Option<Vec<PartitionState>> {
        Self::parse_describe(&self.corelog_via(via, &["topic", "describe", topic])?)
    }

    /// One partition's row of `describe_via`.
    pub fn partition_via(&self, via: u32, topic: &str, partition: u32) -> Option<PartitionState> {
        self.describe_via(via, topic)?.into_iter().find(|p| p.partition == partition)
    }

    fn parse_describe(out: &str) -> Option<Vec<PartitionState>> {
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
                    log_start: rest.get(3).and_then(|o| o.parse().ok()),
                    log_end: rest.get(4).and_then(|o| o.parse().ok()),
                }
            })
            .collect();
        Some(rows)
    }

    /// Produces `lines` (`key:value`, acks=all) through `bootstrap` with
    /// `extra` flags; each acknowledged line's (partition, offset), and the
    /// command's stderr.
    pub fn produce_at(
        &self,
        bootstrap: &str,
        topic: &str,
        lines: &[String],
        extra: &[&str],
    ) -> (BTreeMap<String, (u32, u64)>, String) {
        let mut child = Command::new(BIN)
            .args(["produce", "--topic", topic, "--key-separator", ":", "--print-offsets", "-b", bootstrap])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn produce");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = lines.join("\n") + "\n";
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("produce");
        writer.join().expect("stdin writer").expect("write stdin");
        (parse_reports(&String::from_utf8_lossy(&out.stdout), lines), String::from_utf8_lossy(&out.stderr).into())
    }

    /// Every record of `topic` read through `bootstrap`:
    /// (partition, offset) -> "key:value"; None if the consume failed.
    pub fn consume_at(&self, bootstrap: &str, topic: &str) -> Option<BTreeMap<(u32, u64), String>> {
        let args = [
            "consume",
            "--topic",
            topic,
            "--print-partition",
            "--print-offset",
            "--print-key",
            "--key-separator",
            "\t",
        ];
        let out = self.corelog_at(bootstrap, &args);
        if !out.status.success() {
            return None;
        }
        Some(parse_records(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Polls `probe` (up to `SETTLE_LIMIT`) until it gives a value; panics
    /// naming `what` with the nodes' log tails if it never does.
    pub fn wait_for<T>(&self, what: &str, probe: impl Fn(&TestCluster) -> Option<T>) -> T {
        let deadline = Instant::now() + SETTLE_LIMIT;
        while Instant::now() < deadline {
            if let Some(value) = probe(self) {
                return value;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.give_up(what)
    }

    /// Waits (up to `SETTLE_LIMIT`) until `done(self)`; panics naming `what`
    /// with the nodes' log tails if it never happens.
    pub fn wait_until(&self, what: &str, done: impl Fn(&TestCluster) -> bool) {
        self.wait_for(what, |c| done(c).then_some(()))
    }

    fn give_up(&self, what: &str) -> ! {
        panic!("the cluster never reached: {what}\n{}", self.log_tails());
    }

    /// Every node's panic messages and last log lines, for a failure
    /// message.
    pub fn log_tails(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log = n.log();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                // A panic's message is above its backtrace: shown apart.
                let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked at")).take(3).collect();
                let mut panic_lines = String::new();
                for p in panics {
                    let at = log.find(p).expect("a line of the log");
                    panic_lines.extend(log[at..].lines().take(3).map(|l| format!("{l}\n")));
                }
                let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
                format!("--- node {} ---\n{panic_lines}{tail}\n", n.id)
            })
            .collect()
    }
}

/// `--print-offsets` reports (`LINE\tPARTITION\tOFFSET`) as each
/// acknowledged input line's (partition, offset).
pub fn parse_reports(stdout: &str, lines: &[String]) -> BTreeMap<String, (u32, u64)> {
    stdout
        .lines()
        .map(|report| {
            let f: Vec<&str> = report.split('\t').collect();
            let line: usize = f[0].parse().expect("a line number");
            (lines[line - 1].clone(), (f[1].parse().expect("a partition"), f[2].parse().expect("an offset")))
        })
        .collect()
}

/// `consume --print-partition --print-offset --print-key` lines (tab
/// separated) as (partition, offset) -> "key:value".
pub fn parse_records(stdout: &str) -> BTreeMap<(u32, u64), String> {
    stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ((f[0].parse().expect("a partition"), f[1].parse().expect("an offset")), format!("{}:{}", f[2], f[3]))
        })
        .collect()
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
    /// `-` (unknown: the leader did not answer) is None.
    pub log_start: Option<u64>,
    pub log_end: Option<u64>,
}
