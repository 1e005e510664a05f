//! Tests of [`LeaderState`]: each drives events and asserts on the emitted
//! commands.

use super::*;

const LAG: u64 = 1_000;
const RETRY: u64 = 500;

fn config() -> ReplicaConfig {
    ReplicaConfig {
        replica_lag_time_max_ms: LAG,
        fetch_backoff_ms: 100,
        fetch_timeout_ms: 1_000,
        alter_partition_retry_ms: RETRY,
    }
}

fn history(pairs: &[(u32, u64)]) -> EpochHistory {
    EpochHistory::from_entries(pairs.iter().map(|&(epoch, start_offset)| EpochEntry { epoch, start_offset }).collect())
        .unwrap()
}

/// Replica 1 leads epoch 5 of replicas 1, 2, 3 with a durable log of 10
/// records (epoch 2 from 0, epoch 4 from 6) and high watermark 4.
fn lead(isr: &[ReplicaId], min_isr: u32) -> (LeaderState, Vec<LeaderCommand>) {
    LeaderState::become_leader(
        config(),
        BecomeLeader {
            replica: 1,
            leader_epoch: 5,
            partition_epoch: 9,
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            min_insync_replicas: min_isr,
            log_start_offset: 0,
            log_end_offset: 10,
            durable_end: 10,
            high_watermark: 4,
            epoch_history: history(&[(2, 0), (4, 6)]),
        },
        0,
    )
    .unwrap()
}

/// A fetch from a follower whose log is durable to its end.
fn fetch(replica: ReplicaId, fetch_offset: u64, last_fetched_epoch: Option<u32>) -> LeaderEvent {
    pipelined(replica, fetch_offset, fetch_offset, last_fetched_epoch)
}

/// A fetch from a follower still syncing the records from `durable_end`.
fn pipelined(replica: ReplicaId, fetch_offset: u64, durable_end: u64, last_fetched_epoch: Option<u32>) -> LeaderEvent {
    LeaderEvent::FollowerFetch(FetchRequest { replica, fetch_offset, durable_end, last_fetched_epoch, leader_epoch: 5 })
}

fn read(replica: ReplicaId, from: u64, high_watermark: u64) -> LeaderCommand {
    LeaderCommand::FetchReply { replica, reply: FetchReply::Read { from, high_watermark, log_start_offset: 0 } }
}

fn propose(isr: &[ReplicaId], partition_epoch: u32) -> LeaderCommand {
    LeaderCommand::ProposeIsr { new_isr: isr.to_vec(), leader_epoch: 5, partition_epoch }
}

#[test]
fn becoming_leader_records_the_epoch_start_and_keeps_the_old_high_watermark() {
    let (leader, out) = lead(&[1, 2, 3], 2);
    assert_eq!(out, vec![LeaderCommand::AssignEpochStart { epoch: 5, start_offset: 10 }]);
    assert_eq!(leader.high_watermark(), 4);
    // Alone in the ISR, its own durable end is the high watermark.
    let (alone, out) = lead(&[1], 1);
    assert_eq!(
        out,
        vec![LeaderCommand::AssignEpochStart { epoch: 5, start_offset: 10 }, LeaderCommand::HighWatermarkChanged(10)]
    );
    assert_eq!(alone.high_watermark(), 10);
}

#[test]
fn inconsistent_states_are_refused() {
    let base = BecomeLeader {
        replica: 1,
        leader_epoch: 5,
        partition_epoch: 0,
        replicas: vec![1, 2],
        isr: vec![1, 2],
        min_insync_replicas: 1,
        log_start_offset: 0,
        log_end_offset: 10,
        durable_end: 10,
        high_watermark: 0,
        epoch_history: history(&[(2, 0)]),
    };
    let refused = |f: &dyn Fn(&mut BecomeLeader)| {
        let mut s = base.clone();
        f(&mut s);
        LeaderState::become_leader(config(), s, 0).is_err()
    };
    assert!(!refused(&|_| {}));
    assert!(refused(&|s| s.isr = vec![2]));
    assert!(refused(&|s| s.isr = vec![1, 4]));
    assert!(refused(&|s| s.isr = vec![1, 1]));
    assert!(refused(&|s| s.durable_end = 11));
    assert!(refused(&|s| s.high_watermark = 11));
    assert!(refused(&|s| s.min_insync_replicas = 0));
    assert!(refused(&|s| s.epoch_history = history(&[(6, 0)])));
}

