//! Tests of [`FollowerState`]: each drives events and asserts on the emitted
//! commands.

use super::*;

fn config() -> ReplicaConfig {
    ReplicaConfig {
        replica_lag_time_max_ms: 1_000,
        fetch_backoff_ms: 100,
        fetch_timeout_ms: 1_000,
        alter_partition_retry_ms: 500,
    }
}

fn history(pairs: &[(u32, u64)]) -> EpochHistory {
    EpochHistory::from_entries(pairs.iter().map(|&(epoch, start_offset)| EpochEntry { epoch, start_offset }).collect())
        .unwrap()
}

const FIRST_ID: u64 = 6 << 32;

/// Replica 2 follows replica 1 at epoch 6 with a durable log of 12 records
/// (epoch 2 from 0, epoch 4 from 8) and high watermark 5.
fn follow(durable_end: u64) -> (FollowerState, Vec<FollowerCommand>) {
    FollowerState::become_follower(
        config(),
        BecomeFollower {
            replica: 2,
            leader: 1,
            leader_epoch: 6,
            log_start_offset: 0,
            log_end_offset: 12,
            durable_end,
            high_watermark: 5,
            epoch_history: history(&[(2, 0), (4, 8)]),
        },
        0,
    )
    .unwrap()
}

/// A fetch from a log durable to its end.
fn fetch(fetch_id: u64, fetch_offset: u64, last_fetched_epoch: Option<u32>) -> FollowerCommand {
    pipelined_fetch(fetch_id, fetch_offset, fetch_offset, last_fetched_epoch)
}

/// A fetch sent while the log is durable only below `durable_end`.
fn pipelined_fetch(
    fetch_id: u64,
    fetch_offset: u64,
    durable_end: u64,
    last_fetched_epoch: Option<u32>,
) -> FollowerCommand {
    FollowerCommand::Fetch {
        fetch_id,
        leader: 1,
        request: FetchRequest { replica: 2, fetch_offset, durable_end, last_fetched_epoch, leader_epoch: 6 },
    }
}

fn answer(fetch_id: u64, response: FetchResponse) -> FollowerEvent {
    FollowerEvent::FetchResponse { fetch_id, response }
}

fn batch(base_offset: u64, last_offset: u64, leader_epoch: u32) -> BatchMeta {
    BatchMeta { base_offset, last_offset, leader_epoch }
}

#[test]
fn fetches_from_its_durable_end_without_truncating_to_its_high_watermark() {
    let (f, out) = follow(12);
    assert_eq!(out, vec![fetch(FIRST_ID, 12, Some(4))]);
    assert_eq!(f.log_end_offset(), 12);
    // A non-durable tail is made durable before the first fetch.
    let (mut f, out) = follow(10);
    assert!(out.is_empty());
    assert_eq!(f.handle(1, FollowerEvent::LocalDurable { durable_end: 12 }), vec![fetch(FIRST_ID, 12, Some(4))]);
}

#[test]
fn records_are_appended_and_fetched_past_while_they_sync() {
    let (mut f, _) = follow(12);
    let records = FetchResponse::Records {
        high_watermark: 14,
        log_start_offset: 0,
        batches: vec![batch(12, 13, 4), batch(14, 16, 6)],
    };
    // The next fetch goes out before the append is durable, saying so.
    assert_eq!(
        f.handle(1, answer(FIRST_ID, records)),
        vec![
            FollowerCommand::Append { batches: vec![batch(12, 13, 4), batch(14, 16, 6)] },
            FollowerCommand::HighWatermarkChanged(14),
            pipelined_fetch(FIRST_ID + 1, 17, 12, Some(6)),
        ]
    );
    assert_eq!(f.epoch_history(), &history(&[(2, 0), (4, 8), (6, 14)]));
    // Syncs finishing while a fetch is out are reported by the next one.
    assert!(f.handle(2, FollowerEvent::LocalDurable { durable_end: 15 }).is_empty());
    assert!(f.handle(3, FollowerEvent::LocalDurable { durable_end: 17 }).is_empty());
    // An empty answer refetches at once when all is durable; the HW is
    // capped by the own log end.
    let empty = FetchResponse::Records { high_watermark: 30, log_start_offset: 0, batches: vec![] };
    assert_eq!(
        f.handle(4, answer(FIRST_ID + 1, empty)),
        vec![FollowerCommand::HighWatermarkChanged(17), fetch(FIRST_ID + 2, 17, Some(6))]
    );
}

