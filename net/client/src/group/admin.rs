//! Consumer-group administration on [`Admin`]: list, describe and delete
//! groups, read a group's committed offsets and reset them.
//!
//! ListGroups is answered by each core for the groups it coordinates, so
//! [`Admin::list_groups`] asks every core endpoint of every broker and
//! merges. The other requests go to the group's coordinator (found with
//! FindCoordinator); `NotCoordinator` / `CoordinatorNotAvailable` answers and
//! transport failures are retried within the client's request timeout.

use futures::future::join_all;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use super::commit::commit_request;
use super::session::{find_coordinator, is_coordinator_error, is_transport_error};
use crate::admin::Admin;
use crate::assignors::{from_topic_partitions, TopicPartition};
use crate::error::{ClientError, ClientResult};
use crate::metadata::resolve;
use corelog_protocol::consumer_protocol::{Assignment, Subscription};
use corelog_protocol::{
    DeleteGroupsRequest, DescribeGroupsRequest, ErrorCode, GroupState, ListGroupsRequest, OffsetFetchRequest, Request,
    Response, NO_GENERATION, OFFSETS_TOPIC,
};

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Its state.
    pub state: GroupState,
    /// `"consumer"` for consumer groups; `""` for a group that only stores
    /// offsets (committed by standalone consumers or tools).
    pub protocol_type: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member id.
    pub member_id: String,
    /// The member's client id.
    pub client_id: String,
    /// The member's address, as the coordinator saw it.
    pub host: String,
    /// The topics it subscribes to (from its consumer-protocol metadata).
    pub topics: Vec<String>,
    /// Its partitions (empty unless the group is Stable).
    pub assignment: Vec<TopicPartition>,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// Its state.
    pub state: GroupState,
    /// Protocol type (`"consumer"`, or `""` for an offsets-only group).
    pub protocol_type: String,
    /// The assignor of the current generation (`""` while none is chosen).
    pub protocol: String,
    /// The current generation.
    pub generation: i32,
    /// The endpoint of the core coordinating it.
    pub coordinator: SocketAddr,
    /// Its members, by member id.
    pub members: Vec<GroupMember>,
}

impl Admin {
    /// Every group of every coordinator, by id (asks every core endpoint).
    pub async fn list_groups(&self) -> ClientResult<Vec<GroupListing>> {
        if !self.any_group_exists().await? {
            return Ok(Vec::new());
        }
        let cluster = self.cluster();
        if cluster.brokers().is_empty() {
            cluster.refresh().await?;
        }
        let mut endpoints: Vec<SocketAddr> = cluster
            .brokers()
            .iter()
            .flat_map(|b| b.endpoints.iter().filter_map(|e| resolve(&b.host, e.port)).collect::<Vec<_>>())
            .collect();
        endpoints.sort();
        endpoints.dedup();
        if endpoints.is_empty() {
            return Err(ClientError::NoBrokers("the metadata lists no endpoints".into()));
        }
        let answers = join_all(endpoints.iter().map(|addr| self.list_groups_at(*addr))).await;
        let mut groups: BTreeMap<String, GroupListing> = BTreeMap::new();
        for answer in answers {
            for g in answer? {
                groups.insert(g.group_id.clone(), g);
            }
        }
        Ok(groups.into_values().collect())
    }

    /// The groups one core coordinates; retried while it is still loading
    /// its share of `__consumer_offsets`.
    async fn list_groups_at(&self, addr: SocketAddr) -> ClientResult<Vec<GroupListing>> {
        let request = Request::ListGroups(ListGroupsRequest::default());
        let deadline = Instant::now() + self.cluster().config().request_timeout;
        loop {
            let error = match self.cluster().connection(addr).await?.request(&request).await {
                Ok(Response::ListGroups(resp)) if resp.error.is_ok() => {
                    return Ok(resp
                        .groups
                        .into_iter()
                        .map(|g| GroupListing { group_id: g.group_id, state: g.state, protocol_type: g.protocol_type })
                        .collect())
                }
                Ok(Response::ListGroups(resp)) => {
                    let e = ClientError::Broker { code: resp.error, message: resp.error_message };
                    if !resp.error.is_retriable() {
                        return Err(e);
                    }
                    e
                }
                Ok(other) => return Err(wrong_api("list groups", &other)),
                Err(e) if is_transport_error(&e) => e,
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                return Err(error);
            }
            corelog_runtime::sleep(self.cluster().config().retry_backoff).await;
        }
    }

