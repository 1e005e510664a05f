//! The leader's side: `acks=all` waits, follower fetches, and carrying out
//! what the leader state machine asks for.
//!
//! Lives on: the partition's core.

use std::time::Duration;

use futures::channel::oneshot;

use super::{now_ms, produce_error_code, LeaderRole, Role};
use crate::shard::Partition;
use corelog_protocol::{ErrorCode, FetchPartition};
use corelog_replication::replica::{FetchError, FetchReply, FetchRequest, LeaderCommand, LeaderEvent};

/// Carries out the leader state machine's commands: acks and failures go to
/// the waiting produces, high watermark moves to the log (which wakes the
/// consumers' long polls), ISR proposals are queued for the controller.
/// Fetch replies are the caller's (see [`serve_follower_fetch`]).
pub(super) fn carry_out(part: &Partition, role: &mut LeaderRole, commands: Vec<LeaderCommand>) -> Option<FetchReply> {
    let mut reply = None;
    for command in commands {
        match command {
            LeaderCommand::AckProduce { id } => {
                if let Some(w) = role.waiters.remove(&id) {
                    let _ = w.send(Ok(()));
                }
            }
            LeaderCommand::FailProduce { id, error } => {
                if let Some(w) = role.waiters.remove(&id) {
                    let _ = w.send(Err(produce_error_code(error)));
                }
            }
            LeaderCommand::HighWatermarkChanged(hw) => part.log.set_replicated_high_watermark(hw),
            LeaderCommand::FetchReply { reply: r, .. } => reply = Some(r),
            // The log records the epoch's start when it takes the role
            // (`begin_leader_epoch`) and on the first append of it.
            LeaderCommand::AssignEpochStart { .. } => {}
            proposal @ LeaderCommand::ProposeIsr { .. } => role.proposals.push(proposal),
        }
    }
    reply
}

/// Feeds `event` to the partition's leader state, if it leads, and carries
/// out what follows.
pub fn leader_event(part: &Partition, event: LeaderEvent) -> Option<FetchReply> {
    let mut role = part.role.borrow_mut();
    let Role::Leader(leader) = &mut *role else { return None };
    let commands = leader.state.handle(now_ms(), event);
    carry_out(part, leader, commands)
}

/// Tells the leader state the log grew and how far it is durable (after
/// every append, whatever its acks: followers are caught up only when they
/// reach the log end).
///
/// Every report of durability goes through here, the log end first: the
/// log may have grown (and become durable) by appends the state has not been
/// told of yet (a tick or a follower fetch running while an append's answer
/// is on its way), and the state refuses a durable end past the log end it
/// knows.
pub fn note_appended(part: &Partition) {
    leader_event(part, LeaderEvent::Appended { log_end_offset: part.log.log_end_offset() });
    leader_event(part, LeaderEvent::LocalDurable { durable_end: part.log.high_watermark() });
}

/// Whether the partition may take an `acks=all` produce now: too few
/// in-sync replicas answer `NotEnoughReplicas` before anything is appended.
pub fn check_produce(part: &Partition) -> Result<(), ErrorCode> {
    match &*part.role.borrow() {
        Role::Sole => Ok(()),
        Role::Leader(leader) => leader.state.check_produce().map_err(produce_error_code),
        Role::Follower(_) | Role::Offline => Err(ErrorCode::NotOwner),
    }
}

/// How an appended batch ended up.
pub enum Replicated {
    /// Every in-sync replica has it (or the partition has only one replica).
    Yes,
    /// Refused with this code.
    No(ErrorCode),
}

/// Waits until every in-sync replica has the log up to `end_offset` (the
/// high watermark reached it), at most `timeout`.
pub async fn await_replication(part: &Partition, end_offset: u64, timeout: Duration) -> Replicated {
    let (id, rx) = {
        let mut role = part.role.borrow_mut();
        let leader = match &mut *role {
            Role::Leader(leader) => leader,
            Role::Sole => return Replicated::Yes,
            Role::Follower(_) | Role::Offline => return Replicated::No(ErrorCode::NotOwner),
        };
        let id = leader.next_id;
        leader.next_id += 1;
        let (tx, rx) = oneshot::channel();
        leader.waiters.insert(id, tx);
        let commands = leader.state.handle(now_ms(), LeaderEvent::AwaitReplication { id, end_offset });
        carry_out(part, leader, commands);
        (id, rx)
    };
    match corelog_runtime::timeout(timeout, rx).await {
        Some(Ok(Ok(()))) => Replicated::Yes,
        Some(Ok(Err(code))) => Replicated::No(code),
        // Resigned (the sender was dropped with the role).
        Some(Err(_)) => Replicated::No(ErrorCode::NotOwner),
        None => {
            leader_event(part, LeaderEvent::CancelProduce { id });
            Replicated::No(ErrorCode::RequestTimedOut)
        }
    }
}

/// A follower's fetch of `p`: where to read from and with which high
/// watermark, or the divergence / error to answer with. Counts as the
/// follower's progress report (durable below its `durable_end`, or its
/// fetch offset if it sends none).
pub fn serve_follower_fetch(part: &Partition, replica: u32, p: &FetchPartition) -> Result<FetchReply, ErrorCode> {
    let request = FetchRequest {
        replica,
        fetch_offset: p.fetch_offset,
        durable_end: p.durable_end.unwrap_or(p.fetch_offset),
        last_fetched_epoch: p.last_fetched_epoch,
        leader_epoch: p.current_leader_epoch.unwrap_or_else(|| part.leader_epoch()),
    };
    note_appended(part);
    match leader_event(part, LeaderEvent::FollowerFetch(request)) {
        Some(reply) => Ok(reply),
        None => Err(ErrorCode::NotOwner),
    }
}

/// A fetch refusal's wire code.
pub fn fetch_error_code(e: FetchError) -> ErrorCode {
    match e {
        FetchError::NotLeader => ErrorCode::NotOwner,
        FetchError::FencedLeaderEpoch => ErrorCode::FencedLeaderEpoch,
        FetchError::UnknownLeaderEpoch => ErrorCode::UnknownLeaderEpoch,
    }
}
