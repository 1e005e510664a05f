//! Joining the group: JoinGroup (held until the generation forms), the
//! leader's assignment, SyncGroup, then the committed offsets of the
//! partitions received. Runs as a task of its own, so `poll` can keep its
//! timeout while the coordinator holds the requests.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::commit::fetch_committed;
use super::session::{is_coordinator_error, is_transport_error, Session};
use crate::assignors::{from_topic_partitions, to_topic_partitions, Assignor, MemberSubscription, TopicPartition};
use crate::error::{ClientError, ClientResult};
use crate::metadata::Cluster;
use corelog_protocol::consumer_protocol::{Assignment, Subscription, CONSUMER_PROTOCOL_TYPE};
use corelog_protocol::{
    ErrorCode, JoinGroupMember, JoinGroupProtocol, JoinGroupRequest, Request, Response, SyncGroupAssignment,
    SyncGroupRequest,
};

/// What a join needs.
pub(crate) struct JoinParams {
    pub session: Session,
    pub client_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub assignors: Vec<Assignor>,
    pub topics: Vec<String>,
    /// The partitions of the member's last generation, and that generation
    /// (for the sticky assignor).
    pub owned: Vec<TopicPartition>,
    pub owned_generation: i32,
    /// Retries of the committed-offsets lookup.
    pub retries: u32,
}

/// A completed join: the member's generation, its partitions and where
/// each starts.
#[derive(Debug)]
pub(crate) struct Joined {
    pub generation: i32,
    pub member_id: String,
    pub leader: bool,
    pub protocol: String,
    pub assignment: Vec<TopicPartition>,
    pub committed: BTreeMap<TopicPartition, Option<u64>>,
    /// For the leader: the partition count of every topic the group
    /// subscribes to, as the assignment used them (it watches them).
    pub partition_counts: Option<BTreeMap<String, u32>>,
}