    /// The endpoint of the core coordinating `group_id`.
    pub async fn group_coordinator(&self, group_id: &str) -> ClientResult<SocketAddr> {
        let deadline = Instant::now() + self.cluster().config().request_timeout;
        loop {
            match find_coordinator(self.cluster(), group_id).await {
                Ok(addr) => return Ok(addr),
                Err(e) if (is_transport_error(&e) || e.is_retriable()) && Instant::now() < deadline => {
                    corelog_runtime::sleep(self.cluster().config().retry_backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `group_id`'s state, protocol and members with their subscriptions
    /// and assignments. A group the coordinator does not know fails with the
    /// broker's `UnknownGroup`.
    pub async fn describe_group(&self, group_id: &str) -> ClientResult<GroupDescription> {
        if !self.any_group_exists().await? {
            return Err(unknown_group(ClientError::Broker { code: ErrorCode::UnknownGroup, message: None }, group_id));
        }
        let request = Request::DescribeGroups(DescribeGroupsRequest { group_ids: vec![group_id.to_owned()] });
        let (coordinator, described) = self
            .coordinator_call(group_id, &request, |response| match response {
                Response::DescribeGroups(mut resp) if resp.error.is_ok() => match resp.groups.pop() {
                    Some(g) => Ok((g.error, None, g)),
                    None => Err(ClientError::Protocol("describe groups answered without the group".into())),
                },
                Response::DescribeGroups(resp) => {
                    Err(ClientError::Broker { code: resp.error, message: resp.error_message })
                }
                other => Err(wrong_api("describe groups", &other)),
            })
            .await
            .map_err(|e| unknown_group(e, group_id))?;
        let members = described
            .members
            .into_iter()
            .map(|m| GroupMember {
                topics: Subscription::decode(&m.metadata).map(|s| s.topics).unwrap_or_default(),
                assignment: Assignment::decode(&m.assignment)
                    .map(|a| from_topic_partitions(&a.partitions))
                    .unwrap_or_default(),
                member_id: m.member_id,
                client_id: m.client_id,
                host: m.host,
            })
            .collect();
        Ok(GroupDescription {
            group_id: described.group_id,
            state: described.state,
            protocol_type: described.protocol_type,
            protocol: described.protocol,
            generation: described.generation_id,
            coordinator,
            members,
        })
    }

    /// Deletes `group_id` and its committed offsets. Only a group without
    /// members can be deleted (else the broker's `GroupNotEmpty`).
    pub async fn delete_group(&self, group_id: &str) -> ClientResult<()> {
        if !self.any_group_exists().await? {
            return Err(unknown_group(ClientError::Broker { code: ErrorCode::UnknownGroup, message: None }, group_id));
        }
        let request = Request::DeleteGroups(DeleteGroupsRequest { group_ids: vec![group_id.to_owned()] });
        self.coordinator_call(group_id, &request, |response| match response {
            Response::DeleteGroups(mut resp) if resp.error.is_ok() => match resp.results.pop() {
                Some(r) => Ok((r.error, None, ())),
                None => Err(ClientError::Protocol("delete groups answered without the group".into())),
            },
            Response::DeleteGroups(resp) => Err(ClientError::Broker { code: resp.error, message: resp.error_message }),
            other => Err(wrong_api("delete groups", &other)),
        })
        .await
        .map(|_| ())
        .map_err(|e| unknown_group(e, group_id))
    }

    /// Every offset `group_id` has committed (none for an unknown group).
    pub async fn group_offsets(&self, group_id: &str) -> ClientResult<BTreeMap<TopicPartition, u64>> {
        if !self.any_group_exists().await? {
            return Ok(BTreeMap::new());
        }
        let request = Request::OffsetFetch(OffsetFetchRequest { group_id: group_id.to_owned(), topics: None });
        let (_, resp) = self
            .coordinator_call(group_id, &request, |response| match response {
                Response::OffsetFetch(resp) => Ok((resp.error, resp.error_message.clone(), resp)),
                other => Err(wrong_api("offset fetch", &other)),
            })
            .await?;
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                if !p.error.is_ok() {
                    return Err(ClientError::for_partition(p.error, None, &t.name, p.partition, None));
                }
                if let Some(offset) = p.offset {
                    out.insert(TopicPartition::new(t.name.clone(), p.partition), offset);
                }
            }
        }
        Ok(out)
    }

    /// Commits `offsets` for `group_id` outside group membership (what
    /// `corelog group reset-offsets` does). The coordinator accepts it only
    /// while the group has no members (else `UnknownMemberId`,
    /// `IllegalGeneration` or `RebalanceInProgress`).
    pub async fn reset_group_offsets(
        &self,
        group_id: &str,
        offsets: &BTreeMap<TopicPartition, u64>,
    ) -> ClientResult<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let request = Request::OffsetCommit(commit_request(group_id, NO_GENERATION, "", offsets));
        self.coordinator_call(group_id, &request, |response| match response {
            Response::OffsetCommit(resp) => {
                let code = if resp.error.is_ok() {
                    resp.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error).find(|e| !e.is_ok())
                } else {
                    Some(resp.error)
                };
                Ok((code.unwrap_or(ErrorCode::None), resp.error_message, ()))
            }
            other => Err(wrong_api("offset commit", &other)),
        })
        .await
        .map(|_| ())
    }

    /// Whether any group can exist. The broker creates [`OFFSETS_TOPIC`] on
    /// the first group request (FindCoordinator or a coordinator api); until
    /// then no group has state. The read-only calls ask the metadata first so
    /// that looking at groups creates nothing.
    async fn any_group_exists(&self) -> ClientResult<bool> {
        match self.cluster().topic_metadata(OFFSETS_TOPIC).await {
            Ok(_) => Ok(true),
            Err(ClientError::UnknownTopic(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sends `request` to `group_id`'s coordinator; `extract` turns the
    /// response into (error code, message, value). Coordinator moves and
    /// transport failures are retried within the request timeout.
    async fn coordinator_call<T>(
        &self,
        group_id: &str,
        request: &Request,
        extract: impl Fn(Response) -> ClientResult<(ErrorCode, Option<String>, T)>,
    ) -> ClientResult<(SocketAddr, T)> {
        let deadline = Instant::now() + self.cluster().config().request_timeout;
        loop {
            let addr = self.group_coordinator(group_id).await?;
            let error = match self.cluster().connection(addr).await?.request(request).await {
                Ok(response) => match extract(response)? {
                    (ErrorCode::None, _, value) => return Ok((addr, value)),
                    (code, message, _) if is_coordinator_error(code) => ClientError::Broker { code, message },
                    (code, message, _) => return Err(ClientError::Broker { code, message }),
                },
                Err(e) if is_transport_error(&e) => e,
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                return Err(error);
            }
            corelog_runtime::sleep(self.cluster().config().retry_backoff).await;
        }
    }
}

/// `UnknownGroup` with a message naming the group.
fn unknown_group(e: ClientError, group_id: &str) -> ClientError {
    match e {
        ClientError::Broker { code: ErrorCode::UnknownGroup, message: None } => ClientError::Broker {
            code: ErrorCode::UnknownGroup,
            message: Some(format!("group {group_id:?} does not exist")),
        },
        e => e,
    }
}

fn wrong_api(what: &str, response: &Response) -> ClientError {
    ClientError::Protocol(format!("{what} answered with api {}", response.api_key_raw()))
}
