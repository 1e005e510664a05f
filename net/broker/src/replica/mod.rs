//! One partition's replication on the broker: the thin runtime around the
//! I/O-free state machines of `corelog_replication::replica`.
//!
//! Each open partition has a [`Role`], taken from its assignment whenever the
//! metadata changes:
//! - `Sole`: the only replica (replication factor 1). Nothing to wait for:
//!   the high watermark is the local durable end, as on a single node.
//! - `Leader`: a [`LeaderState`] decides the high watermark from the
//!   followers' fetches, answers `acks=all` once every in-sync replica has
//!   a batch (durably, when the flush policy is `always`), and proposes ISR
//!   changes to the controller.
//! - `Follower`: a [`FollowerState`] decides what to fetch from the leader
//!   and when to truncate (KIP-279); this core's fetcher (`fetcher.rs`)
//!   carries the fetches, batching every partition it follows from the same
//!   leader core into one request.
//! - `Offline`: no leader (or a state the replica refuses): nothing served.
//!
//! Lives on: the partition's core; nothing here crosses cores.

pub mod fetcher;
pub mod isr_sender;
mod leader;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::channel::oneshot;

pub use leader::{
    await_replication, check_produce, fetch_error_code, leader_event, note_appended, serve_follower_fetch, Replicated,
};

use corelog_protocol::ErrorCode;
use corelog_replication::metadata::cluster::PartitionAssignment;
use corelog_replication::replica::{
    BecomeFollower, BecomeLeader, EpochEntry, EpochHistory, FetchRequest, FollowerState, LeaderCommand, LeaderState,
    ProduceError, ProduceId, ReplicaConfig,
};

use crate::shard::Partition;

/// A partition's part in its replication.
pub enum Role {
    Sole,
    // Boxed: a follower's or a sole replica's role need not carry the
    // leader's follower table.
    Leader(Box<LeaderRole>),
    Follower(FollowerRole),
    Offline,
}

pub struct LeaderRole {
    pub state: LeaderState,
    /// `acks=all` produces waiting for the high watermark, by id.
    waiters: HashMap<ProduceId, oneshot::Sender<Result<(), ErrorCode>>>,
    next_id: ProduceId,
    /// ISR changes the state machine asked for, not yet sent to the
    /// controller (the core's ISR task takes them).
    pub proposals: Vec<LeaderCommand>,
    /// The topic's `min.insync.replicas` the state was made with.
    pub min_insync_replicas: u32,
}

pub struct FollowerRole {
    pub state: FollowerState,
    /// The fetch the state machine asked for and the fetcher has not sent.
    pub wanted: Option<(u64, FetchRequest)>,
    /// The fetch in flight (its id), if any.
    pub in_flight: Option<u64>,
}

/// Wall-clock milliseconds: the state machines' clock (only differences
/// matter to them).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn history(part: &Partition) -> EpochHistory {
    let entries =
        part.log.epoch_entries().into_iter().map(|e| EpochEntry { epoch: e.epoch, start_offset: e.start_offset });
    // The log keeps its entries strictly increasing; a refusal here would be
    // a bug in the log, and the partition then stays offline.
    EpochHistory::from_entries(entries.collect()).unwrap_or_default()
}

/// The role `assignment` gives this broker (`node`) for `part`. The log
/// must already carry the leader epoch when leading (see `Shard::take_role`).
pub fn role_for(
    part: &Partition,
    node: u32,
    assignment: &PartitionAssignment,
    min_insync: u32,
    config: ReplicaConfig,
) -> Role {
    let log = &part.log;
    let now = now_ms();
    match assignment.leader {
        Some(leader) if leader == node && assignment.replicas.len() == 1 => Role::Sole,
        Some(leader) if leader == node => {
            let become_leader = BecomeLeader {
                replica: node,
                leader_epoch: assignment.leader_epoch,
                partition_epoch: assignment.partition_epoch,
                replicas: assignment.replicas.clone(),
                isr: assignment.isr.clone(),
                min_insync_replicas: min_insync,
                log_start_offset: log.log_start_offset(),
                log_end_offset: log.log_end_offset(),
                durable_end: log.high_watermark(),
                high_watermark: log.consumer_high_watermark().min(log.high_watermark()),
                epoch_history: history(part),
            };
            match LeaderState::become_leader(config, become_leader, now) {
                Ok((state, commands)) => {
                    let mut role = LeaderRole {
                        state,
                        waiters: HashMap::new(),
                        next_id: 1,
                        proposals: Vec::new(),
                        min_insync_replicas: min_insync,
                    };
                    leader::carry_out(part, &mut role, commands);
                    Role::Leader(Box::new(role))
                }
                Err(e) => {
                    tracing::error!(topic = %part.topic, partition = part.id, error = %e, "cannot lead the partition");
                    Role::Offline
                }
            }
        }
        Some(leader) => follow(part, node, leader, assignment.leader_epoch, config),
        None => Role::Offline,
    }
}