#[test]
fn fetches_with_the_wrong_epoch_or_from_strangers_are_refused() {
    let (mut leader, _) = lead(&[1, 2, 3], 2);
    let with_epoch = |replica, leader_epoch| {
        LeaderEvent::FollowerFetch(FetchRequest {
            replica,
            fetch_offset: 10,
            durable_end: 10,
            last_fetched_epoch: Some(4),
            leader_epoch,
        })
    };
    let error = |replica, e| vec![LeaderCommand::FetchReply { replica, reply: FetchReply::Error(e) }];
    assert_eq!(leader.handle(1, with_epoch(2, 4)), error(2, FetchError::FencedLeaderEpoch));
    assert_eq!(leader.handle(1, with_epoch(2, 6)), error(2, FetchError::UnknownLeaderEpoch));
    assert_eq!(leader.handle(1, with_epoch(7, 5)), error(7, FetchError::NotLeader));
    assert_eq!(leader.handle(1, with_epoch(1, 5)), error(1, FetchError::NotLeader));
    assert_eq!(leader.follower_replicated_end(2), None);
}

#[test]
fn a_follower_whose_last_epoch_ends_earlier_here_is_told_where() {
    let (mut leader, _) = lead(&[1, 2, 3], 2);
    let diverging = |epoch, end_offset| {
        vec![LeaderCommand::FetchReply {
            replica: 2,
            reply: FetchReply::Diverging { epoch, end_offset, high_watermark: 4 },
        }]
    };
    // Epoch 2 ends at 6 here; the follower has epoch-2 records up to 8.
    assert_eq!(leader.handle(1, fetch(2, 8, Some(2))), diverging(2, 6));
    // Epoch 3 never existed here: the answer is epoch 2's end.
    assert_eq!(leader.handle(1, fetch(2, 7, Some(3))), diverging(2, 6));
    // The current epoch ends at the log end: the follower is past it.
    assert_eq!(leader.handle(1, fetch(2, 12, Some(5))), diverging(5, 10));
    // Newer than any epoch here.
    assert_eq!(leader.handle(1, fetch(2, 12, Some(7))), diverging(5, 10));
    // Diverging fetches do not count as replication.
    assert_eq!(leader.follower_replicated_end(2), None);
    // At or before the epoch's end: consistent.
    assert_eq!(leader.handle(1, fetch(2, 6, Some(2))), vec![read(2, 6, 4)]);
    assert_eq!(leader.follower_replicated_end(2), Some(6));
}

#[test]
fn out_of_range_fetches() {
    let (mut leader, _) = lead(&[1, 2, 3], 2);
    leader.handle(1, LeaderEvent::LogStartAdvanced { log_start_offset: 3 });
    let oor = vec![LeaderCommand::FetchReply {
        replica: 2,
        reply: FetchReply::OffsetOutOfRange { log_start_offset: 3, log_end_offset: 10 },
    }];
    assert_eq!(leader.handle(1, fetch(2, 1, None)), oor);
    assert_eq!(leader.handle(1, fetch(2, 11, None)), oor);
    // Divergence is checked first.
    assert!(matches!(
        leader.handle(1, fetch(2, 11, Some(5)))[..],
        [LeaderCommand::FetchReply { reply: FetchReply::Diverging { epoch: 5, end_offset: 10, .. }, .. }]
    ));
}

#[test]
fn high_watermark_is_the_minimum_over_the_isr_and_never_goes_back() {
    let (mut leader, _) = lead(&[1, 2], 1);
    // Replica 3 is outside the ISR: its fetches never hold the HW back. The
    // HW waits until every ISR member has fetched from this leader.
    assert_eq!(leader.handle(1, fetch(3, 0, None)), vec![read(3, 0, 4)]);
    assert_eq!(leader.handle(2, fetch(2, 7, Some(4))), vec![LeaderCommand::HighWatermarkChanged(7), read(2, 7, 7)]);
    // A stale duplicate of an older fetch lowers the follower's end but not the HW.
    assert_eq!(leader.handle(3, fetch(2, 5, Some(2))), vec![read(2, 5, 7)]);
    assert_eq!(leader.high_watermark(), 7);
    // The leader's own durable end bounds the HW.
    leader.handle(4, LeaderEvent::Appended { log_end_offset: 15 });
    assert_eq!(leader.handle(5, fetch(2, 15, Some(5))), vec![LeaderCommand::HighWatermarkChanged(10), read(2, 15, 10)]);
    assert_eq!(
        leader.handle(6, LeaderEvent::LocalDurable { durable_end: 15 }),
        vec![LeaderCommand::HighWatermarkChanged(15)]
    );
}

