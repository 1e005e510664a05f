//! Snapshots: past the interval every node snapshots and compacts its
//! entries file, and a node that was down past the compaction point
//! catches up through the leader's snapshot.

mod controller_cluster;

use controller_cluster::{Cluster, SeedGuard};

const INTERVAL: u64 = 10;

#[test]
fn compaction_shrinks_the_entries_file_and_a_lagging_node_gets_the_snapshot() {
    for seed in 0..5 {
        let _guard = SeedGuard(seed);
        let mut cluster = Cluster::new(&[1, 2, 3], seed, INTERVAL);
        cluster.propose_and_commit(35, 500);
        cluster.settle(2000);
        for id in 1..=3 {
            assert!(cluster.snapshots_taken[&id] >= 3, "node {id}: {:?}", cluster.snapshots_taken);
            assert!(cluster.sim(id).node.snapshot_index() >= 30);
        }
        assert!(!cluster.compactions.is_empty());
        for &(id, before, after) in &cluster.compactions {
            assert!(after < before, "node {id}: compaction {before} -> {after} bytes");
        }
        // The file holds about one interval of records, not the whole log
        // (each record here is well over 20 bytes).
        for id in 1..=3 {
            assert!(cluster.sim(id).store.entries_file_len() < 8 + 2 * INTERVAL * 60);
        }

        let leader = cluster.elect(500);
        let lagging = (1..=3).find(|&id| id != leader).unwrap();
        let lagging_snapshot = cluster.sim(lagging).node.snapshot_index();
        cluster.crash(lagging);
        cluster.propose_and_commit(40, 500);
        let leader = cluster.elect(500);
        // The leader no longer has the entries the lagging node needs.
        assert!(cluster.sim(leader).node.snapshot_index() > lagging_snapshot + INTERVAL);

        cluster.restart(lagging);
        cluster.settle(2000);
        assert!(
            cluster.snapshot_installs.get(&lagging).copied().unwrap_or(0) >= 1,
            "node {lagging} caught up without a snapshot"
        );
        assert_eq!(cluster.sim(lagging).app.applied, cluster.reference);
        assert_eq!(cluster.reference.len(), 75);

        // And it restarts from the installed snapshot.
        cluster.crash(lagging);
        cluster.restart(lagging);
        cluster.settle(2000);
        assert_eq!(cluster.sim(lagging).app.applied, cluster.reference);
    }
}
