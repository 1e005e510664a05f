//! Three `corelog broker` processes: a consumer group's committed offsets
//! (in the replicated `__consumer_offsets`) survive kill -9 of the broker
//! that coordinates the group.

mod cluster_support;

use std::collections::BTreeMap;

use cluster_support::cluster::{parse_records, TestCluster};

/// Groups form at once and accept short sessions; few offsets partitions.
const GROUP_SETTINGS: &str =
    "offsets_partitions = 3\ngroup_initial_rebalance_delay_ms = 0\ngroup_min_session_timeout_ms = 500\n";

/// `group describe g` through `bootstrap`: the coordinator's client port
/// and topic `t`'s committed offsets (partition -> offset, committed only).
fn committed(cluster: &TestCluster, bootstrap: &str) -> Option<(u16, BTreeMap<u32, u64>)> {
    let out = cluster.corelog_at(bootstrap, &["group", "describe", "g"]);
    if !out.status.success() {
        return None;
    }
    let out = String::from_utf8_lossy(&out.stdout);
    let port = out.lines().next()?.split("Coordinator: ").nth(1)?.rsplit(':').next()?.trim().parse().ok()?;
    let offsets = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() == 9 && f[0] == "g" && f[1] == "t" && f[3] != "-")
        .map(|f| (f[2].parse().expect("partition"), f[3].parse().expect("offset")))
        .collect();
    Some((port, offsets))
}

/// `consume --group g` of topic `t` through `bootstrap` (`extra` flags):
/// the records it printed.
fn consume_group(cluster: &TestCluster, bootstrap: &str, extra: &[&str]) -> BTreeMap<(u32, u64), String> {
    let mut args = vec!["consume", "--group", "g", "--topic", "t", "--session-timeout-ms", "3000"];
    args.extend(["--print-partition", "--print-offset", "--print-key", "--key-separator", "\t"]);
    args.extend(extra);
    let out = cluster.corelog_at(bootstrap, &args);
    assert!(out.status.success(), "consume --group: {}\n{}", String::from_utf8_lossy(&out.stderr), cluster.log_tails());
    parse_records(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn committed_offsets_survive_killing_the_group_coordinator() {
    let mut cluster = TestCluster::start(3, GROUP_SETTINGS);
    cluster.corelog(&["topic", "create", "t", "-p", "2", "-r", "3"]).expect("create the topic");
    cluster.wait_until("t fully in sync", |c| c.describe("t").is_some_and(|ps| ps.iter().all(|p| p.isr.len() == 3)));
    let lines: Vec<String> = (0..100).map(|i| format!("k{i}:v{i}")).collect();
    let (acked, stderr) = cluster.produce_at(&cluster.bootstrap(), "t", &lines, &[]);
    assert_eq!(acked.len(), lines.len(), "{stderr}");

    let first = consume_group(&cluster, &cluster.bootstrap(), &["--max-messages", "60"]);
    assert_eq!(first.len(), 60, "--max-messages 60 prints 60 records");
    // What the group committed: past every record it printed, per partition.
    let mut expected: BTreeMap<u32, u64> = BTreeMap::new();
    for &(p, o) in first.keys() {
        let next = expected.entry(p).or_default();
        *next = (*next).max(o + 1);
    }

    // The internal topic was created on first use, replicated on all three.
    let offsets_topic = cluster.describe("__consumer_offsets").expect("describe __consumer_offsets");
    assert_eq!(offsets_topic.len(), 3, "offsets_partitions partitions");
    for p in &offsets_topic {
        assert_eq!(p.replicas.len(), 3, "RF min(3, live brokers): {p:?}");
    }
    let (port, before) = cluster.wait_for("the group's commits are visible", |c| {
        committed(c, &c.bootstrap()).filter(|(_, offsets)| expected.iter().all(|(p, o)| offsets.get(p) == Some(o)))
    });
    for (p, o) in &expected {
        assert_eq!(before.get(p), Some(o), "partition {p} committed after its last printed record");
    }
    let coordinator = cluster.nodes.iter().find(|n| n.port == port).expect("the coordinator is a node").id;
    cluster.wait_until("__consumer_offsets fully in sync", |c| {
        c.describe("__consumer_offsets").is_some_and(|ps| ps.iter().all(|p| p.isr.len() == 3))
    });

    cluster.kill(coordinator);
    let survivors: Vec<u32> = (1..=3).filter(|&id| id != coordinator).collect();
    let at_survivors = cluster.bootstrap_of(&survivors);
    let (new_port, after) = cluster.wait_for("another coordinator serves the same committed offsets", |c| {
        committed(c, &at_survivors).filter(|(p, offsets)| *p != port && !offsets.is_empty())
    });
    assert_ne!(new_port, port);
    assert_eq!(after, before, "committed offsets after the coordinator's death");

    // A new member continues after the commits: the other 40 records, none
    // read before.
    let rest = consume_group(&cluster, &at_survivors, &[]);
    for at in rest.keys() {
        assert!(!first.contains_key(at), "{at:?} read again after its offset was committed");
        assert!(expected.get(&at.0).is_none_or(|c| at.1 >= *c), "{at:?} below the committed offset");
    }
    let mut all = first.clone();
    all.extend(rest.clone());
    assert_eq!(rest.len(), 40, "the records after the commits, once each");
    assert_eq!(all.len(), acked.len());
    for (line, at) in &acked {
        assert_eq!(all.get(at), Some(line), "{line} at {at:?}");
    }
}