#[test]
fn acks_all_waits_for_the_high_watermark() {
    let (mut leader, _) = lead(&[1, 2], 2);
    assert_eq!(leader.check_produce(), Ok(()));
    leader.handle(1, LeaderEvent::Appended { log_end_offset: 12 });
    leader.handle(1, LeaderEvent::LocalDurable { durable_end: 12 });
    // Already replicated below the HW: acknowledged at once.
    assert_eq!(
        leader.handle(1, LeaderEvent::AwaitReplication { id: 1, end_offset: 3 }),
        vec![LeaderCommand::AckProduce { id: 1 }]
    );
    assert!(leader.handle(1, LeaderEvent::AwaitReplication { id: 2, end_offset: 12 }).is_empty());
    assert!(leader.handle(1, LeaderEvent::AwaitReplication { id: 3, end_offset: 11 }).is_empty());
    assert_eq!(
        leader.handle(2, fetch(2, 11, Some(5))),
        vec![LeaderCommand::HighWatermarkChanged(11), LeaderCommand::AckProduce { id: 3 }, read(2, 11, 11)]
    );
    assert_eq!(leader.waiting_produces(), 1);
    leader.handle(3, LeaderEvent::CancelProduce { id: 2 });
    assert_eq!(leader.handle(4, fetch(2, 12, Some(5))), vec![LeaderCommand::HighWatermarkChanged(12), read(2, 12, 12)]);
}

#[test]
fn only_a_followers_durable_end_acknowledges() {
    let (mut leader, _) = lead(&[1, 2], 2);
    leader.handle(1, LeaderEvent::Appended { log_end_offset: 12 });
    leader.handle(1, LeaderEvent::LocalDurable { durable_end: 12 });
    assert!(leader.handle(1, LeaderEvent::AwaitReplication { id: 1, end_offset: 12 }).is_empty());
    // The follower holds 12 records but has synced only 11: it reads on
    // from 12, and the produce waits.
    assert_eq!(
        leader.handle(2, pipelined(2, 12, 11, Some(5))),
        vec![LeaderCommand::HighWatermarkChanged(11), read(2, 12, 11)]
    );
    // A durable end past the fetch offset counts only up to it.
    assert_eq!(
        leader.handle(3, pipelined(2, 12, 99, Some(5))),
        vec![LeaderCommand::HighWatermarkChanged(12), LeaderCommand::AckProduce { id: 1 }, read(2, 12, 12)]
    );
}

#[test]
fn too_small_an_isr_refuses_produce_and_fails_waiters() {
    let (mut leader, _) = lead(&[1, 2], 2);
    leader.handle(1, LeaderEvent::Appended { log_end_offset: 12 });
    leader.handle(1, LeaderEvent::AwaitReplication { id: 8, end_offset: 12 });
    // The controller fences replica 2 and shrinks the ISR (KIP-841).
    let change = PartitionChange { leader_epoch: 5, partition_epoch: 10, replicas: vec![1, 2, 3], isr: vec![1] };
    let out = leader.handle(2, LeaderEvent::PartitionChanged(change));
    assert_eq!(out[0], LeaderCommand::FailProduce { id: 8, error: ProduceError::NotEnoughReplicasAfterAppend });
    assert_eq!(leader.check_produce(), Err(ProduceError::NotEnoughReplicas));
    assert_eq!(
        leader.handle(3, LeaderEvent::AwaitReplication { id: 9, end_offset: 12 }),
        vec![LeaderCommand::FailProduce { id: 9, error: ProduceError::NotEnoughReplicasAfterAppend }]
    );
}

