//! `corelog broker` processes with their Kafka listeners: each node
//! registers its listener with the controller, so Metadata from either node
//! names every node's cores with their Kafka ports, and kcat reads a
//! replicated topic from both leaders; a Kafka consumer follows a leader
//! change (kill -9) in a 3-broker cluster and misses nothing.

mod cluster_support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cluster_support::cluster::TestCluster;

#[test]
fn kafka_metadata_names_every_nodes_cores_and_kcat_reads_from_every_leader() {
    if Command::new("kcat").arg("-V").output().is_err() {
        eprintln!("skipping: kcat is not installed (run scripts/install-deps.sh)");
        return;
    }
    let cluster = TestCluster::start_with_kafka(2, "");
    cluster.corelog(&["topic", "create", "both", "--partitions", "4", "--replication-factor", "2"]).expect("create");
    let lines: Vec<String> = (0..200).map(|i| format!("k{i}:v{i}")).collect();
    let (acked, stderr) = cluster.produce_at(&cluster.bootstrap(), "both", &lines, &["--acks", "all"]);
    assert_eq!(acked.len(), lines.len(), "{stderr}");

    for via in [1, 2] {
        let out = Command::new("kcat")
            .args(["-L", "-J", "-b", &format!("127.0.0.1:{}", cluster.node(via).kafka_port)])
            .output()
            .expect("kcat -L");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("kcat -J");
        let mut brokers: Vec<(i64, String)> = json["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["id"].as_i64().unwrap(), b["name"].as_str().unwrap().to_owned()))
            .collect();
        brokers.sort();
        let expected: Vec<(i64, String)> =
            [1, 2].iter().map(|&n| (n * 1024, format!("127.0.0.1:{}", cluster.node(n as u32).kafka_port))).collect();
        assert_eq!(brokers, expected, "via node {via}: node n core 0 is broker n*1024 at its own Kafka port");
        let topic = json["topics"].as_array().unwrap().iter().find(|t| t["topic"] == "both").expect("topic");
        let leaders: std::collections::BTreeSet<i64> =
            topic["partitions"].as_array().unwrap().iter().map(|p| p["leader"].as_i64().unwrap()).collect();
        assert_eq!(leaders, [1024, 2048].into(), "leadership spread over both nodes (via node {via})");
        for p in topic["partitions"].as_array().unwrap() {
            let replicas: Vec<i64> =
                p["replicas"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
            assert_eq!(replicas.len(), 2);
            assert!(replicas.iter().all(|r| [1024, 2048].contains(r)), "{replicas:?}");
        }
    }

    let out = Command::new("kcat")
        .args(["-C", "-e", "-q", "-b", &format!("127.0.0.1:{}", cluster.node(1).kafka_port)])
        .args(["-t", "both", "-f", "%k %s\\n"])
        .output()
        .expect("kcat -C");
    let mut read: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.replace(' ', ":")).collect();
    read.sort();
    let mut want = lines.clone();
    want.sort();
    assert_eq!(read, want, "every record once, from both nodes' leaders");
}

/// confluent-kafka reading partition 0 of a topic from the start until it
/// has seen `want` records (or 90 s pass), printing `key value` lines.
const FOLLOWING_READER: &str = r#"
import sys, time
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "follower-" + topic, "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "topic.metadata.refresh.interval.ms": 1000})
c.assign([TopicPartition(topic, 0, 0)])
seen, deadline = 0, time.time() + 90
while seen < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    print(m.key().decode(), m.value().decode(), flush=True)
    seen += 1
c.close()
"#;

#[test]
fn a_kafka_consumer_follows_a_leader_change_and_misses_nothing() {
    if !Command::new("python3").args(["-c", "import confluent_kafka"]).status().is_ok_and(|s| s.success()) {
        eprintln!("skipping: confluent-kafka is not installed (run scripts/install-deps.sh)");
        return;
    }
    let mut cluster = TestCluster::start_with_kafka(3, "");
    cluster.corelog(&["topic", "create", "moving", "--partitions", "1", "--replication-factor", "3"]).expect("create");
    cluster.wait_until("3 in-sync replicas", |c| {
        c.describe("moving").is_some_and(|ps| ps.iter().all(|p| p.isr.len() == 3 && p.leader.is_some()))
    });
    let first: Vec<String> = (0..300).map(|i| format!("k{i}:v{i}")).collect();
    let (acked, stderr) = cluster.produce_at(&cluster.bootstrap(), "moving", &first, &["--acks", "all"]);
    assert_eq!(acked.len(), first.len(), "{stderr}");

    let kafka_bootstrap: String =
        (1..=3).map(|n| format!("127.0.0.1:{}", cluster.node(n).kafka_port)).collect::<Vec<_>>().join(",");
    let mut reader = Command::new("python3")
        .args(["-c", FOLLOWING_READER, &kafka_bootstrap, "moving", "600"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the reader");
    let stdout = reader.stdout.take().expect("stdout");
    let seen = Arc::new(AtomicUsize::new(0));
    let lines = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(stdout).lines() {
                lines.push(line.expect("a line").replace(' ', ":"));
                seen.store(lines.len(), Ordering::SeqCst);
            }
            lines
        })
    };
    cluster.wait_until("the reader has the first records", |_| seen.load(Ordering::SeqCst) >= first.len());
    let before = cluster.describe("moving").expect("describe").remove(0);
    let leader = before.leader.expect("a leader");
    cluster.kill(leader);
    cluster.wait_until("a new leader at a new epoch", |c| {
        c.describe("moving").is_some_and(|ps| ps[0].leader.is_some_and(|l| l != leader) && ps[0].epoch > before.epoch)
    });
    let second: Vec<String> = (300..600).map(|i| format!("k{i}:v{i}")).collect();
    let (acked, stderr) = cluster.produce_at(&cluster.bootstrap(), "moving", &second, &["--acks", "all"]);
    assert_eq!(acked.len(), second.len(), "{stderr}");
    assert!(reader.wait().expect("reader").success());
    let read = lines.join().expect("lines");
    let want: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(read, want, "every record once, in order, across the leader change");
}
