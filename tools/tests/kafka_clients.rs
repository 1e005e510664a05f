//! Real Kafka clients against the `corelog` binary's Kafka listener: kcat
//! (librdkafka), kafka-python, confluent-kafka and kafkajs, as
//! scripts/install-deps.sh installs them. A test whose client is not
//! installed says so and passes without running (CI installs them all).
//!
//! Records are produced natively (`corelog produce`): Kafka produce is not
//! served yet (docs/kafka.md).

mod cli_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{corelog, wait_until_accepting};

const RECORDS: usize = 10_000;
const PARTITIONS: u32 = 4;
const CORES: u16 = 2;
/// Longest a client script may run.
const CLIENT_LIMIT: Duration = Duration::from_secs(90);

/// A broker with `CORES` cores, native and Kafka listeners on free ports.
struct Broker {
    child: Child,
    native: u16,
    kafka: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Broker {
        Broker::start_with("")
    }

    /// A broker with these extra `[broker]` settings of corelog.toml.
    fn start_with(settings: &str) -> Broker {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let config = dir.path().join("corelog.toml");
            std::fs::write(&config, format!("[broker]\n{settings}\n")).expect("write corelog.toml");
            let (native, kafka) = (free_ports(CORES), free_ports(CORES));
            if native.abs_diff(kafka) < CORES {
                continue;
            }
            let mut child = Command::new(env!("CARGO_BIN_EXE_corelog"))
                .arg("broker")
                .arg("--config")
                .arg(&config)
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .args(["--port", &native.to_string(), "--kafka-port", &kafka.to_string()])
                .args(["--cores", &CORES.to_string()])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn the broker");
            let up = wait_until_accepting(&mut child, native)
                && (0..CORES).all(|c| wait_until_accepting(&mut child, kafka + c));
            if up {
                return Broker { child, native, kafka, _dir: dir };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no broker came up on free ports");
    }

    fn native(&self) -> String {
        format!("127.0.0.1:{}", self.native)
    }

    fn kafka(&self) -> String {
        format!("127.0.0.1:{}", self.kafka)
    }

    /// Creates `topic` and produces `RECORDS` keyed records `k{i}`/`v{i}` natively.
    fn topic_with_records(&self, topic: &str) {
        let partitions = PARTITIONS.to_string();
        corelog(&["topic", "create", topic, "--partitions", &partitions, "-b", &self.native()], "").ok();
        let input: String = (0..RECORDS).map(|i| format!("k{i}:v{i}\n")).collect();
        corelog(&["produce", "--topic", topic, "--key-separator", ":", "-b", &self.native()], &input).ok();
    }

    fn assert_alive(&mut self) {
        assert!(self.child.try_wait().expect("try_wait").is_none(), "the broker exited");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A base port with `n` consecutive ports free a moment ago.
fn free_ports(n: u16) -> u16 {
    loop {
        let base = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if base.checked_add(n).is_none() {
            continue;
        }
        if (1..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
}

fn have_command(name: &str, probe: &[&str]) -> bool {
    Command::new(name).args(probe).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn have_python_module(module: &str) -> bool {
    have_command("python3", &["-c", &format!("import {module}")])
}

fn kafkajs_dir() -> PathBuf {
    PathBuf::from(std::env::var("KAFKAJS_DIR").unwrap_or_else(|_| "/opt/corelog-kafkajs".into()))
}

fn have_kafkajs() -> bool {
    have_command("node", &["--version"]) && kafkajs_dir().join("node_modules/kafkajs").is_dir()
}

/// Skips (passing) with a clear message when a client is missing.
macro_rules! require {
    ($available:expr, $what:expr) => {
        if !$available {
            eprintln!("skipping: {} is not installed (run scripts/install-deps.sh)", $what);
            return;
        }
    };
}

/// Runs a client to its end within [`CLIENT_LIMIT`]; its stdout.
fn run_client(mut command: Command, what: &str) -> String {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect(what);
    let stdout = cli_support::read_all(child.stdout.take().unwrap());
    let stderr = cli_support::read_all(child.stderr.take().unwrap());
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
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "{what} failed ({status}); stderr:\n{stderr}\nstdout:\n{stdout}");
    stdout
}

fn python(script: &str, args: &[&str]) -> Command {
    let mut c = Command::new("python3");
    c.arg("-c").arg(script).args(args);
    c
}

/// Checks lines `partition offset key value`: every record exactly once,
/// each key with its value, each partition's offsets 0..n without a gap.
fn assert_all_records(output: &str, client: &str) {
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

#[test]
fn kcat_metadata_lists_every_core_as_a_broker() {
    require!(have_command("kcat", &["-V"]), "kcat");
    let broker = Broker::start();
    corelog(&["topic", "create", "meta", "--partitions", "4", "-b", &broker.native()], "").ok();
    let mut kcat = Command::new("kcat");
    kcat.args(["-L", "-J", "-b", &broker.kafka()]);
    let json: serde_json::Value = serde_json::from_str(&run_client(kcat, "kcat -L")).expect("kcat -J output");
    let brokers: BTreeSet<(i64, String)> = json["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["id"].as_i64().unwrap(), b["name"].as_str().unwrap().to_owned()))
        .collect();
    let expected: BTreeSet<(i64, String)> =
        (0..CORES).map(|c| (i64::from(c), format!("127.0.0.1:{}", broker.kafka + c))).collect();
    assert_eq!(brokers, expected, "node 0's cores as brokers 0 and 1 on kafka_port + core");
    let topic = json["topics"].as_array().unwrap().iter().find(|t| t["topic"] == "meta").expect("topic meta");
    let partitions = topic["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 4);
    for p in partitions {
        let leader = p["leader"].as_i64().unwrap();
        assert!((0..i64::from(CORES)).contains(&leader), "leader {leader} is a core of node 0");
        assert_eq!(p["replicas"][0]["id"].as_i64(), Some(leader));
    }
}

const KAFKA_PYTHON_READ: &str = r#"
import sys, kafka
bootstrap, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest")
parts = [kafka.TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
c.assign(parts)
c.seek_to_beginning(*parts)
seen = 0
while seen < want:
    for tp, records in c.poll(timeout_ms=1000).items():
        for r in records:
            print(r.partition, r.offset, r.key.decode(), r.value.decode())
            seen += 1
c.close()
"#;

const CONFLUENT_READ: &str = r#"
import sys
from confluent_kafka import Consumer
bootstrap, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "confluent-reader", "auto.offset.reset": "earliest", "enable.auto.commit": False})
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

const KAFKAJS_READ: &str = r#"
const { Kafka, logLevel } = require("kafkajs");
const [bootstrap, topic, want] = [process.argv[1], process.argv[2], parseInt(process.argv[3])];
const kafka = new Kafka({ clientId: "kafkajs-reader", brokers: [bootstrap], logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: "kafkajs-reader" });
let seen = 0;
const lines = [];
consumer.on(consumer.events.CRASH, (e) => { console.error(e.payload.error); process.exit(1); });
(async () => {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        lines.push(`${partition} ${message.offset} ${message.key.toString()} ${message.value.toString()}`);
        seen += 1;
        if (seen === want) resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  process.stdout.write(lines.join("\n") + "\n");
})().catch((e) => { console.error(e); process.exit(1); });
"#;

#[test]
fn every_client_reads_natively_produced_records() {
    let broker = Broker::start();
    broker.topic_with_records("native");
    let (bootstrap, want) = (broker.kafka(), RECORDS.to_string());
    if have_command("kcat", &["-V"]) {
        let mut kcat = Command::new("kcat");
        kcat.args(["-C", "-e", "-q", "-b", &bootstrap, "-t", "native", "-f", "%p %o %k %s\\n"]);
        assert_all_records(&run_client(kcat, "kcat -C"), "kcat");
    } else {
        eprintln!("skipping kcat: not installed (run scripts/install-deps.sh)");
    }
    if have_python_module("kafka") {
        let out = run_client(python(KAFKA_PYTHON_READ, &[&bootstrap, "native", &want]), "kafka-python");
        assert_all_records(&out, "kafka-python");
    } else {
        eprintln!("skipping kafka-python: not installed (run scripts/install-deps.sh)");
    }
    if have_python_module("confluent_kafka") {
        let out = run_client(python(CONFLUENT_READ, &[&bootstrap, "native", &want]), "confluent-kafka");
        assert_all_records(&out, "confluent-kafka");
    } else {
        eprintln!("skipping confluent-kafka: not installed (run scripts/install-deps.sh)");
    }
    if have_kafkajs() {
        let mut node = Command::new("node");
        node.arg("-e").arg(KAFKAJS_READ).args([&bootstrap, "native", &want]);
        node.env("NODE_PATH", kafkajs_dir().join("node_modules"));
        assert_all_records(&run_client(node, "kafkajs"), "kafkajs");
    } else {
        eprintln!("skipping kafkajs: not installed (run scripts/install-deps.sh)");
    }
}

/// A group member: consumes and commits until it has seen nothing new for
/// a few seconds while the group holds everything, then prints its final
/// assignment (`assigned P,P`) and its records.
const KAFKA_PYTHON_MEMBER: &str = r#"
import sys, time, kafka
bootstrap, topic, group, idle = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
c = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                        auto_offset_reset="earliest", session_timeout_ms=10000, heartbeat_interval_ms=1000)
# `last`: when something last happened (the first assignment, a record).
lines, last = [], None
started = time.time()
while last is None or time.time() - last < idle:
    polled = c.poll(timeout_ms=500)
    if last is None and c.assignment():
        last = time.time()
    for tp, records in polled.items():
        for r in records:
            lines.append(f"{r.partition} {r.offset} {r.key.decode()} {r.value.decode()}")
        last = time.time()
    if polled:
        c.commit()
    if time.time() - started > 80:
        raise SystemExit("no quiet period within 80 s")
c.commit()
print("assigned " + ",".join(str(tp.partition) for tp in sorted(c.assignment())))
print("\n".join(lines))
c.close()
"#;

#[test]
fn a_group_of_two_kafka_python_members_splits_partitions_and_another_group_sees_everything() {
    require!(have_python_module("kafka"), "kafka-python");
    let broker = Broker::start();
    corelog(&["topic", "create", "shared", "--partitions", "4", "-b", &broker.native()], "").ok();
    let bootstrap = broker.kafka();
    // Both members are in the group before any record exists, so each
    // record is read by whoever owns its partition in the final generation.
    let members: Vec<_> = (0..2)
        .map(|_| {
            let mut cmd = python(KAFKA_PYTHON_MEMBER, &[&bootstrap, "shared", "split", "8"]);
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().expect("kafka-python member")
        })
        .collect();
    std::thread::sleep(Duration::from_secs(6));
    let input: String = (0..RECORDS).map(|i| format!("k{i}:v{i}\n")).collect();
    corelog(&["produce", "--topic", "shared", "--key-separator", ":", "-b", &broker.native()], &input).ok();
    let mut all = String::new();
    let mut assignments = Vec::new();
    for mut member in members {
        let stdout = cli_support::read_all(member.stdout.take().unwrap());
        let stderr = cli_support::read_all(member.stderr.take().unwrap());
        let status = cli_support::wait_with_limit(&mut member, &["kafka-python member"]);
        let (out, err) = (stdout.join().unwrap(), stderr.join().unwrap());
        assert!(status.success(), "member failed: {err}\n{out}");
        let (first, rest) = out.split_once('\n').unwrap_or((&out, ""));
        let assigned: BTreeSet<u32> = first
            .strip_prefix("assigned ")
            .expect(first)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|p| p.parse().unwrap())
            .collect();
        assignments.push(assigned);
        all.push_str(rest);
        all.push('\n');
    }
    assert!(assignments.iter().all(|a| !a.is_empty()), "each member got partitions: {assignments:?}");
    assert!(assignments[0].is_disjoint(&assignments[1]), "split, not shared: {assignments:?}");
    assert_eq!(assignments[0].len() + assignments[1].len(), 4, "{assignments:?}");
    assert_all_records(&all, "the group of two");

    // The commits are the group's: corelog sees them, with no lag left.
    let described = corelog(&["group", "describe", "split", "-b", &broker.native()], "").ok().stdout;
    let rows: Vec<&str> = described.lines().filter(|l| l.starts_with("split ")).collect();
    assert_eq!(rows.len(), 4, "a row per partition:\n{described}");
    let mut committed = 0;
    for row in rows {
        let f: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(f[3], f[4], "committed = log end:\n{described}");
        assert_eq!(f[5], "0", "no lag:\n{described}");
        committed += f[3].parse::<usize>().unwrap();
    }
    assert_eq!(committed, RECORDS);

    // Another group reads everything again.
    let out = run_client(python(KAFKA_PYTHON_MEMBER, &[&bootstrap, "shared", "second", "3"]), "second group");
    let (first, rest) = out.split_once('\n').unwrap();
    assert_eq!(first, "assigned 0,1,2,3");
    assert_all_records(rest, "the second group");
}

/// Sends `bytes` on a fresh connection (then shuts down the write side if
/// `finish`) and expects the broker to close it without a byte in reply.
fn expect_clean_close(addr: &str, bytes: &[u8], finish: bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    if finish {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut reply = Vec::new();
    match s.read_to_end(&mut reply) {
        Ok(_) => assert!(reply.is_empty(), "no reply to a bad frame, got {reply:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "closed, not left open: {e}"),
    }
}

/// An ApiVersions request frame of `version` (header v1, no client id; v3
/// bodies also carry a client software name and version and tagged fields).
fn api_versions_frame(version: i16, correlation_id: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    if version >= 3 {
        body.push(0); // header tagged fields
        body.extend_from_slice(&[2, b'c', 2, b'1', 0]); // compact strings "c", "1"; tagged fields
    }
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Reads one response frame.
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut frame).unwrap();
    frame
}

#[test]
fn bad_frames_close_the_connection_and_the_broker_keeps_serving() {
    let mut broker = Broker::start();
    let addr = broker.kafka();
    expect_clean_close(&addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
    expect_clean_close(&addr, &0x7fff_ffffi32.to_be_bytes(), false);
    expect_clean_close(&addr, &[0, 0, 0, 3, 1, 2, 3], false);
    let mut truncated = api_versions_frame(3, 7);
    truncated.truncate(truncated.len() - 3);
    expect_clean_close(&addr, &truncated, true);
    // A whole frame whose body is malformed (an api key that does not exist).
    let mut unknown = api_versions_frame(0, 8);
    unknown[4..6].copy_from_slice(&999i16.to_be_bytes());
    expect_clean_close(&addr, &unknown, false);
    broker.assert_alive();

    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Unsupported version: the v0 error reply (correlation id, error code
    // UNSUPPORTED_VERSION 35, then the supported table), connection kept.
    s.write_all(&api_versions_frame(99, 41)).unwrap();
    let reply = read_frame(&mut s);
    assert_eq!(reply[..4], 41i32.to_be_bytes());
    assert_eq!(reply[4..6], 35i16.to_be_bytes());
    let count = i32::from_be_bytes(reply[6..10].try_into().unwrap()) as usize;
    assert_eq!(reply.len(), 10 + count * 6, "v0 layout: api_key, min, max per entry");
    let apis: Vec<i16> = reply[10..].chunks(6).map(|e| i16::from_be_bytes([e[0], e[1]])).collect();
    assert!(apis.contains(&1) && apis.contains(&3) && apis.contains(&18), "Fetch, Metadata, ApiVersions: {apis:?}");
    // Pipelined: two requests in one write, answered in order.
    let mut two = api_versions_frame(3, 42);
    two.extend_from_slice(&api_versions_frame(0, 43));
    s.write_all(&two).unwrap();
    let (a, b) = (read_frame(&mut s), read_frame(&mut s));
    assert_eq!((a[..4].to_vec(), b[..4].to_vec()), (42i32.to_be_bytes().to_vec(), 43i32.to_be_bytes().to_vec()));
    assert_eq!(a[4..6], 0i16.to_be_bytes(), "v3 reply without error");
    broker.assert_alive();
    if have_command("kcat", &["-V"]) {
        let mut kcat = Command::new("kcat");
        kcat.args(["-L", "-b", &addr]);
        assert!(run_client(kcat, "kcat -L").contains("2 brokers"));
    }
}

const KAFKA_PYTHON_ADMIN: &str = r#"
import sys
from kafka.admin import KafkaAdminClient, NewTopic, NewPartitions, ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError
a = KafkaAdminClient(bootstrap_servers=sys.argv[1])
a.create_topics([NewTopic("py-admin", 3, 1, topic_configs={"retention.ms": "3600000"})])
try:
    a.create_topics([NewTopic("py-admin", 3, 1)])
    raise SystemExit("a second create succeeded")
except TopicAlreadyExistsError:
    pass
a.create_partitions({"py-admin": NewPartitions(5)})
(meta,) = a.describe_topics(["py-admin"])
print("partitions", len(meta["partitions"]))
# kafka-python 3 lists the configs that differ from their defaults.
configs = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "py-admin")])["topic"]["py-admin"]
print("modified", sorted(configs), configs["retention.ms"]["value"])
a.delete_topics(["py-admin"])
print("topics", sorted(t for t in a.list_topics() if not t.startswith("__")))
"#;

const CONFLUENT_ADMIN: &str = r#"
import sys
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in a.create_topics([NewTopic("ck-admin", 4, 1, config={"segment.bytes": "1048576"})]).values():
    f.result()
md = a.list_topics(timeout=10)
print("partitions", len(md.topics["ck-admin"].partitions))
print("brokers", len(md.brokers))
(f,) = a.describe_configs([ConfigResource("topic", "ck-admin")]).values()
print("segment.bytes", f.result()["segment.bytes"].value)
for f in a.delete_topics(["ck-admin"]).values():
    f.result()
"#;

#[test]
fn admin_clients_create_describe_grow_and_delete_topics() {
    let broker = Broker::start();
    let bootstrap = broker.kafka();
    if have_python_module("kafka") {
        let out = run_client(python(KAFKA_PYTHON_ADMIN, &[&bootstrap]), "kafka-python admin");
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["partitions 5", "modified ['retention.ms'] 3600000", "topics []"],
            "{out}"
        );
    } else {
        eprintln!("skipping kafka-python admin: not installed (run scripts/install-deps.sh)");
    }
    if have_python_module("confluent_kafka") {
        let out = run_client(python(CONFLUENT_ADMIN, &[&bootstrap]), "confluent-kafka admin");
        assert_eq!(out.lines().collect::<Vec<_>>(), ["partitions 4", "brokers 2", "segment.bytes 1048576"], "{out}");
    } else {
        eprintln!("skipping confluent-kafka admin: not installed (run scripts/install-deps.sh)");
    }
    // What the Kafka clients did is what the native side sees.
    let listed = corelog(&["topic", "list", "-b", &broker.native()], "").ok().stdout;
    assert!(!listed.contains("py-admin") && !listed.contains("ck-admin"), "{listed}");
}

const CONFLUENT_IDEMPOTENT_PRODUCE: &str = r#"
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True})
errors = []
for i in range(3):
    p.produce(sys.argv[2], key=b"k%d" % i, value=b"v", on_delivery=lambda e, m: errors.append(e.name() if e else "ok"))
p.flush(30)
print(" ".join(errors))
"#;

#[test]
fn kafka_produce_is_refused_per_partition_after_an_idempotent_producer_gets_its_id() {
    require!(have_python_module("confluent_kafka"), "confluent-kafka");
    let broker = Broker::start();
    corelog(&["topic", "create", "refused", "--partitions", "2", "-b", &broker.native()], "").ok();
    let out = run_client(python(CONFLUENT_IDEMPOTENT_PRODUCE, &[&broker.kafka(), "refused"]), "idempotent producer");
    assert_eq!(
        out.trim(),
        "INVALID_REQUEST INVALID_REQUEST INVALID_REQUEST",
        "each record refused, none lost silently"
    );
    // InitProducerId reserved a block of ids on disk before handing one out.
    let file = std::fs::read(broker._dir.path().join("data/producer_ids")).expect("the producer id file");
    assert_eq!(file.len(), 16);
    assert_eq!(&file[..8], b"CLPI\0\0\0\x01");
    assert!(u64::from_be_bytes(file[8..].try_into().unwrap()) >= 1, "a block is reserved");
    // Nothing was appended.
    let consumed = corelog(&["consume", "--topic", "refused", "--from", "earliest", "-b", &broker.native()], "").ok();
    assert_eq!(consumed.stdout, "", "no record was stored");
}

#[test]
fn the_kafka_listener_keeps_the_native_protections() {
    let settings = "connection_idle_timeout_ms = 1500\nrequest_receive_timeout_ms = 1000\nmax_connections_per_core = 3";
    let mut broker = Broker::start_with(settings);
    let addr = broker.kafka();
    let closed_within = |s: &mut TcpStream, limit: Duration| {
        let started = Instant::now();
        s.set_read_timeout(Some(limit + Duration::from_secs(5))).unwrap();
        let mut byte = [0u8; 1];
        let n = s.read(&mut byte).unwrap_or(0);
        assert_eq!(n, 0, "closed without a reply");
        let took = started.elapsed();
        assert!(took >= limit.mul_f32(0.8) && took < limit + Duration::from_secs(4), "closed after {took:?}");
    };
    // A request that never finishes arriving: closed after the receive timeout.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(&api_versions_frame(3, 1)[..9]).unwrap();
    closed_within(&mut slow, Duration::from_millis(1000));
    // A connection that sends nothing: closed after the idle timeout.
    let mut idle = TcpStream::connect(&addr).unwrap();
    closed_within(&mut idle, Duration::from_millis(1500));
    // Native and Kafka connections share core 0's limit of 3: a fourth is
    // accepted and closed at once.
    let native = TcpStream::connect(broker.native()).unwrap();
    let kafka: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = TcpStream::connect(&addr).unwrap();
    fourth.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = fourth.write_all(&api_versions_frame(0, 2));
    let mut reply = Vec::new();
    assert!(fourth.read_to_end(&mut reply).map_or(true, |_| reply.is_empty()), "the fourth connection got {reply:?}");
    drop((native, kafka));
    std::thread::sleep(Duration::from_millis(200));
    // Below the limit again: served.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&api_versions_frame(0, 3)).unwrap();
    assert_eq!(read_frame(&mut s)[..4], 3i32.to_be_bytes());
    broker.assert_alive();
}