#[test]
fn resigning_fails_every_waiter() {
    let (mut leader, _) = lead(&[1, 2], 2);
    leader.handle(1, LeaderEvent::Appended { log_end_offset: 12 });
    leader.handle(1, LeaderEvent::AwaitReplication { id: 4, end_offset: 11 });
    leader.handle(1, LeaderEvent::AwaitReplication { id: 5, end_offset: 12 });
    assert_eq!(
        leader.resign(),
        vec![
            LeaderCommand::FailProduce { id: 4, error: ProduceError::NotLeaderOrFollower },
            LeaderCommand::FailProduce { id: 5, error: ProduceError::NotLeaderOrFollower },
        ]
    );
}

#[test]
fn a_lagging_follower_is_proposed_out_and_the_old_isr_counts_until_committed() {
    let (mut leader, _) = lead(&[1, 2, 3], 1);
    leader.handle(0, LeaderEvent::Appended { log_end_offset: 12 });
    leader.handle(0, LeaderEvent::LocalDurable { durable_end: 12 });
    leader.handle(100, fetch(2, 12, Some(5)));
    leader.handle(100, fetch(3, 8, Some(4)));
    assert!(leader.handle(LAG, LeaderEvent::Tick).is_empty());
    // Replica 2 stays caught up; replica 3 has not been caught up since 0.
    leader.handle(LAG, fetch(2, 12, Some(5)));
    assert_eq!(leader.handle(LAG + 1, LeaderEvent::Tick), vec![propose(&[1, 2], 9)]);
    // While the shrink is pending, replica 3 still holds the HW at 8.
    assert_eq!(leader.high_watermark(), 8);
    assert!(leader.handle(LAG + 2, LeaderEvent::Tick).is_empty(), "one AlterPartition in flight");
    let accepted = AlterPartitionAnswer::Accepted { leader_epoch: 5, partition_epoch: 10, isr: vec![1, 2] };
    assert_eq!(
        leader.handle(LAG + 3, LeaderEvent::AlterPartitionAnswer(accepted.clone())),
        vec![LeaderCommand::HighWatermarkChanged(12)]
    );
    assert_eq!(leader.isr(), vec![1, 2]);
    assert_eq!(leader.partition_epoch(), 10);
    // A duplicate of the answer changes nothing.
    assert!(leader.handle(LAG + 4, LeaderEvent::AlterPartitionAnswer(accepted)).is_empty());
}

#[test]
fn an_idle_follower_at_the_log_end_stays_in_sync() {
    let (mut leader, _) = lead(&[1, 2], 1);
    leader.handle(0, fetch(2, 10, Some(4)));
    assert!(leader.handle(10 * LAG, LeaderEvent::Tick).is_empty());
    leader.handle(10 * LAG, LeaderEvent::Appended { log_end_offset: 11 });
    assert_eq!(leader.handle(10 * LAG + 1, LeaderEvent::Tick), vec![propose(&[1], 9)]);
}

#[test]
fn a_caught_up_follower_is_proposed_in_and_counts_while_pending() {
    let (mut leader, _) = lead(&[1], 1);
    assert_eq!(leader.high_watermark(), 10);
    // At the HW but not at this leader's epoch start (10) yet.
    leader.handle(1, LeaderEvent::Appended { log_end_offset: 14 });
    assert_eq!(leader.handle(1, fetch(2, 9, Some(4))), vec![read(2, 9, 10)]);
    assert_eq!(leader.handle(2, fetch(2, 10, Some(4))), vec![propose(&[1, 2], 9), read(2, 10, 10)]);
    assert_eq!(leader.pending_isr(), Some(vec![1, 2]));
    assert_eq!(leader.maximal_isr(), vec![1, 2]);
    // Pending expansion: the HW waits for replica 2 (KIP-497).
    assert!(leader.handle(3, LeaderEvent::LocalDurable { durable_end: 14 }).is_empty());
    assert_eq!(leader.handle(4, fetch(2, 13, Some(5))), vec![LeaderCommand::HighWatermarkChanged(13), read(2, 13, 13)]);
    // The controller refuses it as a stale version: it may have applied an
    // earlier copy, so replica 2 keeps counting and nothing is resent.
    let rejected = AlterPartitionAnswer::Rejected {
        leader_epoch: 5,
        partition_epoch: 9,
        error: AlterPartitionError::InvalidUpdateVersion,
    };
    assert!(leader.handle(5, LeaderEvent::AlterPartitionAnswer(rejected)).is_empty());
    assert_eq!(leader.maximal_isr(), vec![1, 2]);
    assert!(leader.handle(5 + RETRY, LeaderEvent::Tick).is_empty());
    // Metadata says it was applied.
    let change = PartitionChange { leader_epoch: 5, partition_epoch: 10, replicas: vec![1, 2, 3], isr: vec![1, 2] };
    assert!(leader.handle(6 + RETRY, LeaderEvent::PartitionChanged(change)).is_empty());
    assert_eq!(leader.isr(), vec![1, 2]);
    assert_eq!(leader.pending_isr(), None);
}

