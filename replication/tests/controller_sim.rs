//! Three controller nodes on a lossy, reordering, duplicating network, with
//! partitions and crashes, many seeds: the Raft invariants hold after every
//! step and every acknowledged proposal ends up applied everywhere.

mod controller_cluster;

use controller_cluster::{Cluster, Faults, SeedGuard};
use rand::Rng;

const SEEDS: u64 = 50;
const STEPS: usize = 600;

#[test]
fn random_faults_keep_one_history() {
    let (mut acked_total, mut terms_total, mut installs_total) = (0, 0, 0);
    for seed in 0..SEEDS {
        let _guard = SeedGuard(seed);
        let mut cluster = Cluster::new(&[1, 2, 3], seed, 40);
        // Each seed its own weather: from a few lost messages to a third.
        cluster.faults = Faults {
            drop: cluster.rng.gen_range(0.02..0.35),
            duplicate: cluster.rng.gen_range(0.0..0.1),
            max_delay: cluster.rng.gen_range(1..=6),
        };
        for _ in 0..STEPS {
            cluster.step(0.15);
            let up = cluster.up();
            let roll: f64 = cluster.rng.gen();
            if up.len() == 3 && roll < 0.003 {
                // The leader crashes more often than chance would have it.
                let victim = match cluster.leader() {
                    Some(l) if cluster.rng.gen_bool(0.7) => l,
                    _ => up[cluster.rng.gen_range(0..up.len())],
                };
                cluster.crash(victim);
            } else if up.len() < 3 && roll < 0.02 {
                let down = (1..=3).find(|id| !up.contains(id)).unwrap();
                cluster.restart(down);
            } else if cluster.isolated.is_empty() && roll > 0.996 {
                let id = cluster.rng.gen_range(1..=3);
                cluster.isolated.insert(id);
            } else if !cluster.isolated.is_empty() && roll > 0.98 {
                cluster.isolated.clear();
            }
        }
        for id in 1..=3 {
            if cluster.nodes[&id].is_none() {
                cluster.restart(id);
            }
        }
        cluster.settle(3000);
        assert!(!cluster.acked.is_empty(), "nothing was committed");
        acked_total += cluster.acked.len();
        terms_total += cluster.leader_terms();
        installs_total += cluster.snapshot_installs.values().sum::<usize>();
    }
    eprintln!(
        "{SEEDS} seeds: {acked_total} acknowledged, {terms_total} leader terms, {installs_total} snapshot installs"
    );
    // The runs did exercise what they are for: commits, elections beyond the
    // first, snapshots sent to nodes that fell behind.
    assert!(acked_total > SEEDS as usize * 20, "{acked_total} acknowledged");
    assert!(terms_total > SEEDS as usize * 2, "{terms_total} leader terms");
    assert!(installs_total > 5, "{installs_total} snapshot installs");
}
