//! Three `corelog broker` processes whose controller links pass through
//! `FaultProxy`s: a partition leader cut off from the controller quorum
//! (client and replica traffic still direct) is replaced, acknowledges
//! nothing it appends meanwhile, and after the heal truncates those records,
//! catches up and rejoins the ISR.

mod cluster_support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use cluster_support::cluster::{parse_reports, PartitionState, TestCluster, BIN};
use cluster_support::proxy::Fault;

const TOPIC: &str = "p";
/// One partition led by each node (preferred leaders spread), so a test
/// can pick a leader that is, or is not, the controller quorum's leader.
const PARTITIONS: u32 = 3;

/// Whether any segment file under `dir` holds `needle` (records are stored
/// uncompressed, so a value's bytes appear as they are).
fn segments_contain(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            segments_contain(&path, needle)
        } else {
            path.extension().is_some_and(|x| x == "log")
                && std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

/// `corelog produce` to `partition` through `bootstrap` only, stdin fed with
/// `lines` and then held open, so it runs until killed.
fn spawn_producer(bootstrap: &str, partition: u32, lines: &[String]) -> Child {
    let mut child = Command::new(BIN)
        .args(["produce", "--topic", TOPIC, "--partition", &partition.to_string(), "--key-separator", ":"])
        .arg("--print-offsets")
        .args(["-b", bootstrap])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn produce");
    let stdin = child.stdin.as_mut().expect("stdin");
    stdin.write_all((lines.join("\n") + "\n").as_bytes()).expect("write stdin");
    stdin.flush().expect("flush stdin");
    child
}

fn lines(tag: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{tag}{i}:{tag}-value-{i}")).collect()
}

/// Every node, through its own port only, reads exactly `acked` plus
/// perhaps some of `unreported` (sent, never acknowledged): each
/// acknowledged record at its acknowledged offset, offsets dense from 0.
/// Returns how many records are stored.
fn assert_reads_exactly(cluster: &TestCluster, acked: &BTreeMap<String, (u32, u64)>, unreported: &[String]) -> usize {
    let mut count = 0;
    for node in &cluster.nodes {
        let stored = cluster.consume_at(&cluster.bootstrap_of(&[node.id]), TOPIC).expect("consume");
        let extra: Vec<&String> = stored.values().filter(|l| !acked.contains_key(*l)).collect();
        assert!(
            extra.iter().all(|l| unreported.contains(l)),
            "through node {}: records never acknowledged and not allowed: {extra:?}",
            node.id
        );
        assert_eq!(stored.len(), acked.len() + extra.len(), "through node {}: acknowledged ones once", node.id);
        count = stored.len();
        for (line, at) in acked {
            assert_eq!(stored.get(at), Some(line), "through node {}: {line} at {at:?}", node.id);
        }
        for partition in 0..PARTITIONS {
            let offsets: Vec<u64> = stored.keys().filter(|(p, _)| *p == partition).map(|(_, o)| *o).collect();
            assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>(), "dense offsets in {partition}");
        }
    }
    count
}