#[test]
fn an_empty_answer_during_a_sync_waits_for_it_and_then_reports_it() {
    let (mut f, _) = follow(12);
    let records = FetchResponse::Records { high_watermark: 12, log_start_offset: 0, batches: vec![batch(12, 13, 6)] };
    let out = f.handle(1, answer(FIRST_ID, records));
    let Some(FollowerCommand::Fetch { request, .. }) = out.last() else { panic!("{out:?}") };
    assert!(request.syncing());
    let empty = FetchResponse::Records { high_watermark: 12, log_start_offset: 0, batches: vec![] };
    assert!(f.handle(2, answer(FIRST_ID + 1, empty)).is_empty());
    let out = f.handle(3, FollowerEvent::LocalDurable { durable_end: 14 });
    assert_eq!(out, vec![fetch(FIRST_ID + 2, 14, Some(6))]);
    let Some(FollowerCommand::Fetch { request, .. }) = out.last() else { unreachable!() };
    assert!(!request.syncing());
}

#[test]
fn stale_or_duplicate_answers_are_ignored() {
    let (mut f, _) = follow(12);
    let records = FetchResponse::Records { high_watermark: 5, log_start_offset: 0, batches: vec![batch(12, 12, 6)] };
    assert!(f.handle(1, answer(FIRST_ID - 1, records.clone())).is_empty());
    assert_eq!(f.handle(1, answer(FIRST_ID, records.clone())).len(), 2);
    assert!(f.handle(2, answer(FIRST_ID, records)).is_empty());
    assert_eq!(f.log_end_offset(), 13);
}

#[test]
fn malformed_records_are_rejected_and_retried_after_a_backoff() {
    for batches in [
        vec![batch(11, 12, 6)],                   // not at the fetch offset
        vec![batch(12, 13, 6), batch(15, 15, 6)], // a gap
        vec![batch(12, 13, 3)],                   // epoch older than the log's
        vec![batch(12, 13, 7)],                   // epoch newer than the leader's
        vec![batch(12, 13, 6), batch(14, 14, 5)], // epochs going back
    ] {
        let (mut f, _) = follow(12);
        let out =
            f.handle(10, answer(FIRST_ID, FetchResponse::Records { high_watermark: 0, log_start_offset: 0, batches }));
        assert!(matches!(out[..], [FollowerCommand::RejectedResponse { .. }]), "{out:?}");
        assert!(f.handle(109, FollowerEvent::Tick).is_empty());
        assert_eq!(f.handle(110, FollowerEvent::Tick), vec![fetch(FIRST_ID + 1, 12, Some(4))]);
        assert_eq!(f.log_end_offset(), 12);
    }
}

#[test]
fn divergence_truncates_to_the_smaller_of_both_ends_of_the_epoch() {
    // The leader's epoch 4 ends at 10; ours at 12.
    let (mut f, _) = follow(12);
    let out = f.handle(1, answer(FIRST_ID, FetchResponse::Diverging { epoch: 4, end_offset: 10, high_watermark: 5 }));
    assert_eq!(out, vec![FollowerCommand::Truncate { to: 10 }, fetch(FIRST_ID + 1, 10, Some(4))]);
    // The leader names epoch 3 (it never had our epoch 4): our epoch 2 ends
    // at 8, before the leader's epoch-3 end at 9; truncate there and ask again.
    let (mut f, _) = follow(12);
    let out = f.handle(1, answer(FIRST_ID, FetchResponse::Diverging { epoch: 3, end_offset: 9, high_watermark: 5 }));
    assert_eq!(out, vec![FollowerCommand::Truncate { to: 8 }, fetch(FIRST_ID + 1, 8, Some(2))]);
    assert_eq!(f.epoch_history(), &history(&[(2, 0)]));
    assert_eq!(f.high_watermark(), 5);
}

