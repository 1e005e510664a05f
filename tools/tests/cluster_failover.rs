//! Three `corelog broker` processes (each a broker and a controller, `--cores
//! 1`) on 127.0.0.1: replicated partitions across kill -9 of their leaders,
//! through the real binary.

mod cluster_support;

use std::collections::BTreeMap;

use cluster_support::cluster::{PartitionState, TestCluster};

/// Produces `lines` (keyed `k<i>`) with acks=all through every running
/// node; returns each acknowledged line's (partition, offset).
fn produce(cluster: &TestCluster, topic: &str, lines: &[String]) -> BTreeMap<String, (u32, u64)> {
    cluster.produce_at(&cluster.bootstrap(), topic, lines, &[]).0
}

/// Every record of `topic`: (partition, offset) -> "key:value".
fn consume(cluster: &TestCluster, topic: &str) -> BTreeMap<(u32, u64), String> {
    cluster.consume_at(&cluster.bootstrap(), topic).expect("consume")
}

fn state(cluster: &TestCluster, topic: &str, partition: u32) -> Option<PartitionState> {
    cluster.describe(topic)?.into_iter().find(|p| p.partition == partition)
}

#[test]
fn killing_each_partitions_leader_in_turn_loses_and_reuses_nothing() {
    let mut cluster = TestCluster::start(3, "");
    cluster.corelog(&["topic", "create", "orders", "-p", "3", "-r", "3"]).expect("create a replicated topic");
    cluster.wait_until("every partition has 3 in-sync replicas", |c| {
        c.describe("orders").is_some_and(|ps| ps.len() == 3 && ps.iter().all(|p| p.isr.len() == 3))
    });
    let mut acked = BTreeMap::new();
    let mut next = 0;
    for partition in 0..3u32 {
        let lines: Vec<String> = (next..next + 300).map(|i| format!("k{i}:v{i}")).collect();
        next += 300;
        let round = produce(&cluster, "orders", &lines);
        assert_eq!(round.len(), lines.len(), "with every broker up, every record is acknowledged");
        acked.extend(round);

        let before = state(&cluster, "orders", partition).expect("describe");
        let leader = before.leader.expect("a leader");
        cluster.kill(leader);
        cluster.wait_until("a new leader from the ISR, at a new epoch", |c| {
            state(c, "orders", partition).is_some_and(|p| {
                p.leader.is_some_and(|l| l != leader) && p.epoch > before.epoch && !p.isr.contains(&leader)
            })
        });
        // Acknowledged while a broker is down: min.insync.replicas is 2.
        let lines: Vec<String> = (next..next + 100).map(|i| format!("k{i}:v{i}")).collect();
        next += 100;
        let round = produce(&cluster, "orders", &lines);
        assert_eq!(round.len(), lines.len(), "two in-sync replicas acknowledge everything");
        acked.extend(round);

        cluster.restart(leader);
        cluster.wait_until("the restarted broker caught up and rejoined every ISR", |c| {
            c.describe("orders").is_some_and(|ps| ps.iter().all(|p| p.isr.len() == 3))
        });
    }

    let stored = consume(&cluster, "orders");
    assert_eq!(stored.len(), acked.len(), "every acknowledged record once, nothing else");
    for (line, at) in &acked {
        assert_eq!(stored.get(at), Some(line), "{line} at its acknowledged partition/offset {at:?}");
    }
    // Offsets are dense per partition: none reused, none skipped.
    for partition in 0..3u32 {
        let offsets: Vec<u64> = stored.keys().filter(|(p, _)| *p == partition).map(|(_, o)| *o).collect();
        assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>(), "partition {partition}");
    }
}
