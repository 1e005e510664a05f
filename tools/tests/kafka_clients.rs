//! Real Kafka clients against the `corelog` binary's Kafka listener: kcat
//! (librdkafka), kafka-python, confluent-kafka and kafkajs, as
//! scripts/install-deps.sh installs them. A test whose client is not
//! installed says so and passes without running (CI installs them all).
//!
//! Records here are produced natively (`corelog produce`); Kafka clients
//! producing are in kafka_produce.rs.

mod cli_support;
mod kafka_support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::corelog;
use kafka_support::*;

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
reports = []
for i in range(3):
    p.produce(sys.argv[2], key=b"k%d" % i, value=b"v%d" % i, on_delivery=lambda e, m: reports.append(e.name() if e else "ok"))
p.flush(30)
print(" ".join(reports))
"#;

#[test]
fn an_idempotent_producer_gets_its_id_from_the_core_it_asks_and_its_records_are_stored() {
    require!(have_python_module("confluent_kafka"), "confluent-kafka");
    let broker = Broker::start();
    corelog(&["topic", "create", "idem-id", "--partitions", "2", "-b", &broker.native()], "").ok();
    let out = run_client(python(CONFLUENT_IDEMPOTENT_PRODUCE, &[&broker.kafka(), "idem-id"]), "idempotent producer");
    assert_eq!(out.trim(), "ok ok ok", "every record delivered");
    // InitProducerId reserved a block of ids on disk before handing one out
    // (docs/broker.md "Producer ids": per core, 24 bytes, magic CLPI).
    let dir = broker.dir.path().join("data/producer-ids");
    let files: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the producer-id directory")
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!files.is_empty());
    assert!(files.iter().all(|f| f.len() == 24 && &f[..4] == b"CLPI"));
    let consumed = corelog(&["consume", "--topic", "idem-id", "--print-key", "-b", &broker.native()], "").ok();
    let mut lines: Vec<&str> = consumed.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["k0\tv0", "k1\tv1", "k2\tv2"]);
}

/// A kafka-python member that stays in its group for `seconds`.
const KAFKA_PYTHON_STAY: &str = r#"
import sys, time, kafka
bootstrap, topic, group, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
c = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id="kafka-python-member",
                        session_timeout_ms=10000, heartbeat_interval_ms=500)
end = time.time() + seconds
while time.time() < end:
    c.poll(timeout_ms=200)
c.close()
"#;

#[test]
fn kafka_and_corelog_consumers_share_a_group() {
    require!(have_python_module("kafka"), "kafka-python");
    let broker = Broker::start();
    corelog(&["topic", "create", "mixed", "--partitions", "4", "-b", &broker.native()], "").ok();
    let mut python = python(KAFKA_PYTHON_STAY, &[&broker.kafka(), "mixed", "mixed-group", "40"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafka-python member");
    let mut native = cli_support::spawn_corelog(&[
        "consume",
        "--topic",
        "mixed",
        "--group",
        "mixed-group",
        "--follow",
        "-b",
        &broker.native(),
    ]);
    // Both members in one generation, two partitions each.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let owners = loop {
        let out = corelog(&["group", "describe", "mixed-group", "-b", &broker.native()], "");
        let text = out.stdout;
        let stable = text.contains("State: Stable") && text.contains("Members: 2");
        let rows: Vec<Vec<String>> = text
            .lines()
            .filter(|l| l.starts_with("mixed-group "))
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect();
        if stable && rows.len() == 4 && rows.iter().all(|r| r[6] != "-") {
            break rows.into_iter().map(|r| r[8].clone()).collect::<Vec<String>>();
        }
        assert!(std::time::Instant::now() < deadline, "the group did not settle:\n{text}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let kafka = owners.iter().filter(|c| *c == "kafka-python-member").count();
    let corelog_members = owners.iter().filter(|c| c.starts_with("corelog")).count();
    assert_eq!((kafka, corelog_members), (2, 2), "two partitions each: {owners:?}");
    let _ = native.kill();
    let _ = native.wait();
    let _ = python.kill();
    let _ = python.wait();
}

/// Produces five records with out-of-order timestamps to partition 0, then
/// asks ListOffsets (through the admin client, v7+) for earliest, latest,
/// max-timestamp (KIP-734) and a timestamp.
const CONFLUENT_LIST_OFFSETS: &str = r#"
import sys
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
for i, ts in enumerate([1000, 5000, 3000, 5000, 2000]):
    p.produce(topic, value=b"v%d" % i, partition=0, timestamp=ts)
    p.flush(30)
a = AdminClient({"bootstrap.servers": bootstrap})
tp = TopicPartition(topic, 0)
for name, spec in [("earliest", OffsetSpec.earliest()), ("latest", OffsetSpec.latest()),
                   ("max", OffsetSpec.max_timestamp()), ("at2500", OffsetSpec.for_timestamp(2500))]:
    info = a.list_offsets({tp: spec})[tp].result()
    print(name, info.offset, info.timestamp)
"#;

#[test]
fn list_offsets_answers_earliest_latest_max_timestamp_and_by_time() {
    require!(have_python_module("confluent_kafka"), "confluent-kafka");
    let broker = Broker::start();
    corelog(&["topic", "create", "times", "--partitions", "1", "-b", &broker.native()], "").ok();
    let out = run_client(python(CONFLUENT_LIST_OFFSETS, &[&broker.kafka(), "times"]), "list offsets");
    // The first record at the largest timestamp (5000) is offset 1; the first
    // at or after 2500 is offset 1 too (5000), since offset 2 (3000) is later.
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["earliest 0 -1", "latest 5 -1", "max 1 5000", "at2500 1 5000"],
        "{out}"
    );
}