#[test]
fn truncation_below_the_high_watermark_lowers_it() {
    let (mut f, _) = follow(12);
    let out = f.handle(1, answer(FIRST_ID, FetchResponse::Diverging { epoch: 2, end_offset: 3, high_watermark: 0 }));
    assert_eq!(
        out,
        vec![
            FollowerCommand::Truncate { to: 3 },
            FollowerCommand::HighWatermarkChanged(3),
            fetch(FIRST_ID + 1, 3, Some(2))
        ]
    );
}

#[test]
fn below_the_leaders_log_start_restarts_the_log_there() {
    let (mut f, _) = follow(12);
    let out =
        f.handle(1, answer(FIRST_ID, FetchResponse::OffsetOutOfRange { log_start_offset: 20, log_end_offset: 30 }));
    assert_eq!(
        out,
        vec![
            FollowerCommand::TruncateFully { log_start_offset: 20 },
            FollowerCommand::HighWatermarkChanged(20),
            fetch(FIRST_ID + 1, 20, None),
        ]
    );
    // Past the leader's end with nothing to check against: wait.
    let out =
        f.handle(2, answer(FIRST_ID + 1, FetchResponse::OffsetOutOfRange { log_start_offset: 0, log_end_offset: 10 }));
    assert!(matches!(out[..], [FollowerCommand::RejectedResponse { .. }]));
    assert_eq!(f.log_end_offset(), 20);
}

#[test]
fn errors_back_off_or_wait_for_metadata() {
    let (mut f, _) = follow(12);
    assert!(f.handle(1, answer(FIRST_ID, FetchResponse::Error(FetchError::NotLeader))).is_empty());
    assert_eq!(f.handle(101, FollowerEvent::Tick), vec![fetch(FIRST_ID + 1, 12, Some(4))]);
    assert!(f.handle(102, answer(FIRST_ID + 1, FetchResponse::Error(FetchError::UnknownLeaderEpoch))).is_empty());
    assert_eq!(f.handle(202, FollowerEvent::Tick), vec![fetch(FIRST_ID + 2, 12, Some(4))]);
    assert!(f.handle(203, answer(FIRST_ID + 2, FetchResponse::Error(FetchError::FencedLeaderEpoch))).is_empty());
    assert!(f.is_fenced());
    assert!(f.handle(100_000, FollowerEvent::Tick).is_empty());
}

#[test]
fn a_lost_fetch_is_sent_again_after_the_timeout() {
    let (mut f, _) = follow(12);
    assert!(f.handle(999, FollowerEvent::Tick).is_empty());
    assert_eq!(f.handle(1_000, FollowerEvent::Tick), vec![fetch(FIRST_ID + 1, 12, Some(4))]);
    // The late answer to the first fetch no longer counts.
    let late = FetchResponse::Records { high_watermark: 12, log_start_offset: 0, batches: vec![batch(12, 12, 6)] };
    assert!(f.handle(1_001, answer(FIRST_ID, late)).is_empty());
}

#[test]
fn following_itself_or_a_disordered_log_is_refused() {
    let base = BecomeFollower {
        replica: 2,
        leader: 1,
        leader_epoch: 6,
        log_start_offset: 0,
        log_end_offset: 12,
        durable_end: 12,
        high_watermark: 0,
        epoch_history: EpochHistory::new(),
    };
    assert!(FollowerState::become_follower(config(), BecomeFollower { leader: 2, ..base.clone() }, 0).is_err());
    assert!(FollowerState::become_follower(config(), BecomeFollower { durable_end: 13, ..base.clone() }, 0).is_err());
    assert!(FollowerState::become_follower(config(), base, 0).is_ok());
}
