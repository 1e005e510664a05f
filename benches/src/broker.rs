//! The broker a run talks to: a fresh one started in this process
//! (`Broker::start`) or as a child process (the `corelog broker` binary),
//! each on its own data directory and free ports; or an external one
//! (`--bootstrap`), which the harness neither starts nor restarts; or a
//! three-node cluster of `corelog broker` children ([`crate::cluster`]).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use corelog_broker::{Broker, BrokerConfig};

use crate::cluster::{BenchCluster, NODE_CORES};
use crate::probes::{process_cpu, threads_cpu};
use crate::result::BrokerInfo;

/// How long a started broker has to listen.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping child has to flush and exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Which broker to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerMode {
    /// `Broker::start` in this process (threads `core-0`, `core-1`, …).
    InProcess,
    /// `<bin> broker --data-dir … --port … --cores …` as a child process.
    Child { bin: PathBuf },
    /// A broker already running at these endpoints.
    External(Vec<SocketAddr>),
    /// Three `<bin> broker --node-id N --controllers … --cores 1` children,
    /// all of them controllers; the bootstrap list names all three.
    Cluster { bin: PathBuf },
}

impl BrokerMode {
    pub fn name(&self) -> &'static str {
        match self {
            BrokerMode::InProcess => "in-process",
            BrokerMode::Child { .. } => "child",
            BrokerMode::External(_) => "external",
            BrokerMode::Cluster { .. } => "cluster",
        }
    }
}

enum Running {
    InProcess(Broker),
    Child(Child),
    Cluster(BenchCluster),
    External,
    Stopped,
}

/// A broker for one run.
pub struct BenchBroker {
    mode: BrokerMode,
    data_dir: PathBuf,
    cores: usize,
    log: Option<PathBuf>,
    endpoints: Vec<SocketAddr>,
    /// The brokers' Prometheus endpoints (brokers started here).
    metrics: Vec<SocketAddr>,
    /// Run the Kafka listener too (in-process and child brokers).
    kafka: bool,
    /// Core i's Kafka listener (with `kafka`).
    kafka_endpoints: Vec<SocketAddr>,
    running: Running,
}

impl BenchBroker {
    /// Starts a fresh broker on `data_dir` with `cores` cores (or connects
    /// nothing, for an external one). `log`: where a child's stderr goes.
    pub fn start(mode: BrokerMode, data_dir: &Path, cores: usize, log: Option<PathBuf>) -> Result<BenchBroker, String> {
        Self::start_inner(mode, data_dir, cores, log, false)
    }

    /// Starts a fresh in-process or child broker as [`start`](Self::start)
    /// does, with its Kafka listener on as well.
    pub fn start_with_kafka(
        mode: BrokerMode,
        data_dir: &Path,
        cores: usize,
        log: Option<PathBuf>,
    ) -> Result<BenchBroker, String> {
        if !matches!(mode, BrokerMode::InProcess | BrokerMode::Child { .. }) {
            return Err(format!("a {} broker has no Kafka listener here: use in-process or child", mode.name()));
        }
        Self::start_inner(mode, data_dir, cores, log, true)
    }

    fn start_inner(
        mode: BrokerMode,
        data_dir: &Path,
        cores: usize,
        log: Option<PathBuf>,
        kafka: bool,
    ) -> Result<BenchBroker, String> {
        let endpoints = match &mode {
            BrokerMode::External(addrs) => addrs.clone(),
            _ => Vec::new(),
        };
        let running = if endpoints.is_empty() { Running::Stopped } else { Running::External };
        let mut broker = BenchBroker {
            mode,
            data_dir: data_dir.to_path_buf(),
            cores,
            log,
            endpoints,
            metrics: Vec::new(),
            kafka,
            kafka_endpoints: Vec::new(),
            running,
        };
        if matches!(broker.running, Running::Stopped) {
            broker.launch()?;
        }
        Ok(broker)
    }

    /// Core i's Kafka listener (brokers started with it).
    pub fn kafka_endpoints(&self) -> Vec<SocketAddr> {
        self.kafka_endpoints.clone()
    }

