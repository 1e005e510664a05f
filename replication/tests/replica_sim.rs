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

use corelog_replication::metadata::cluster::Command;
use corelog_replication::replica::{AlterPartitionAnswer, AlterPartitionError};
use sim::cluster::REPLICAS;
use sim::controller::Controller;
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
    assert!(total.controller_refusals > 0 && total.fast_restarts > 0, "{total:?}");
    assert!(total.refused > 0 || total.failed > 0, "no produce was ever refused or failed: {total:?}");
}

/// The translation the simulation's controller relies on: an AlterPartition
/// the real metadata accepts answers with its new committed state, and each
/// refusal reaches the leader as the error the broker would hand it.
#[test]
fn alter_partition_answers_follow_the_metadata_and_the_brokers_error_mapping() {
    let mut c = Controller::new(&REPLICAS, 2);
    let a = c.partition().clone();
    assert_eq!(a.isr.len(), REPLICAS.len(), "{a:?}");
    let leader = a.leader.expect("a new partition has a leader");
    let others: Vec<u32> = a.isr.iter().copied().filter(|r| *r != leader).collect();
    let (le, pe) = (a.leader_epoch, a.partition_epoch);
    let refusal = |answer: AlterPartitionAnswer| match answer {
        AlterPartitionAnswer::Rejected { leader_epoch, partition_epoch, error } => {
            (leader_epoch, partition_epoch, error)
        }
        accepted => panic!("expected a refusal, got {accepted:?}"),
    };
    let (answer, changes) = c.alter_partition(others[0], le, pe, &[others[0]]);
    assert_eq!(refusal(answer), (le, pe, AlterPartitionError::NewLeaderElected));
    assert!(changes.is_empty());
    let (answer, _) = c.alter_partition(leader, le + 1, pe, &[leader]);
    assert_eq!(refusal(answer), (le + 1, pe, AlterPartitionError::FencedLeaderEpoch));
    let (answer, _) = c.alter_partition(leader, le, pe + 1, &[leader]);
    assert_eq!(refusal(answer), (le, pe + 1, AlterPartitionError::InvalidUpdateVersion));
    let (answer, _) = c.alter_partition(leader, le, pe, &[leader, leader]);
    assert_eq!(refusal(answer), (le, pe, AlterPartitionError::OperationNotAttempted));
    assert_eq!(c.partition(), &a, "refusals change nothing");

    // Shrink to the leader and one follower: accepted at a new partition
    // epoch, and the change is what the replicas are sent.
    let (answer, changes) = c.alter_partition(leader, le, pe, &[others[0], leader]);
    let shrunk = c.partition().clone();
    assert_eq!(shrunk.isr.len(), 2);
    assert_eq!(
        answer,
        AlterPartitionAnswer::Accepted { leader_epoch: le, partition_epoch: pe + 1, isr: shrunk.isr.clone() }
    );
    assert_eq!(changes, vec![shrunk.clone()]);

    // The dropped follower's session expires: it may not rejoin (KIP-841).
    let dropped = others[1];
    let broker_epoch = c.broker_epoch(dropped);
    c.apply(Command::FenceBroker { node_id: dropped, broker_epoch }).expect("fencing a registered broker");
    let (answer, _) = c.alter_partition(leader, le, pe + 1, &REPLICAS);
    assert_eq!(refusal(answer), (le, pe + 1, AlterPartitionError::IneligibleReplica));
    c.metadata.check_invariants().expect("the metadata stays valid");
}