/// Joins and syncs until a generation gives this member an assignment.
/// Coordinator moves, transport failures and rebalances restart the join
/// (an unknown member id joins as a new member); anything else (e.g. no
/// assignor in common with the group) fails.
pub(crate) async fn join(params: JoinParams) -> ClientResult<Joined> {
    let session = &params.session;
    let group = session.group_id().to_owned();
    let held_timeout = params.rebalance_timeout + session.request_timeout();
    let backoff = session.retry_backoff();
    loop {
        // Join.
        let member_id = session.member_id();
        let request = Request::JoinGroup(JoinGroupRequest {
            group_id: group.clone(),
            session_timeout_ms: millis(params.session_timeout),
            rebalance_timeout_ms: millis(params.rebalance_timeout),
            member_id: member_id.clone(),
            client_id: params.client_id.clone(),
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
            protocols: params
                .assignors
                .iter()
                .map(|a| JoinGroupProtocol { name: a.name().to_owned(), metadata: subscription(&params, *a) })
                .collect(),
        });
        tracing::debug!(%group, %member_id, "joining the group");
        let joined = match session.send(&request, held_timeout).await {
            Ok((addr, Response::JoinGroup(resp))) => match resp.error {
                ErrorCode::None => resp,
                ErrorCode::UnknownMemberId => {
                    tracing::debug!(%group, %member_id, "the coordinator does not know this member; joining as new");
                    session.reset_member();
                    continue;
                }
                code if is_coordinator_error(code) => {
                    session.forget_coordinator(addr);
                    corelog_runtime::sleep(backoff).await;
                    continue;
                }
                code if code.is_retriable() || code == ErrorCode::IllegalGeneration => {
                    tracing::debug!(%group, error = %code, "join refused; retrying");
                    corelog_runtime::sleep(backoff).await;
                    continue;
                }
                code => return Err(ClientError::Broker { code, message: resp.error_message }),
            },
            Ok((_, other)) => return Err(wrong_api("join group", &other)),
            Err(e) if is_transport_error(&e) || e.is_retriable() => {
                tracing::debug!(%group, error = %e, "join failed; retrying");
                corelog_runtime::sleep(backoff).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        session.set_membership(&joined.member_id, joined.generation_id);
        let generation = joined.generation_id;
        let leader = joined.is_leader();
        tracing::debug!(%group, member_id = %joined.member_id, generation, leader, protocol = %joined.protocol_name, "joined");

        // The leader assigns.
        let (assignments, partition_counts) = if leader {
            let (assignments, counts) = assign(session.cluster(), &joined.protocol_name, &joined.members).await?;
            (assignments, Some(counts))
        } else {
            (Vec::new(), None)
        };

        // Sync.
        let request = Request::SyncGroup(SyncGroupRequest {
            group_id: group.clone(),
            generation_id: generation,
            member_id: joined.member_id.clone(),
            assignments,
        });
        let synced = match session.send(&request, held_timeout).await {
            Ok((addr, Response::SyncGroup(resp))) => match resp.error {
                ErrorCode::None => resp,
                ErrorCode::UnknownMemberId => {
                    session.reset_member();
                    continue;
                }
                ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration => continue,
                code if is_coordinator_error(code) => {
                    session.forget_coordinator(addr);
                    corelog_runtime::sleep(backoff).await;
                    continue;
                }
                code if code.is_retriable() => {
                    corelog_runtime::sleep(backoff).await;
                    continue;
                }
                code => return Err(ClientError::Broker { code, message: resp.error_message }),
            },
            Ok((_, other)) => return Err(wrong_api("sync group", &other)),
            Err(e) if is_transport_error(&e) || e.is_retriable() => {
                corelog_runtime::sleep(backoff).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let assignment = Assignment::decode(&synced.assignment)
            .map_err(|e| ClientError::Protocol(format!("the group leader's assignment does not decode: {e}")))?;
        let assignment = from_topic_partitions(&assignment.partitions);

        // Where each partition starts.
        let committed = match fetch_committed(session, &assignment, params.retries).await {
            Ok(committed) => committed,
            Err(e) if is_transport_error(&e) || e.is_retriable() => {
                tracing::debug!(%group, error = %e, "reading committed offsets failed; rejoining");
                continue;
            }
            Err(e) => return Err(e),
        };
        return Ok(Joined {
            generation,
            member_id: joined.member_id,
            leader,
            protocol: joined.protocol_name,
            assignment,
            committed,
            partition_counts,
        });
    }
}

/// The member's subscription for `assignor`, encoded.
fn subscription(params: &JoinParams, assignor: Assignor) -> Vec<u8> {
    Subscription {
        topics: params.topics.clone(),
        user_data: assignor.user_data(params.owned_generation),
        owned_partitions: to_topic_partitions(&params.owned),
    }
    .encode()
}

/// The leader's work: every member's assignment with the chosen assignor,
/// over fresh partition counts of every topic any member subscribes to.
async fn assign(
    cluster: &Cluster,
    protocol: &str,
    members: &[JoinGroupMember],
) -> ClientResult<(Vec<SyncGroupAssignment>, BTreeMap<String, u32>)> {
    let assignor = Assignor::from_name(protocol).ok_or_else(|| {
        ClientError::Protocol(format!("the coordinator chose assignor {protocol:?}, which this member did not offer"))
    })?;
    let subscriptions: BTreeMap<String, MemberSubscription> = members
        .iter()
        .map(|m| {
            let sub = Subscription::decode(&m.metadata).unwrap_or_else(|e| {
                tracing::warn!(member = %m.member_id, error = %e, "undecodable subscription; assigning it nothing");
                Subscription::default()
            });
            (m.member_id.clone(), MemberSubscription::from_subscription(&sub))
        })
        .collect();
    let topics: BTreeSet<&str> = subscriptions.values().flat_map(|s| s.topics.iter().map(String::as_str)).collect();
    let counts = partition_counts(cluster, &topics).await;
    let assignment = assignor.assign(&counts, &subscriptions);
    tracing::debug!(%assignor, members = members.len(), ?counts, "assigned the group's partitions");
    let assignments = assignment
        .into_iter()
        .map(|(member_id, tps)| SyncGroupAssignment {
            member_id,
            assignment: Assignment { partitions: to_topic_partitions(&tps), user_data: Vec::new() }.encode(),
        })
        .collect();
    Ok((assignments, counts))
}

/// Fresh partition counts of `topics` (0 for a topic that does not exist).
pub(crate) async fn partition_counts(cluster: &Cluster, topics: &BTreeSet<&str>) -> BTreeMap<String, u32> {
    let names: Vec<&str> = topics.iter().copied().collect();
    if !names.is_empty() {
        if let Err(e) = cluster.refresh_topics(&names).await {
            tracing::debug!(error = %e, "metadata refresh failed; using the cached partition counts");
        }
    }
    names.into_iter().map(|t| (t.to_owned(), cluster.topic(t).map_or(0, |info| info.partition_count()))).collect()
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn wrong_api(what: &str, response: &Response) -> ClientError {
    ClientError::Protocol(format!("{what} answered with api {}", response.api_key_raw()))
}
