//! The group requests: FindCoordinator (any core) and every coordinator api
//! (the group's coordinator core only).
//!
//! Any group request first makes sure `__consumer_offsets` exists (creating
//! it on first use). A request for one group that another core coordinates
//! gets `NotCoordinator` naming that core; DescribeGroups and DeleteGroups
//! answer `NotCoordinator` per group; ListGroups lists this core's groups
//! only (a tool asks every core endpoint from the metadata and merges). A
//! request for a group whose partition is still being replayed waits for the
//! replay (up to [`LOAD_WAIT`], then `CoordinatorNotAvailable`, retriable).

use std::collections::BTreeSet;
use std::time::Instant;

use super::runtime::GroupRuntime;
use super::topic;
use crate::context::ServerContext;
use crate::limits::LOAD_WAIT;
use corelog_coordinator::coordinator_partition;
use corelog_protocol::{Endpoint, ErrorCode, FindCoordinatorRequest, FindCoordinatorResponse, Request, Response};

/// FindCoordinator: the endpoint of the core owning the group's partition.
pub async fn find_coordinator(request: FindCoordinatorRequest, context: &ServerContext) -> FindCoordinatorResponse {
    let groups = &context.groups;
    let failed = |error: ErrorCode, message: String| FindCoordinatorResponse {
        error,
        error_message: Some(message),
        coordinator: None,
    };
    if request.group_id.is_empty() {
        return failed(ErrorCode::InvalidRequest, "the group id must not be empty".into());
    }
    if let Err(message) = topic::ensure(groups.shard(), groups.settings().offsets_partitions).await {
        return failed(ErrorCode::CoordinatorNotAvailable, message);
    }
    groups.refresh();
    match groups.owner(&request.group_id) {
        Some((_, coordinator)) => {
            FindCoordinatorResponse { error: ErrorCode::None, error_message: None, coordinator: Some(coordinator) }
        }
        None => failed(ErrorCode::CoordinatorNotAvailable, "the offsets topic has no owner for this group yet".into()),
    }
}

/// A coordinator api request (JoinGroup … DeleteGroups): answered by this
/// core's coordinator, possibly much later (held joins and syncs).
pub async fn handle(request: Request, client_host: &str, context: &ServerContext) -> Response {
    let groups = &context.groups;
    if let Err(message) = topic::ensure(groups.shard(), groups.settings().offsets_partitions).await {
        return request.error_response(ErrorCode::CoordinatorNotAvailable, message);
    }
    groups.refresh();
    if let Some(group) = single_group(&request) {
        let here =
            |owner: &Endpoint| owner.node_id == context.config.node_id && u32::from(owner.core_id) == context.core;
        if let Some((partition, owner)) = groups.owner(group).filter(|(_, owner)| !here(owner)) {
            let message = format!(
                "group {group:?} (partition {partition} of the offsets topic) is coordinated by node {} core {} at \
                 {}:{}; ask FindCoordinator",
                owner.node_id, owner.core_id, owner.host, owner.port
            );
            return request.error_response(ErrorCode::NotCoordinator, message);
        }
    }
    wait_for_loads(&request, groups).await;
    groups.call(request, client_host).await
}

/// The one group a request is about (None for ListGroups, DescribeGroups and
/// DeleteGroups, which name any number).
fn single_group(request: &Request) -> Option<&str> {
    Some(match request {
        Request::JoinGroup(r) => &r.group_id,
        Request::SyncGroup(r) => &r.group_id,
        Request::Heartbeat(r) => &r.group_id,
        Request::LeaveGroup(r) => &r.group_id,
        Request::OffsetCommit(r) => &r.group_id,
        Request::OffsetFetch(r) => &r.group_id,
        _ => return None,
    })
}

/// Waits (up to [`LOAD_WAIT`] in all) for the local partitions the request
/// touches to finish loading.
async fn wait_for_loads(request: &Request, groups: &GroupRuntime) {
    let p = groups.offsets_partitions();
    let partitions: BTreeSet<u32> = match request {
        Request::ListGroups(_) => groups.loading_partitions().into_iter().collect(),
        Request::DescribeGroups(r) => r.group_ids.iter().map(|g| coordinator_partition(g, p)).collect(),
        Request::DeleteGroups(r) => r.group_ids.iter().map(|g| coordinator_partition(g, p)).collect(),
        other => single_group(other).map(|g| coordinator_partition(g, p)).into_iter().collect(),
    };
    let deadline = Instant::now() + LOAD_WAIT;
    for partition in partitions {
        if let Some(loaded) = groups.loaded(partition) {
            let left = deadline.saturating_duration_since(Instant::now());
            if corelog_runtime::timeout(left, loaded).await.is_none() {
                return; // the coordinator answers CoordinatorNotAvailable
            }
        }
    }
}
