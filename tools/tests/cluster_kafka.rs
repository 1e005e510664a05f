//! Two `corelog broker` processes with their Kafka listeners: each node
//! registers its listener with the controller, so Metadata from either node
//! names every node's cores with their Kafka ports, and kcat reads a
//! replicated topic from both leaders.

mod cluster_support;

use std::process::Command;

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
