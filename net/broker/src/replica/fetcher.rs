//! The follower side: this core's replica fetcher (Kafka's
//! ReplicaFetcherThread). Every partition this core follows from the same
//! leader node is fetched in one request to that leader's same core (the
//! controller puts a partition on the same core index on every replica), so
//! replication traffic is core to core, one connection per leader.
//!
//! A fetch answer's batches are appended as the leader wrote them (the
//! leader's offsets and epochs), in two steps: staged at once, after which
//! the next fetch goes out, and written and synced by a task of their own,
//! whose end is reported as the durable end of a later fetch (the leader
//! counts only that toward its high watermark). So this replica's write and
//! fdatasync overlap the next round trip instead of following it.
//!
//! Lives on: one core; one session task per leader node.

use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use corelog_runtime::sync::Notify;
use futures::FutureExt;

use corelog_client::{ClientConfig, Connection};
use corelog_format::ValidBatches;
use corelog_protocol::{
    ErrorCode, FetchPartition, FetchPartitionResponse, FetchRequest as WireFetch, FetchTopic, Request, Response,
};
use corelog_replication::replica::{BatchMeta, FetchError, FetchResponse, FollowerCommand, FollowerEvent};

use super::{now_ms, FollowerRole, Role};
use crate::limits::{REPLICA_FETCH_MAX_BYTES, REPLICA_FETCH_RETRY, REPLICA_FETCH_WAIT};
use crate::shard::state::endpoint_of;
use crate::shard::{Partition, Shard};

/// Records the fetch the follower state asked for; the other commands come
/// only from fetch answers, which the session carries out itself.
pub(super) fn note_commands(role: &mut FollowerRole, commands: Vec<FollowerCommand>) {
    for command in commands {
        if let FollowerCommand::Fetch { fetch_id, request, .. } = command {
            role.wanted = Some((fetch_id, request));
        }
    }
}

/// Feeds `event` to the partition's follower state and carries out the
/// commands that need no fetch answer (ticks, durability).
pub fn follower_event(part: &Partition, event: FollowerEvent) {
    let mut role = part.role.borrow_mut();
    if let Role::Follower(follower) = &mut *role {
        let commands = follower.state.handle(now_ms(), event);
        for command in &commands {
            if let FollowerCommand::HighWatermarkChanged(hw) = command {
                part.log.set_replicated_high_watermark(*hw);
            }
        }
        note_commands(follower, commands);
    }
}

/// The leaders this core follows partitions from.
fn leaders(shard: &Shard) -> HashSet<u32> {
    shard
        .partitions()
        .iter()
        .filter_map(|p| match &*p.role.borrow() {
            Role::Follower(f) => Some(f.state.leader()),
            _ => None,
        })
        .collect()
}

/// Runs the fetcher of this core: one session per leader, started when the
/// core first follows a partition from it. A session ends by itself once the
/// core follows nothing from its leader (never cancelled from outside: an
/// append dropped mid-write would fail the log).
pub async fn run(shard: Rc<Shard>) {
    let running: Rc<std::cell::RefCell<HashSet<u32>>> = Rc::default();
    loop {
        for leader in leaders(&shard) {
            if running.borrow_mut().insert(leader) {
                let (shard, running) = (shard.clone(), running.clone());
                corelog_runtime::spawn_detached(async move {
                    session(shard, leader).await;
                    running.borrow_mut().remove(&leader);
                });
            }
        }
        if !shard.wait_or_stop(REPLICA_FETCH_RETRY).await {
            return;
        }
    }
}

/// The partitions following `leader` whose state wants a fetch now, with
/// the request for each; they are marked in flight.
/// Also says whether any of them is still syncing what it fetched last
/// (then the leader should not wait for new records).
fn take_wanted(shard: &Shard, leader: u32) -> (Vec<(Rc<Partition>, u64, FetchPartition)>, bool) {
    let mut syncing = false;
    let mut out = Vec::new();
    for part in shard.partitions() {
        let mut role = part.role.borrow_mut();
        let Role::Follower(f) = &mut *role else { continue };
        if f.state.leader() != leader {
            continue;
        }
        if let Some((fetch_id, request)) = f.wanted.take() {
            f.in_flight = Some(fetch_id);
            syncing |= request.syncing();
            let wire = FetchPartition {
                partition: part.id,
                fetch_offset: request.fetch_offset,
                partition_max_bytes: REPLICA_FETCH_MAX_BYTES as u32,
                current_leader_epoch: Some(request.leader_epoch),
                last_fetched_epoch: request.last_fetched_epoch,
                durable_end: Some(request.durable_end),
            };
            drop(role);
            out.push((part.clone(), fetch_id, wire));
        }
    }
    (out, syncing)
}

