//! Committing offsets and reading committed ones, at the group's coordinator.

use std::collections::BTreeMap;

use super::session::{is_coordinator_error, is_transport_error, Rejoin, Session};
use crate::assignors::{to_topic_partitions, TopicPartition};
use crate::error::{ClientError, ClientResult};
use corelog_protocol::{
    ErrorCode, OffsetCommitPartition, OffsetCommitRequest, OffsetCommitTopic, OffsetFetchRequest, OffsetFetchTopic,
    Request, Response, NO_GENERATION,
};

/// Commits `offsets` (the next offset to consume, per partition) with the
/// member's current generation. Coordinator moves and transport failures are
/// retried up to `retries` times; a stale generation or unknown member fails
/// at once and asks `poll` to rejoin.
pub(crate) async fn commit(
    session: &Session,
    offsets: &BTreeMap<TopicPartition, u64>,
    retries: u32,
) -> ClientResult<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut attempt = 0;
    loop {
        let (generation, member_id) = session.membership();
        if generation == NO_GENERATION {
            return Err(ClientError::Broker {
                code: ErrorCode::IllegalGeneration,
                message: Some("not in a generation of the group (rejoining): the offsets cannot be committed".into()),
            });
        }
        let request = commit_request(session.group_id(), generation, &member_id, offsets);
        let error = match session.send(&Request::OffsetCommit(request), session.request_timeout()).await {
            Ok((addr, Response::OffsetCommit(resp))) => {
                let code = if resp.error.is_ok() {
                    resp.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error).find(|e| !e.is_ok())
                } else {
                    Some(resp.error)
                };
                match code {
                    None => {
                        session.record_committed(offsets);
                        return Ok(());
                    }
                    Some(code) => {
                        let e = ClientError::Broker { code, message: resp.error_message };
                        match code {
                            c if is_coordinator_error(c) => session.forget_coordinator(addr),
                            ErrorCode::RebalanceInProgress => {
                                let why = "a commit found the group rebalancing";
                                session.request_rejoin(generation, Rejoin { reason: why, lost: false });
                                return Err(e);
                            }
                            ErrorCode::IllegalGeneration => {
                                session.generation_failed(generation, "a commit found the generation stale", false);
                                return Err(e);
                            }
                            ErrorCode::UnknownMemberId => {
                                session.generation_failed(generation, "a commit found the member unknown", true);
                                return Err(e);
                            }
                            c if c.is_retriable() => {}
                            _ => return Err(e),
                        }
                        e
                    }
                }
            }
            Ok((_, other)) => {
                return Err(ClientError::Protocol(format!("offset commit answered with api {}", other.api_key_raw())))
            }
            Err(e) if is_transport_error(&e) || e.is_retriable() => e,
            Err(e) => return Err(e),
        };
        attempt += 1;
        if attempt > retries {
            return Err(error);
        }
        tracing::debug!(group = session.group_id(), error = %error, attempt, "offset commit failed; retrying");
        corelog_runtime::sleep(session.retry_backoff()).await;
    }
}

pub(crate) fn commit_request(
    group_id: &str,
    generation: i32,
    member_id: &str,
    offsets: &BTreeMap<TopicPartition, u64>,
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitTopic> = Vec::new();
    for (tp, offset) in offsets {
        let p = OffsetCommitPartition { partition: tp.partition, offset: *offset, metadata: String::new() };
        match topics.last_mut().filter(|t| t.name == tp.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(OffsetCommitTopic { name: tp.topic.clone(), partitions: vec![p] }),
        }
    }
    OffsetCommitRequest {
        group_id: group_id.to_owned(),
        generation_id: generation,
        member_id: member_id.to_owned(),
        topics,
    }
}

/// The committed offsets of `partitions` (`None`: the group has committed
/// none for it), retrying coordinator moves and transport failures up to
/// `retries` times.
pub(crate) async fn fetch_committed(
    session: &Session,
    partitions: &[TopicPartition],
    retries: u32,
) -> ClientResult<BTreeMap<TopicPartition, Option<u64>>> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let topics = to_topic_partitions(partitions)
        .into_iter()
        .map(|t| OffsetFetchTopic { name: t.topic, partitions: t.partitions })
        .collect();
    let request =
        Request::OffsetFetch(OffsetFetchRequest { group_id: session.group_id().to_owned(), topics: Some(topics) });
    let mut attempt = 0;
    loop {
        let error = match session.send(&request, session.request_timeout()).await {
            Ok((addr, Response::OffsetFetch(resp))) => {
                if resp.error.is_ok() {
                    let mut out: BTreeMap<TopicPartition, Option<u64>> =
                        partitions.iter().map(|tp| (tp.clone(), None)).collect();
                    let mut failed = None;
                    for t in resp.topics {
                        for p in t.partitions {
                            if !p.error.is_ok() {
                                failed = Some(ClientError::for_partition(p.error, None, &t.name, p.partition, None));
                            }
                            if let Some(slot) = out.get_mut(&TopicPartition::new(t.name.clone(), p.partition)) {
                                *slot = p.offset;
                            }
                        }
                    }
                    match failed {
                        None => return Ok(out),
                        Some(e) if e.is_retriable() => e,
                        Some(e) => return Err(e),
                    }
                } else {
                    let e = ClientError::Broker { code: resp.error, message: resp.error_message };
                    if is_coordinator_error(resp.error) {
                        session.forget_coordinator(addr);
                    } else if !resp.error.is_retriable() {
                        return Err(e);
                    }
                    e
                }
            }
            Ok((_, other)) => {
                return Err(ClientError::Protocol(format!("offset fetch answered with api {}", other.api_key_raw())))
            }
            Err(e) if is_transport_error(&e) || e.is_retriable() => e,
            Err(e) => return Err(e),
        };
        attempt += 1;
        if attempt > retries {
            return Err(error);
        }
        tracing::debug!(group = session.group_id(), error = %error, attempt, "offset fetch failed; retrying");
        corelog_runtime::sleep(session.retry_backoff()).await;
    }
}