/// This broker (`node`) following `leader` at `leader_epoch`, from what the
/// log holds now.
fn follow(part: &Partition, node: u32, leader: u32, leader_epoch: u32, config: ReplicaConfig) -> Role {
    let log = &part.log;
    let become_follower = BecomeFollower {
        replica: node,
        leader,
        leader_epoch,
        log_start_offset: log.log_start_offset(),
        log_end_offset: log.log_end_offset(),
        durable_end: log.high_watermark(),
        high_watermark: log.consumer_high_watermark().min(log.high_watermark()),
        epoch_history: history(part),
    };
    match FollowerState::become_follower(config, become_follower, now_ms()) {
        Ok((state, commands)) => {
            let mut role = FollowerRole { state, wanted: None, in_flight: None };
            fetcher::note_commands(&mut role, commands);
            Role::Follower(role)
        }
        Err(e) => {
            tracing::error!(topic = %part.topic, partition = part.id, error = %e, "cannot follow the partition");
            Role::Offline
        }
    }
}

/// Follows the same leader again, from what the log holds: after an append
/// or truncation the log refused, the follower state no longer matches it
/// (the next answers would all be refused too).
pub fn refollow(part: &Partition) {
    let (node, leader, epoch, config) = match &*part.role.borrow() {
        Role::Follower(f) => (f.state.replica_id(), f.state.leader(), f.state.leader_epoch(), f.state.config()),
        _ => return,
    };
    // A failed log refuses everything until it is reopened (which gives
    // the reopened partition its role again): serve nothing meanwhile,
    // rather than fetch only to be refused.
    let role = if part.log.failure().is_some() { Role::Offline } else { follow(part, node, leader, epoch, config) };
    *part.role.borrow_mut() = role;
}

/// What a produce that cannot be taken is answered with.
pub fn produce_error_code(e: ProduceError) -> ErrorCode {
    match e {
        ProduceError::NotEnoughReplicas => ErrorCode::NotEnoughReplicas,
        ProduceError::NotEnoughReplicasAfterAppend => ErrorCode::NotEnoughReplicasAfterAppend,
        ProduceError::NotLeaderOrFollower => ErrorCode::NotOwner,
    }
}

/// Fails every waiting produce (the partition stops being led here).
pub fn resign(role: Role) {
    if let Role::Leader(mut leader) = role {
        for (_, waiter) in leader.waiters.drain() {
            let _ = waiter.send(Err(ErrorCode::NotOwner));
        }
    }
}

/// One maintenance tick of the partition's replication: the state
/// machines' timers (ISR lag, lost fetches) and the durable end an interval
/// flush may have moved.
pub fn tick(part: &Partition) {
    let (leads, follows) = match &*part.role.borrow() {
        Role::Leader(_) => (true, false),
        Role::Follower(_) => (false, true),
        Role::Sole | Role::Offline => (false, false),
    };
    if leads {
        note_appended(part);
        leader_event(part, corelog_replication::replica::LeaderEvent::Tick);
    } else if follows {
        let durable_end = part.log.high_watermark();
        fetcher::follower_event(part, corelog_replication::replica::FollowerEvent::LocalDurable { durable_end });
        fetcher::follower_event(part, corelog_replication::replica::FollowerEvent::Tick);
    }
}