/// Isolates a partition's leader from the quorum with `isolate`, produces
/// to it directly and to the majority, heals, and checks the outcome.
/// `hears_the_quorum`: the leader still receives from the controllers;
/// `controller_leader`: the isolated node is also the quorum's leader.
fn leader_cut_off_from_the_quorum(
    isolate: impl Fn(&TestCluster, u32),
    hears_the_quorum: bool,
    controller_leader: bool,
) {
    let cluster = TestCluster::start_with_proxies(3, "");
    let count = PARTITIONS.to_string();
    cluster
        .corelog(&["topic", "create", TOPIC, "-p", &count, "-r", "3", "--config", "flush.policy=always"])
        .expect("create the topic");
    let partitions = cluster.wait_for("every partition has a leader and 3 in-sync replicas", |c| {
        c.describe_via(1, TOPIC).filter(|ps| ps.len() == 3 && ps.iter().all(|p| p.leader.is_some() && p.isr.len() == 3))
    });
    let controller = cluster.wait_for("a quorum leader", |c| c.controller_leader_via(1));
    let before = partitions
        .into_iter()
        .find(|p| (p.leader == Some(controller)) == controller_leader)
        .expect("preferred leaders are spread over the nodes");
    let part = before.partition;
    let at = |c: &TestCluster, via: u32| c.partition_via(via, TOPIC, part);
    let leader = before.leader.expect("a leader");
    assert_eq!(before.replicas[0], leader, "a fresh partition is led by its preferred replica");
    let followers: Vec<u32> = (1..=3).filter(|&id| id != leader).collect();
    let first = lines("a", 0..100);
    let part_arg = part.to_string();
    let to_part = ["--partition", part_arg.as_str()];
    let (mut acked, stderr) = cluster.produce_at(&cluster.bootstrap(), TOPIC, &first, &to_part);
    assert_eq!(acked.len(), first.len(), "all up: everything acknowledged: {stderr}");

    isolate(&cluster, leader);
    let majority = cluster.wait_for("both followers see a new leader at a new epoch", |c| {
        let seen: Vec<PartitionState> = followers.iter().filter_map(|&f| at(c, f)).collect();
        (seen.len() == 2
            && seen.iter().all(|p| p.leader.is_some_and(|l| l != leader) && p.epoch > before.epoch)
            && seen[0].leader == seen[1].leader)
            .then(|| seen[0].clone())
    });
    eprintln!(
        "partition {part}: leader {leader} isolated; the majority elected {:?} at epoch {}",
        majority.leader, majority.epoch
    );

    // The isolated leader still takes the produce (its metadata is stale),
    // but nobody fetches from it any more and it cannot shrink its ISR, so
    // its high watermark stays put and nothing is acknowledged.
    let unacked = lines("u", 0..20);
    let stale = RefCell::new(spawn_producer(&cluster.bootstrap_of(&[leader]), part, &unacked));
    let leader_dir = cluster.node(leader).dir().join("data");
    cluster.wait_until("the isolated leader appended the produce, or the producer gave up", |_| {
        segments_contain(&leader_dir, b"u-value-19") || stale.borrow_mut().try_wait().ok().flatten().is_some()
    });
    let mut stale = stale.into_inner();
    let refused = stale.try_wait().ok().flatten();
    let majority_lines = lines("b", 0..100);
    let (round, stderr) = cluster.produce_at(&cluster.bootstrap_of(&followers), TOPIC, &majority_lines, &to_part);
    assert_eq!(round.len(), majority_lines.len(), "the majority side acknowledges everything: {stderr}");
    assert!(round.values().all(|(p, _)| *p == part));
    acked.extend(round);

    let _ = stale.kill();
    let _ = stale.wait();
    let mut reports = String::new();
    stale.stdout.take().expect("stdout").read_to_string(&mut reports).expect("read reports");
    let mut errors = String::new();
    stale.stderr.take().expect("stderr").read_to_string(&mut errors).expect("read stderr");
    let stale_acks = parse_reports(&reports, &unacked);
    if hears_the_quorum {
        // It may have learned from its own controller that it no longer
        // leads and sent the producer to the new leader: those
        // acknowledgements are real, and checked like the others.
        eprintln!("acknowledged through the new leader: {}; stderr: {errors}", stale_acks.len());
        acked.extend(stale_acks);
    } else {
        assert_eq!(stale_acks, BTreeMap::new(), "an isolated leader acknowledged records (exit {refused:?}): {errors}");
    }

    cluster.heal_controllers();
    cluster.wait_until("the old leader follows the new one and rejoined the ISR, in every node's view", |c| {
        (1..=3)
            .all(|via| at(c, via).is_some_and(|p| p.epoch >= majority.epoch && p.leader.is_some() && p.isr.len() == 3))
    });

    // Leadership back on the old leader (its preferred replica, in sync
    // again): what a consumer reads now comes from its own log.
    cluster.wait_until("the old leader leads again", |c| {
        let _ = c.corelog(&["cluster", "elect-leaders", "--topic", TOPIC]);
        (1..=3).all(|via| at(c, via).is_some_and(|p| p.leader == Some(leader) && p.isr.len() == 3))
    });
    // Cut off both ways, the leader never passed its records on, so none
    // may be left; hearing the quorum, it may have forwarded the producer
    // to the new leader, which stored some of them without a report
    // reaching the (killed) producer.
    let allowed: &[String] = if hears_the_quorum { &unacked } else { &[] };
    let stored = assert_reads_exactly(&cluster, &acked, allowed);
    let ends: Vec<Option<u64>> = (1..=3).map(|via| at(&cluster, via).and_then(|p| p.log_end)).collect();
    eprintln!("partition {part} back on {leader}; high watermarks {ends:?}; {} acknowledged", acked.len());
    assert!(ends.iter().all(|e| *e == Some(stored as u64)), "high watermark = records stored: {ends:?}");
}

#[test]
fn a_leader_black_holed_from_the_controllers_both_ways_acknowledges_nothing_and_truncates() {
    leader_cut_off_from_the_quorum(
        |cluster, leader| cluster.isolate_controllers(leader, Fault::DropBytes),
        false,
        false,
    );
}

#[test]
fn a_leader_whose_messages_to_the_controllers_vanish_acknowledges_nothing_and_truncates() {
    leader_cut_off_from_the_quorum(|cluster, leader| cluster.mute_controllers(leader), true, false);
}

/// The same with the isolated node also the quorum's leader: the brokers'
/// agents were heartbeating it and must find the new leader in time.
#[test]
fn the_controller_leader_black_holed_as_a_partition_leader_acknowledges_nothing_and_truncates() {
    leader_cut_off_from_the_quorum(
        |cluster, leader| cluster.isolate_controllers(leader, Fault::DropBytes),
        false,
        true,
    );
}
