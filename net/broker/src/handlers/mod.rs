//! Request handlers: one file per API group. Each takes a decoded request
//! and returns the response; none of them panics on what a client sends.

mod admin;
mod cluster;
mod configs;
mod fetch;
mod list_offsets;
mod metadata;
pub(crate) mod produce;
mod producer_id;

pub(crate) use admin::new_topic_id;

use std::rc::Rc;

use crate::shard::{Locate, Partition, Shard};

use super::context::ServerContext;
use super::groups;
use corelog_protocol::{Endpoint, ErrorCode, Request, Response};

/// Serves one request, which arrived in a frame of `frame_len` bytes, from a
/// client at `client_host`; None when the client wants no response (acks=0).
pub async fn handle(
    request: Request,
    frame_len: usize,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> Option<Response> {
    Some(match request {
        Request::Produce(r) => {
            let stored = produce::RecordsFormat::Stored;
            return produce::handle(r, stored, frame_len, shard, context).await.map(Response::Produce);
        }
        Request::Fetch(r) => Response::Fetch(fetch::handle(r, shard, context).await),
        Request::ListOffsets(r) => Response::ListOffsets(list_offsets::handle(r, shard, context).await),
        Request::Metadata(r) => Response::Metadata(metadata::metadata(r, shard, context)),
        Request::ApiVersions(_) => Response::ApiVersions(metadata::api_versions(context)),
        // Internal topics are the broker's: clients may not create, delete or grow them.
        Request::CreateTopics(mut r) => {
            let rejected = groups::reject_internal(&mut r.topics, |t| &t.name);
            let mut response = admin::create_topics(r, shard).await;
            groups::restore_rejected(&mut response.topics, rejected);
            Response::CreateTopics(response)
        }
        Request::DeleteTopics(mut r) => {
            let rejected = groups::reject_internal(&mut r.topics, |t| t);
            let mut response = admin::delete_topics(r, shard).await;
            groups::restore_rejected(&mut response.topics, rejected);
            Response::DeleteTopics(response)
        }
        Request::CreatePartitions(mut r) => {
            let rejected = groups::reject_internal(&mut r.topics, |t| &t.name);
            let mut response = admin::create_partitions(r, shard).await;
            groups::restore_rejected(&mut response.topics, rejected);
            Response::CreatePartitions(response)
        }
        Request::DescribeConfigs(r) => Response::DescribeConfigs(configs::describe(r, shard)),
        Request::AlterConfigs(r) => Response::AlterConfigs(configs::alter(r, shard).await),
        // Consumer groups: any core finds the coordinator; the rest goes to it.
        Request::FindCoordinator(r) => Response::FindCoordinator(groups::handlers::find_coordinator(r, context).await),
        r @ (Request::JoinGroup(_)
        | Request::SyncGroup(_)
        | Request::Heartbeat(_)
        | Request::LeaveGroup(_)
        | Request::OffsetCommit(_)
        | Request::OffsetFetch(_)
        | Request::ListGroups(_)
        | Request::DescribeGroups(_)
        | Request::DeleteGroups(_)) => groups::handlers::handle(r, client_host, context).await,
        Request::DescribeCluster(_) => Response::DescribeCluster(cluster::describe_cluster(shard, context)),
        Request::ElectLeaders(r) => Response::ElectLeaders(cluster::elect_leaders(r, shard).await),
        Request::InitProducerId(_) => Response::InitProducerId(producer_id::init_producer_id(shard).await),
        r @ (Request::ControllerWrite(_)
        | Request::BrokerHeartbeat(_)
        | Request::MetadataUpdate(_)
        | Request::RaftMessage(_)) => cluster::not_on_client_endpoint(&r),
    })
}

/// A partition this core serves, or the error (and the right endpoint when
/// another core owns it) to answer with.
pub(super) fn local_partition(
    shard: &Shard,
    topic: &str,
    partition: u32,
) -> Result<Rc<Partition>, (ErrorCode, Option<Endpoint>, String)> {
    match shard.locate(topic, partition) {
        Locate::Local(p) => Ok(p),
        Locate::Elsewhere(leader) => {
            let message = format!(
                "{topic}/{partition} is led by node {} core {} at {}:{}",
                leader.node_id, leader.core_id, leader.host, leader.port
            );
            Err((ErrorCode::NotOwner, Some(leader), message))
        }
        Locate::NoLeader => {
            Err((ErrorCode::LeaderNotAvailable, None, format!("{topic}/{partition} has no leader right now")))
        }
        Locate::UnknownTopic => Err((ErrorCode::UnknownTopic, None, format!("unknown topic {topic:?}"))),
        Locate::UnknownPartition => {
            Err((ErrorCode::UnknownPartition, None, format!("topic {topic:?} has no partition {partition}")))
        }
    }
}