async fn session(shard: Rc<Shard>, leader: u32) {
    let mut connection: Option<Connection> = None;
    // Rung when a sync of this session's appends ends (its partitions then
    // want to fetch, to report it).
    let synced = Notify::default();
    loop {
        if !leaders(&shard).contains(&leader) {
            return;
        }
        let (batch, syncing) = take_wanted(&shard, leader);
        if batch.is_empty() {
            let tick = Duration::from_millis(crate::limits::FLUSH_TICK_MS);
            futures::select! {
                _ = synced.notified().fuse() => {}
                running = shard.wait_or_stop(tick).fuse() => if !running { return },
            }
            continue;
        }
        let request = fetch_request(shard.node_id(), &batch, syncing);
        let answered = match connect(&shard, leader, &mut connection).await {
            Some(conn) => conn.request_with_timeout(&request, REPLICA_FETCH_WAIT * 4).await.ok(),
            None => None,
        };
        match answered {
            Some(Response::Fetch(response)) if response.error.is_ok() => {
                let mut answers: BTreeMap<(String, u32), FetchPartitionResponse> = BTreeMap::new();
                for t in response.topics {
                    for p in t.partitions {
                        answers.insert((t.name.clone(), p.partition), p);
                    }
                }
                for (part, fetch_id, _) in batch {
                    match answers.remove(&(part.topic.clone(), part.id)) {
                        Some(answer) => apply_answer(&part, fetch_id, answer, &synced).await,
                        None => clear_in_flight(&part),
                    }
                }
            }
            other => {
                if let Some(other) = other {
                    tracing::debug!(leader, ?other, "replica fetch refused");
                }
                connection = None;
                for (part, _, _) in batch {
                    clear_in_flight(&part);
                }
                if !shard.wait_or_stop(REPLICA_FETCH_RETRY).await {
                    return;
                }
            }
        }
    }
}

/// A lost fetch: the state machine sends it again on a tick (its timeout).
fn clear_in_flight(part: &Partition) {
    if let Role::Follower(f) = &mut *part.role.borrow_mut() {
        f.in_flight = None;
    }
}

fn fetch_request(node: u32, batch: &[(Rc<Partition>, u64, FetchPartition)], syncing: bool) -> Request {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (part, _, p) in batch {
        match topics.last_mut().filter(|t| t.name == part.topic) {
            Some(t) => t.partitions.push(*p),
            None => topics.push(FetchTopic { name: part.topic.clone(), partitions: vec![*p] }),
        }
    }
    Request::Fetch(WireFetch {
        replica_id: Some(node),
        // A partition still syncing reports its sync with the next fetch,
        // so the leader must not hold this one waiting for new records.
        max_wait_ms: if syncing { 0 } else { REPLICA_FETCH_WAIT.as_millis() as u32 },
        min_bytes: 1,
        max_bytes: REPLICA_FETCH_MAX_BYTES as u32,
        topics,
    })
}

async fn connect<'a>(shard: &Shard, leader: u32, connection: &'a mut Option<Connection>) -> Option<&'a Connection> {
    if connection.as_ref().is_some_and(Connection::is_closed) {
        *connection = None;
    }
    if connection.is_none() {
        let endpoint = endpoint_of(&shard.metadata(), leader, shard.core)?;
        let addr = resolve(&endpoint.host, endpoint.port)?;
        match Connection::connect(addr, &ClientConfig::default()).await {
            Ok(c) => *connection = Some(c),
            Err(e) => {
                tracing::debug!(leader, %addr, error = %e, "cannot reach the leader for replica fetches");
                return None;
            }
        }
    }
    connection.as_ref()
}

/// `host:port` as a socket address (brokers register IP addresses; a name
/// is looked up, blocking, which only a misconfigured cluster pays for).
fn resolve(host: &str, port: u16) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().ok()?.next()
}

