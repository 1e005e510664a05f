//! Running the `corelog` binary with its Kafka listener for the Kafka tests
//! (kafka_clients.rs: real clients; kafka_wire.rs: frames by hand), and
//! finding the clients scripts/install-deps.sh installs.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cli_support::{corelog, read_all, wait_until_accepting};

pub const RECORDS: usize = 10_000;
pub const PARTITIONS: u32 = 4;
pub const CORES: u16 = 2;
/// Longest a client script may run.
pub const CLIENT_LIMIT: Duration = Duration::from_secs(90);

/// A broker with `CORES` cores, native and Kafka listeners on free ports.
pub struct Broker {
    child: Child,
    pub native: u16,
    pub kafka: u16,
    pub dir: tempfile::TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        Broker::start_with("")
    }

    /// A broker with these extra `[broker]` settings of corelog.toml.
    pub fn start_with(settings: &str) -> Broker {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let config = dir.path().join("corelog.toml");
            std::fs::write(&config, format!("[broker]\n{settings}\n")).expect("write corelog.toml");
            let (native, kafka) = (free_ports(CORES), free_ports(CORES));
            if native.abs_diff(kafka) < CORES {
                continue;
            }
            if let Some(child) = spawn_broker(dir.path(), native, kafka) {
                return Broker { child, native, kafka, dir };
            }
        }
        panic!("no broker came up on free ports");
    }

    pub fn native(&self) -> String {
        format!("127.0.0.1:{}", self.native)
    }

    pub fn kafka(&self) -> String {
        format!("127.0.0.1:{}", self.kafka)
    }

    /// Creates `topic` and produces `RECORDS` keyed records `k{i}`/`v{i}` natively.
    pub fn topic_with_records(&self, topic: &str) {
        let partitions = PARTITIONS.to_string();
        corelog(&["topic", "create", topic, "--partitions", &partitions, "-b", &self.native()], "").ok();
        let input: String = (0..RECORDS).map(|i| format!("k{i}:v{i}\n")).collect();
        corelog(&["produce", "--topic", topic, "--key-separator", ":", "-b", &self.native()], &input).ok();
    }

    /// Kills the broker with SIGKILL and starts it again on the same data
    /// directory and ports.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..50 {
            if let Some(child) = spawn_broker(self.dir.path(), self.native, self.kafka) {
                self.child = child;
                return;
            }
            // Its ports may still be held by the killed process's sockets.
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the broker did not come back on its ports");
    }

    pub fn assert_alive(&mut self) {
        assert!(self.child.try_wait().expect("try_wait").is_none(), "the broker exited");
    }
}

/// The broker over `dir` (its corelog.toml and data), once every listener
/// accepts; None (the process gone) if it did not come up.
fn spawn_broker(dir: &std::path::Path, native: u16, kafka: u16) -> Option<Child> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corelog"))
        .arg("broker")
        .arg("--config")
        .arg(dir.join("corelog.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--port", &native.to_string(), "--kafka-port", &kafka.to_string()])
        .args(["--cores", &CORES.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the broker");
    let up =
        wait_until_accepting(&mut child, native) && (0..CORES).all(|c| wait_until_accepting(&mut child, kafka + c));
    if up {
        return Some(child);
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub use corelog_testkit::free_ports;

pub fn have_command(name: &str, probe: &[&str]) -> bool {
    Command::new(name).args(probe).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

pub fn have_python_module(module: &str) -> bool {
    have_command("python3", &["-c", &format!("import {module}")])
}

pub fn kafkajs_dir() -> PathBuf {
    PathBuf::from(std::env::var("KAFKAJS_DIR").unwrap_or_else(|_| "/opt/corelog-kafkajs".into()))
}

pub fn have_kafkajs() -> bool {
    have_command("node", &["--version"]) && kafkajs_dir().join("node_modules/kafkajs").is_dir()
}

/// Skips (passing) with a clear message when a client is missing.
#[macro_export]
macro_rules! require {
    ($available:expr, $what:expr) => {
        if !$available {
            eprintln!("skipping: {} is not installed (run scripts/install-deps.sh)", $what);
            return;
        }
    };
}

/// Runs a client to its end within [`CLIENT_LIMIT`]; its stdout.
pub fn run_client(command: Command, what: &str) -> String {
    run_client_with_input(command, "", what)
}

/// [`run_client`] with `input` on the client's stdin.
pub fn run_client_with_input(mut command: Command, input: &str, what: &str) -> String {
    use std::io::Write;
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect(what);
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    // Dropped at the end of the input, so the client sees EOF.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let deadline = Instant::now() + CLIENT_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {CLIENT_LIMIT:?}; stderr:\n{}", stderr.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap();
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "{what} failed ({status}); stderr:\n{stderr}\nstdout:\n{stdout}");
    stdout
}

/// confluent-kafka reading a topic from the start until it has `want`
/// records, printing `partition offset key value` lines.
pub const CONFLUENT_READ: &str = r#"
import sys
from confluent_kafka import Consumer
bootstrap, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-" + topic, "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
seen = 0
while seen < want:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        raise SystemExit(str(m.error()))
    print(m.partition(), m.offset(), m.key().decode(), m.value().decode())
    seen += 1
c.close()
"#;

pub fn python(script: &str, args: &[&str]) -> Command {
    let mut c = Command::new("python3");
    c.arg("-c").arg(script).args(args);
    c
}

/// Checks lines `partition offset key value`: every record exactly once,
/// each key with its value, each partition's offsets 0..n without a gap.
pub fn assert_all_records(output: &str, client: &str) {
    let mut by_partition: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [p, o, k, v] = fields[..] else { panic!("{client}: unexpected line {line:?}") };
        assert_eq!(v.strip_prefix('v'), k.strip_prefix('k'), "{client}: key {k} has value {v}");
        assert!(keys.insert(k.to_owned()), "{client}: {k} twice");
        by_partition.entry(p.parse().unwrap()).or_default().push(o.parse().unwrap());
    }
    assert_eq!(keys.len(), RECORDS, "{client}: {} of {RECORDS} records", keys.len());
    for (p, mut offsets) in by_partition {
        offsets.sort_unstable();
        let expected: Vec<u64> = (0..offsets.len() as u64).collect();
        assert_eq!(offsets, expected, "{client}: partition {p} offsets");
    }
}