#[test]
fn a_refused_expansion_reverts_and_is_retried_later() {
    let (mut leader, _) = lead(&[1], 1);
    assert_eq!(leader.handle(1, fetch(3, 10, Some(4))), vec![propose(&[1, 3], 9), read(3, 10, 10)]);
    let rejected = AlterPartitionAnswer::Rejected {
        leader_epoch: 5,
        partition_epoch: 9,
        error: AlterPartitionError::IneligibleReplica,
    };
    assert!(leader.handle(2, LeaderEvent::AlterPartitionAnswer(rejected)).is_empty());
    assert_eq!(leader.maximal_isr(), vec![1]);
    assert_eq!(leader.handle(3, fetch(3, 10, Some(4))), vec![read(3, 10, 10)]);
    assert_eq!(leader.handle(2 + RETRY, LeaderEvent::Tick), vec![propose(&[1, 3], 9)]);
}

#[test]
fn an_unanswered_proposal_is_sent_again() {
    let (mut leader, _) = lead(&[1, 2], 1);
    assert_eq!(leader.handle(LAG + 1, LeaderEvent::Tick), vec![propose(&[1], 9)]);
    assert!(leader.handle(LAG + RETRY, LeaderEvent::Tick).is_empty());
    assert_eq!(leader.handle(LAG + 1 + RETRY, LeaderEvent::Tick), vec![propose(&[1], 9)]);
}

#[test]
fn metadata_of_another_epoch_or_an_old_version_is_ignored() {
    let (mut leader, _) = lead(&[1, 2], 1);
    let other_epoch = PartitionChange { leader_epoch: 6, partition_epoch: 12, replicas: vec![1, 2, 3], isr: vec![1] };
    leader.handle(1, LeaderEvent::PartitionChanged(other_epoch));
    let old = PartitionChange { leader_epoch: 5, partition_epoch: 9, replicas: vec![1, 2, 3], isr: vec![1] };
    leader.handle(1, LeaderEvent::PartitionChanged(old));
    let without_leader =
        PartitionChange { leader_epoch: 5, partition_epoch: 11, replicas: vec![1, 2, 3], isr: vec![2] };
    leader.handle(1, LeaderEvent::PartitionChanged(without_leader));
    assert_eq!(leader.isr(), vec![1, 2]);
    assert_eq!(leader.partition_epoch(), 9);
    // A reassignment drops a replica's progress and adds the newcomer.
    let moved = PartitionChange { leader_epoch: 5, partition_epoch: 10, replicas: vec![1, 2, 4], isr: vec![1, 2] };
    leader.handle(2, LeaderEvent::PartitionChanged(moved));
    assert_eq!(leader.replicas(), &[1, 2, 4]);
    assert!(matches!(
        leader.handle(3, fetch(3, 10, Some(4)))[..],
        [LeaderCommand::FetchReply { reply: FetchReply::Error(FetchError::NotLeader), .. }]
    ));
    assert!(matches!(
        leader.handle(3, fetch(4, 0, None))[..],
        [LeaderCommand::FetchReply { reply: FetchReply::Read { .. }, .. }]
    ));
}

#[test]
fn a_follower_joins_only_once_past_this_leaders_epoch_start() {
    // HW 4 (from follower days) lags the epoch start 10: a follower at 6 is
    // past the HW but may lack records the previous leader acknowledged.
    let (mut leader, _) = lead(&[1, 2], 1);
    assert_eq!(leader.handle(1, fetch(3, 6, Some(4))), vec![read(3, 6, 4)]);
    assert_eq!(leader.pending_isr(), None);
    assert_eq!(leader.handle(2, fetch(3, 10, Some(4))), vec![propose(&[1, 2, 3], 9), read(3, 10, 4)]);
}