/// One partition's answer: checked, appended (staged, its write and sync
/// left to a task that rings `synced` when done) or truncated as the
/// follower state says.
async fn apply_answer(part: &Rc<Partition>, fetch_id: u64, answer: FetchPartitionResponse, synced: &Notify) {
    let (response, batches) = match to_response(part, &answer) {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(topic = %part.topic, partition = part.id, %reason, "bad replica fetch answer");
            clear_in_flight(part);
            return;
        }
    };
    let commands = {
        let mut role = part.role.borrow_mut();
        let Role::Follower(f) = &mut *role else { return };
        if f.in_flight != Some(fetch_id) {
            return;
        }
        f.in_flight = None;
        f.state.handle(now_ms(), FollowerEvent::FetchResponse { fetch_id, response })
    };
    let mut batches = batches;
    for command in commands {
        match command {
            FollowerCommand::Append { .. } => {
                if let Some(b) = batches.take() {
                    match part.log.stage_replica(b).await {
                        Ok(staged) => {
                            let (part, synced) = (part.clone(), synced.clone());
                            corelog_runtime::spawn_detached(async move {
                                if let Err(e) = part.log.finish_replica_append(staged).await {
                                    tracing::warn!(topic = %part.topic, partition = part.id, error = %e,
                                        "replica append failed");
                                }
                                follower_event(
                                    &part,
                                    FollowerEvent::LocalDurable { durable_end: part.log.high_watermark() },
                                );
                                synced.notify();
                            });
                        }
                        Err(e) => {
                            tracing::warn!(topic = %part.topic, partition = part.id, error = %e,
                                "replica append refused; following again from the log's end");
                            super::refollow(part);
                            return;
                        }
                    }
                }
            }
            FollowerCommand::Truncate { to } => {
                if let Err(e) = part.log.truncate_to(to).await {
                    tracing::warn!(topic = %part.topic, partition = part.id, error = %e, "truncation failed");
                    super::refollow(part);
                    return;
                }
            }
            FollowerCommand::TruncateFully { log_start_offset } => {
                tracing::info!(topic = %part.topic, partition = part.id, log_start_offset,
                    "the leader's log starts past this replica's end: emptying it to replicate from there");
                if let Err(e) = part.log.restart_at(log_start_offset).await {
                    tracing::warn!(topic = %part.topic, partition = part.id, error = %e, "restarting the log failed");
                    super::refollow(part);
                    return;
                }
            }
            FollowerCommand::HighWatermarkChanged(hw) => part.log.set_replicated_high_watermark(hw),
            FollowerCommand::Fetch { fetch_id, request, .. } => {
                if let Role::Follower(f) = &mut *part.role.borrow_mut() {
                    f.wanted = Some((fetch_id, request));
                }
            }
            FollowerCommand::RejectedResponse { reason } => {
                tracing::debug!(topic = %part.topic, partition = part.id, %reason, "replica fetch answer ignored");
            }
        }
    }
    follower_event(part, FollowerEvent::LocalDurable { durable_end: part.log.high_watermark() });
}

/// The state machine's view of a wire answer, and its batches checked.
fn to_response(
    part: &Partition,
    answer: &FetchPartitionResponse,
) -> Result<(FetchResponse, Option<ValidBatches>), String> {
    match answer.error {
        ErrorCode::None => {}
        ErrorCode::OffsetOutOfRange => {
            let r = FetchResponse::OffsetOutOfRange {
                log_start_offset: answer.log_start_offset,
                log_end_offset: answer.log_end_offset,
            };
            return Ok((r, None));
        }
        ErrorCode::FencedLeaderEpoch => return Ok((FetchResponse::Error(FetchError::FencedLeaderEpoch), None)),
        ErrorCode::UnknownLeaderEpoch => return Ok((FetchResponse::Error(FetchError::UnknownLeaderEpoch), None)),
        _ => return Ok((FetchResponse::Error(FetchError::NotLeader), None)),
    };
    if let Some(d) = answer.diverging_epoch {
        let r = FetchResponse::Diverging {
            epoch: d.epoch,
            end_offset: d.end_offset,
            high_watermark: answer.high_watermark,
        };
        return Ok((r, None));
    }
    let bytes = answer.records.to_bytes();
    if bytes.is_empty() {
        let r = FetchResponse::Records {
            high_watermark: answer.high_watermark,
            log_start_offset: answer.log_start_offset,
            batches: Vec::new(),
        };
        return Ok((r, None));
    }
    let max = part.log.config().max_batch_bytes;
    let valid = ValidBatches::from_network(bytes, max).map_err(|e| e.to_string())?;
    let batches = valid
        .iter()
        .map(|b| {
            let h = b.header();
            BatchMeta { base_offset: h.base_offset(), last_offset: h.last_offset(), leader_epoch: h.leader_epoch() }
        })
        .collect();
    let r = FetchResponse::Records {
        high_watermark: answer.high_watermark,
        log_start_offset: answer.log_start_offset,
        batches,
    };
    Ok((r, Some(valid)))
}
