//! Deterministic simulation of one partition on three replicas running the
//! real leader and follower state machines against the real controller
//! state machine (`ClusterMetadata`: registrations, fencing, elections,
//! AlterPartition), with crashes, lost controller sessions and a network
//! that drops, delays, reorders and duplicates. The invariants (one leader
//! per epoch, a leader's HW never goes back, acknowledged records survive at
//! their offsets on every ISR member and every later leader, replicas agree
//! below their HW, the ISR holds its leader, the metadata's own
//! `check_invariants`, epochs only move forward, fenced brokers lead
//! nothing) are checked after every step; after the faults stop the
//! partition must heal.
//!
//! `SEED=<n> cargo test -p corelog-replication --test replica_sim` reruns
//! one seed with a trace of its last steps; `REPLICA_SIM_SEEDS=<count>`
//! runs more seeds than the default.

mod sim;

use sim::{run_seed, Params, Stats};

const DEFAULT_SEEDS: u64 = 200;

fn params(seed: u64) -> Params {
    Params {
        fault_ms: 2_000,
        heal_ms: 2_500,
        quiet_ms: 1_000,
        // Half the runs let a lone leader acknowledge (ISR of one), the
        // others need a second in-sync replica.
        min_insync_replicas: if seed.is_multiple_of(2) { 1 } else { 2 },
        drop_per_mille: 50,
        duplicate_per_mille: 30,
    }
}

#[test]
fn replication_survives_crashes_fenced_leaders_and_a_faulty_network() {
    if let Ok(seed) = std::env::var("SEED") {
        let seed: u64 = seed.parse().expect("SEED is a number");
        let stats = run_seed(seed, params(seed), true);
        eprintln!("SEED={seed}: {stats:?}");
        return;
    }
    let seeds: u64 =
        std::env::var("REPLICA_SIM_SEEDS").map_or(DEFAULT_SEEDS, |s| s.parse().expect("REPLICA_SIM_SEEDS is a number"));
    let mut total = Stats::default();
    for seed in 0..seeds {
        total.add(&run_seed(seed, params(seed), false));
    }
    eprintln!("{seeds} seeds: {total:?}");
    // The runs must really have exercised what the invariants guard.
    assert!(total.acked > 0 && total.acked_after_heal > 0, "{total:?}");
    assert!(
        total.crashes > 0 && total.lost_sessions > 0 && total.leadership_moves > 0 && total.elections > 0,
        "{total:?}"
    );
    assert!(total.truncated_records > 0, "no follower ever truncated a divergent tail: {total:?}");
    assert!(total.isr_shrinks > 0 && total.isr_expands > 0 && total.alter_rejections > 0, "{total:?}");
    assert!(total.refused > 0 || total.failed > 0, "no produce was ever refused or failed: {total:?}");
}
