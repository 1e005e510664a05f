//! One voter alone: it leads, commits after its own write, snapshots, and
//! restarts from its directory.

mod controller_cluster;

use controller_cluster::Cluster;

#[test]
fn a_single_voter_commits_and_applies_alone() {
    let mut cluster = Cluster::new(&[1], 1, 10);
    // Leader at once, without an election timeout.
    assert_eq!(cluster.leader(), Some(1));
    for _ in 0..25 {
        let token = cluster.propose(1);
        // Applied within the same handle call: no tick, no message needed.
        assert!(cluster.acked.contains_key(&(1, token)), "token {token} not applied at once");
    }
    cluster.check();
    assert_eq!(cluster.messages_sent, 0);
    assert_eq!(cluster.sim(1).app.applied.len(), 25);
    assert_eq!(cluster.sim(1).app.applied, cluster.reference);
    assert!(cluster.snapshots_taken[&1] >= 2);

    cluster.crash(1);
    cluster.restart(1);
    assert_eq!(cluster.leader(), Some(1));
    cluster.check();
    // The restart replays snapshot + the log's committed entries; what the
    // last write's commit index did not cover commits with the new term's
    // first entry, in the same start.
    assert_eq!(cluster.sim(1).app.applied, cluster.reference);
    let token = cluster.propose(1);
    assert!(cluster.acked.contains_key(&(1, token)));
    assert_eq!(cluster.sim(1).app.applied.len(), 26);
}
