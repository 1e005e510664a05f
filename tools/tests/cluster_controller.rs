//! Three `corelog broker` processes (each a broker and a controller): the
//! controller quorum's leader is killed with SIGKILL; the other two elect a
//! new one and metadata changes go on; the old leader rejoins and has them.

mod cluster_support;

use cluster_support::cluster::TestCluster;

/// The quorum leader as both `survivors` see it, once they agree on one
/// that is not `old`.
fn new_leader(cluster: &TestCluster, survivors: &[u32], old: u32) -> Option<u32> {
    let seen: Vec<Option<u32>> = survivors.iter().map(|&s| cluster.controller_leader_via(s)).collect();
    let first = seen[0]?;
    (first != old && seen.iter().all(|l| *l == Some(first))).then_some(first)
}

#[test]
fn killing_the_controller_leader_elects_another_and_metadata_changes_go_on() {
    let mut cluster = TestCluster::start(3, "");
    cluster.corelog(&["topic", "create", "before", "-p", "1", "-r", "3"]).expect("create a topic");
    let old = cluster.wait_for("a quorum leader every node names", |c| {
        let seen: Vec<Option<u32>> = (1..=3).map(|id| c.controller_leader_via(id)).collect();
        seen[0].filter(|l| seen.iter().all(|s| *s == Some(*l)))
    });
    let survivors: Vec<u32> = (1..=3).filter(|&id| id != old).collect();
    let at_survivors = cluster.bootstrap_of(&survivors);

    cluster.kill(old);
    let leader = cluster.wait_for("a new quorum leader among the survivors", |c| new_leader(c, &survivors, old));
    assert!(survivors.contains(&leader), "leader {leader} is a live node");
    cluster.wait_until("the killed node is fenced", |c| survivors.iter().all(|&s| c.live_brokers_via(s) == Some(2)));

    // With two brokers alive, three replicas cannot be placed: refused,
    // and nothing is created.
    let refused = cluster.corelog_at(&at_survivors, &["topic", "create", "three", "-p", "1", "-r", "3"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "RF 3 on 2 live brokers must fail");
    assert!(
        stderr.contains("replication factor 3 is larger than the 2 available"),
        "InvalidReplicationFactor names the live brokers: {stderr}"
    );
    assert!(cluster.describe_via(survivors[0], "three").is_none(), "a refused topic does not exist");

    // RF 2 fits: created by the new quorum, placed on the live brokers.
    let created = cluster.corelog_at(&at_survivors, &["topic", "create", "during", "-p", "2", "-r", "2"]);
    assert!(created.status.success(), "create with RF 2: {}", String::from_utf8_lossy(&created.stderr));
    cluster.wait_until("both partitions led by a live broker with both replicas in sync", |c| {
        survivors.iter().all(|&s| {
            c.describe_via(s, "during").is_some_and(|ps| {
                ps.len() == 2
                    && ps.iter().all(|p| {
                        let mut isr = p.isr.clone();
                        isr.sort_unstable();
                        p.leader.is_some_and(|l| l != old) && isr == survivors && p.replicas.len() == 2
                    })
            })
        })
    });
    cluster.wait_until("the old topic's ISR lost the killed node", |c| {
        c.describe_via(survivors[0], "before")
            .is_some_and(|ps| ps[0].leader.is_some_and(|l| l != old) && !ps[0].isr.contains(&old))
    });
    let lines: Vec<String> = (0..50).map(|i| format!("k{i}:v{i}")).collect();
    let (acked, stderr) = cluster.produce_at(&at_survivors, "during", &lines, &[]);
    assert_eq!(acked.len(), lines.len(), "both replicas in sync acknowledge everything: {stderr}");

    // The old leader comes back as a follower of the quorum, and catches up
    // with what was decided without it.
    cluster.restart(old);
    cluster.wait_until("the old leader sees 3 active brokers", |c| c.live_brokers_via(old) == Some(3));
    // Right after its start its own controller may not have heard from the
    // leader yet ("none (election under way)").
    let leader_now = cluster.wait_for("the restarted node names a quorum leader", |c| c.controller_leader_via(old));
    assert!(survivors.contains(&leader_now) || leader_now == old, "a voter leads: {leader_now}");
    let during = cluster.wait_for("the topic created meanwhile is known to the old leader", |c| {
        c.describe_via(old, "during").filter(|ps| ps.len() == 2 && ps.iter().all(|p| p.leader.is_some()))
    });
    let reference = cluster.describe_via(survivors[0], "during").expect("describe through a survivor");
    for (mine, theirs) in during.iter().zip(&reference) {
        assert_eq!(mine.replicas, theirs.replicas, "the same placement on every node");
        assert!(!mine.replicas.contains(&old), "placed while {old} was down: {mine:?}");
    }
    assert!(cluster.describe_via(old, "three").is_none(), "the refused topic is not there either");
    cluster.wait_until("the restarted node rejoined the old topic's ISR", |c| {
        c.describe_via(old, "before").is_some_and(|ps| ps[0].isr.len() == 3)
    });
    // Reads through the restarted node alone reach the records written
    // while it was down.
    let stored = cluster.consume_at(&cluster.bootstrap_of(&[old]), "during").expect("consume through the old leader");
    assert_eq!(stored.len(), acked.len(), "every acknowledged record, nothing else");
    for (line, at) in &acked {
        assert_eq!(stored.get(at), Some(line), "{line} at {at:?}");
    }
}