    /// Whether this harness started the broker (and may restart it).
    pub fn owned(&self) -> bool {
        !matches!(self.mode, BrokerMode::External(_))
    }

    pub fn bootstrap(&self) -> Vec<SocketAddr> {
        self.endpoints.clone()
    }

    /// Where the brokers serve `GET /metrics` (brokers started here; one
    /// per cluster node).
    pub fn metrics_addrs(&self) -> Vec<SocketAddr> {
        self.metrics.clone()
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::Child(child) => Some(child.id()),
            _ => None,
        }
    }

    /// Every cluster node's process id, node 1 first.
    pub fn pids(&self) -> Vec<u32> {
        match &self.running {
            Running::Cluster(cluster) => cluster.pids(),
            _ => Vec::new(),
        }
    }

    /// Cores of each broker process.
    fn broker_cores(&self) -> usize {
        match self.mode {
            BrokerMode::Cluster { .. } => NODE_CORES,
            _ => self.cores,
        }
    }

    /// CPU time the broker has used so far (its current process or threads).
    pub fn cpu(&self) -> Option<Duration> {
        match &self.running {
            Running::InProcess(_) => threads_cpu(std::process::id(), "core-"),
            Running::Child(child) => process_cpu(child.id()),
            Running::Cluster(cluster) => cluster.cpu(),
            Running::External | Running::Stopped => None,
        }
    }

    pub fn info(&self) -> BrokerInfo {
        BrokerInfo {
            mode: self.mode.name().into(),
            bootstrap: self.endpoints.iter().map(|a| a.to_string()).collect(),
            cores: self.owned().then(|| self.broker_cores()),
            data_dir: self.owned().then(|| self.data_dir.display().to_string()),
            pid: self.pid(),
            pids: self.pids(),
        }
    }

    /// Stops the broker (flushing every partition) and starts it again on
    /// the same data directory: what it serves next comes from disk.
    pub fn restart(&mut self) -> Result<(), String> {
        if !self.owned() {
            return Ok(());
        }
        self.stop()?;
        self.launch()
    }

    /// Stops the broker, empties its data directory and starts a fresh one.
    pub fn restart_empty(&mut self) -> Result<(), String> {
        if !self.owned() {
            return Ok(());
        }
        self.stop()?;
        remove_dir_contents(&self.data_dir)?;
        self.launch()
    }

    /// Stops an owned broker (flushing every partition).
    pub fn stop(&mut self) -> Result<(), String> {
        match std::mem::replace(&mut self.running, Running::Stopped) {
            Running::InProcess(broker) => broker.shutdown().map_err(|e| format!("stopping the broker: {e}")),
            Running::Child(child) => stop_child(child),
            Running::Cluster(cluster) => cluster.stop(),
            Running::External => {
                self.running = Running::External;
                Ok(())
            }
            Running::Stopped => Ok(()),
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| format!("creating {}: {e}", self.data_dir.display()))?;
        if let BrokerMode::Cluster { bin } = &self.mode {
            let log_dir = self.log.as_deref().and_then(Path::parent);
            let cluster = BenchCluster::start(bin, &self.data_dir, log_dir)?;
            self.endpoints = cluster.endpoints();
            self.metrics = cluster.metrics();
            self.running = Running::Cluster(cluster);
            return Ok(());
        }
        let mut last = String::new();
        // A free port can be taken between the check and the bind: retry.
        for _ in 0..5 {
            let base = corelog_testkit::free_ports(self.cores as u16);
            let metrics = corelog_testkit::free_port();
            let kafka = self.kafka.then(|| corelog_testkit::free_ports(self.cores as u16));
            let ports = Ports { base, metrics, kafka };
            let started = match &self.mode {
                BrokerMode::InProcess => start_in_process(&self.data_dir, self.cores, ports),
                BrokerMode::Child { bin } => start_child(bin, &self.data_dir, self.cores, ports, self.log.as_deref()),
                BrokerMode::External(_) | BrokerMode::Cluster { .. } => {
                    unreachable!("external brokers are not launched; clusters above")
                }
            };
            match started {
                Ok((running, endpoints)) => {
                    self.running = running;
                    self.endpoints = endpoints;
                    self.metrics = vec![SocketAddr::from(([127, 0, 0, 1], metrics))];
                    self.kafka_endpoints = kafka
                        .map(|k| (0..endpoints_len(&self.endpoints)).map(|i| loopback(k + i)).collect())
                        .unwrap_or_default();
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(format!("cannot start the broker: {last}"))
    }
}

impl Drop for BenchBroker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A broker's ports: core i listens on `base + i` (and for Kafka clients
/// on `kafka + i`); metrics on `metrics`.
#[derive(Debug, Clone, Copy)]
struct Ports {
    base: u16,
    metrics: u16,
    kafka: Option<u16>,
}

fn endpoints_len(endpoints: &[SocketAddr]) -> u16 {
    u16::try_from(endpoints.len()).unwrap_or(u16::MAX)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn start_in_process(data_dir: &Path, cores: usize, ports: Ports) -> Result<(Running, Vec<SocketAddr>), String> {
    let config = BrokerConfig {
        base_port: ports.base,
        metrics_port: Some(ports.metrics),
        kafka_port: ports.kafka.unwrap_or(0),
        data_dir: data_dir.to_path_buf(),
        cores,
        ..BrokerConfig::default()
    };
    let broker = Broker::start(config).map_err(|e| e.to_string())?;
    let endpoints = broker.endpoints();
    Ok((Running::InProcess(broker), endpoints))
}

fn start_child(
    bin: &Path,
    data_dir: &Path,
    cores: usize,
    ports: Ports,
    log: Option<&Path>,
) -> Result<(Running, Vec<SocketAddr>), String> {
    let mut command = Command::new(bin);
    command
        .arg("broker")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--cores", &cores.to_string(), "--port", &ports.base.to_string()])
        .args(["--metrics-port", &ports.metrics.to_string()])
        .args(["--kafka-port", &ports.kafka.unwrap_or(0).to_string()]);
    let what = format!("{} broker", bin.display());
    let (child, endpoints) = spawn_listening(command, log, cores.min(corelog_runtime::available_cores()), &what)?;
    Ok((Running::Child(child), endpoints))
}

/// Spawns a `corelog broker` `command` (stderr appended to `log`, or
/// inherited) and waits until it prints `core N listening on ADDR` for
/// `cores` cores; stdout keeps being drained after. `what` names it in
/// errors.
pub(crate) fn spawn_listening(
    mut command: Command,
    log: Option<&Path>,
    cores: usize,
    what: &str,
) -> Result<(Child, Vec<SocketAddr>), String> {
    let stderr = match log {
        Some(path) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("opening {}: {e}", path.display()))?,
        ),
        None => Stdio::inherit(),
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("running {what}: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split(" listening on ").nth(1).and_then(|a| a.trim().parse().ok()) {
                let _ = tx.send(addr);
            }
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    let mut endpoints = Vec::new();
    while endpoints.len() < cores {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited with {status} before listening"));
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(addr) => endpoints.push(addr),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => {
                let _ = stop_child(child);
                return Err(format!("{what} did not listen within {START_TIMEOUT:?}"));
            }
        }
    }
    Ok((child, endpoints))
}

/// SIGTERM (the broker flushes and exits), then SIGKILL after a while.
pub(crate) fn stop_child(mut child: Child) -> Result<(), String> {
    // SAFETY: kill(2) with a pid we spawned and still hold (not yet reaped).
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("the broker exited with {status}")),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the broker did not stop within {STOP_TIMEOUT:?}; killed"));
            }
            Err(e) => return Err(format!("waiting for the broker: {e}")),
        }
    }
}

/// Empties a directory, keeping it.
pub fn remove_dir_contents(dir: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("reading {}: {e}", dir.display())),
    };
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|e| format!("removing {}: {e}", path.display()))?;
    }
    Ok(())
}
