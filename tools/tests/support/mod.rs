//! Helpers for the end-to-end tests that drive the real `corelog` binary:
//! free loopback ports, a broker child process (stdout and stderr piped and
//! echoed with a prefix, so libtest shows them for a failing test), readiness
//! (every core's port accepts), kill -9, SIGTERM, and client-side helpers
//! (run a client future on a local glommio executor, read a whole topic
//! back, scrape the metrics).
//!
//! Data directories live under `CARGO_TARGET_TMPDIR` (a real file system;
//! /tmp may be tmpfs, which has no O_DIRECT).
#![allow(dead_code)]

use corelog_client::{Admin, ClientConfig, Cluster, Consumer, ConsumerConfig, ConsumerRecord, OffsetSpec, StartAt};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a broker may take to listen on every core (recovery included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Cores for a test broker: 2 if the machine has 2 or more CPUs, else 1.
pub fn test_cores() -> usize {
    corelog_runtime::available_cores().min(2)
}

/// A fresh data directory under the target dir (removed on drop).
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("corelog-e2e-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

/// A base port with `n` free ports from it.
pub fn free_base_port(n: usize) -> u16 {
    corelog_testkit::free_ports(u16::try_from(n).expect("port count"))
}

/// A `corelog broker` child process.
pub struct BrokerProc {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub cores: usize,
    pub port: u16,
    pub metrics_port: Option<u16>,
    /// Every line the broker wrote (stdout and stderr), in order.
    log: Arc<Mutex<Vec<String>>>,
    /// Name used as the prefix of echoed lines.
    name: String,
    /// How many times this broker has been started.
    starts: usize,
}

impl BrokerProc {
    /// Starts a broker on free ports and waits until every core accepts.
    pub fn start(name: &str, data_dir: &Path, cores: usize, with_metrics: bool) -> BrokerProc {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_base_port(cores);
            let metrics_port = with_metrics.then(|| free_base_port(1));
            let mut broker = BrokerProc {
                child: None,
                data_dir: data_dir.to_path_buf(),
                cores,
                port,
                metrics_port,
                log: Arc::default(),
                name: name.to_owned(),
                starts: 0,
            };
            match broker.spawn_and_wait() {
                Ok(()) => return broker,
                Err(e) => {
                    eprintln!("[{name}] start on port {port} failed, trying other ports: {e}");
                    last = e;
                }
            }
        }
        panic!("[{name}] could not start the broker: {last}");
    }

    /// Starts the broker again on the same data dir and ports (after a
    /// kill or a stop) and waits until every core accepts.
    pub fn restart(&mut self) -> Duration {
        assert!(self.child.is_none(), "restart of a running broker");
        let started = Instant::now();
        if let Err(e) = self.spawn_and_wait() {
            panic!("[{}] restart failed: {e}\n{}", self.name, self.log_tail(40));
        }
        started.elapsed()
    }

    /// The per-core endpoints, index = core.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        (0..self.cores).map(|c| SocketAddr::from(([127, 0, 0, 1], self.port + c as u16))).collect()
    }

    /// The process id of the running broker.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        self.starts += 1;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_corelog"));
        cmd.arg("broker")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--cores")
            .arg(self.cores.to_string())
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--kafka-port", "0"]);
        if let Some(m) = self.metrics_port {
            cmd.arg("--metrics-port").arg(m.to_string());
        }
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        // The broker's log goes to a pipe here: no colour codes.
        cmd.env("NO_COLOR", "1");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", env!("CARGO_BIN_EXE_corelog")))?;
        let prefix = format!("{}#{}", self.name, self.starts);
        echo(child.stdout.take().expect("piped"), prefix.clone(), self.log.clone());
        echo(child.stderr.take().expect("piped"), prefix, self.log.clone());
        let pid = child.id();
        self.child = Some(child);
        let started = Instant::now();
        let endpoints = self.endpoints();
        let mut ready = vec![false; endpoints.len()];
        loop {
            if let Some(status) = self.child.as_mut().expect("spawned").try_wait().map_err(|e| e.to_string())? {
                self.child = None;
                return Err(format!("broker exited during start with {status}\n{}", self.log_tail(20)));
            }
            for (addr, ok) in endpoints.iter().zip(ready.iter_mut()) {
                if !*ok {
                    *ok = TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok();
                }
            }
            if ready.iter().all(|r| *r) {
                eprintln!(
                    "[{}] broker pid {pid} ready on ports {}..{} after {:?}",
                    self.name,
                    self.port,
                    usize::from(self.port) + self.cores - 1,
                    started.elapsed()
                );
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                self.kill();
                return Err(format!("broker not listening after {READY_TIMEOUT:?}\n{}", self.log_tail(20)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (kill -9) and reap the process. No-op if not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (a clean stop: the broker flushes and exits) and waits up to
    /// `limit` for the exit; kills it after that. The exit status, if it exited.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// The last `n` lines the broker wrote.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }

    /// How many lines the broker has written so far (for [`Self::lines_since`]).
    pub fn log_mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Lines written after `mark` (from [`Self::log_mark`]) that contain `needle`.
    pub fn lines_since(&self, mark: usize, needle: &str) -> Vec<String> {
        self.log.lock().unwrap()[mark..].iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    /// `GET /metrics` from the broker's metrics port.
    pub fn scrape_metrics(&self) -> String {
        let port = self.metrics_port.expect("started with metrics");
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read the metrics response");
        assert!(text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"), "metrics: {text:.200}");
        text
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Echoes a pipe's lines with a prefix (libtest captures them per test) and
/// keeps them in `log`.
fn echo(pipe: impl Read + Send + 'static, prefix: String, log: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            eprintln!("[{prefix}] {line}");
            log.lock().unwrap().push(line);
        }
    });
}

/// The value of a per-core series `name{core="i"}` in a Prometheus text
/// scrape (0 if absent).
pub fn metric(text: &str, name: &str, core: usize) -> f64 {
    let wanted = format!("{name}{{core=\"{core}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&wanted)).map_or(0.0, |v| v.trim().parse().expect("numeric sample"))
}

/// Runs a client future on a fresh local glommio executor on this thread,
/// failing the test if it takes longer than `limit`. Tasks the future left
/// behind (a producer's sender, requests in flight) die with the executor.
pub fn run_client<F: Future>(limit: Duration, future: F) -> F::Output {
    corelog_runtime::run_local(async move {
        match corelog_runtime::timeout(limit, future).await {
            Some(out) => out,
            None => panic!("client did not finish within {limit:?}"),
        }
    })
}

/// Client settings for tests (a dead broker shows as refused connections,
/// not timeouts).
pub fn client_config() -> ClientConfig {
    ClientConfig {
        client_id: "corelog-e2e".into(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    }
}

/// Everything in `topic`, per partition in offset order, read from the
/// earliest offset up to each partition's log end as of the call.
pub async fn read_all(bootstrap: &[SocketAddr], topic: &str, limit: Duration) -> BTreeMap<u32, Vec<ConsumerRecord>> {
    let started = Instant::now();
    let cluster = Cluster::connect(bootstrap, client_config()).await.expect("connect");
    let admin = Admin::new(&cluster);
    let info = admin.describe_topic(topic).await.expect("describe topic");
    let mut ends = BTreeMap::new();
    for p in 0..info.partition_count() {
        let start = admin.list_offsets(topic, p, OffsetSpec::Earliest).await.expect("earliest").offset;
        let end = admin.list_offsets(topic, p, OffsetSpec::Latest).await.expect("latest").offset;
        assert_eq!(start, Some(0), "partition {p} does not start at offset 0");
        ends.insert(p, end.expect("log end offset"));
    }
    let mut consumer =
        Consumer::new(&cluster, ConsumerConfig { max_wait: Duration::from_millis(100), ..Default::default() });
    consumer.assign_all(topic, StartAt::Earliest).await.expect("assign");
    let mut out: BTreeMap<u32, Vec<ConsumerRecord>> = ends.keys().map(|p| (*p, Vec::new())).collect();
    let done = |c: &Consumer| ends.iter().all(|(p, end)| c.position(topic, *p).is_some_and(|pos| pos >= *end));
    while !done(&consumer) {
        assert!(
            started.elapsed() < limit,
            "reading {topic} back took over {limit:?}: positions {:?} of ends {ends:?}",
            ends.keys().map(|p| consumer.position(topic, *p)).collect::<Vec<_>>()
        );
        for r in consumer.poll(Duration::from_millis(500)).await.expect("poll") {
            if r.offset < ends[&r.partition] {
                out.get_mut(&r.partition).expect("assigned partition").push(r);
            }
        }
    }
    cluster.close();
    let total: usize = out.values().map(Vec::len).sum();
    eprintln!("read {total} records of {topic} back in {:?} (log ends {ends:?})", started.elapsed());
    out
}

/// A small deterministic PRNG (splitmix64), for payloads and random delays
/// without a dependency.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Seeded from the clock, or from `env` if that variable is set (print
    /// the seed so a failure can be replayed).
    pub fn from_env_or_clock(env: &str) -> (SplitMix, u64) {
        let seed = std::env::var(env).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        (SplitMix(seed), seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }

    /// `len` pseudo-random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}
