//! Routes a decoded Kafka request to its handler.

use super::{admin, fetch, groups, init_producer_id, leader_epoch, list_offsets, metadata, produce};
use crate::context::ServerContext;
use crate::shard::Shard;
use corelog_kafka_protocol::{Request, RequestBody, ResponseBody};

/// What the connection does with a request.
///
/// Lives on: the core serving the connection.
pub enum Outcome {
    Respond(ResponseBody),
    /// acks=0 produce.
    NoResponse,
}

/// Serves one request from a client at `client_host`; `frame_len` is the
/// size of the frame it came in (size prefix included).
pub async fn handle(
    request: Request,
    frame_len: usize,
    shard: &Shard,
    context: &ServerContext,
    client_host: &str,
) -> Outcome {
    let version = request.header.api_version;
    let client_id = request.header.client_id.clone().unwrap_or_default();
    Outcome::Respond(match request.body {
        // A big frame was read to its own buffer, so its batches may stay
        // in it (the native rule: `handlers::produce::keeps_frame`).
        RequestBody::Produce(r) => match produce::handle(r, frame_len, shard, context).await {
            Some(response) => ResponseBody::Produce(response),
            None => return Outcome::NoResponse,
        },
        RequestBody::ApiVersions(_) => ResponseBody::ApiVersions(metadata::api_versions()),
        RequestBody::Metadata(r) => ResponseBody::Metadata(metadata::metadata(r, shard, context)),
        RequestBody::DescribeCluster(_) => ResponseBody::DescribeCluster(metadata::describe_cluster(shard, context)),
        RequestBody::Fetch(r) => ResponseBody::Fetch(fetch::handle(r, shard, context).await),
        RequestBody::ListOffsets(r) => ResponseBody::ListOffsets(list_offsets::handle(r, shard, context).await),
        RequestBody::FindCoordinator(r) => {
            ResponseBody::FindCoordinator(groups::find_coordinator(r, version, context).await)
        }
        body @ (RequestBody::JoinGroup(_)
        | RequestBody::SyncGroup(_)
        | RequestBody::Heartbeat(_)
        | RequestBody::LeaveGroup(_)
        | RequestBody::OffsetCommit(_)
        | RequestBody::OffsetFetch(_)
        | RequestBody::ListGroups(_)
        | RequestBody::DescribeGroups(_)
        | RequestBody::DeleteGroups(_)) => groups::handle(body, version, &client_id, client_host, context).await,
        RequestBody::InitProducerId(r) => ResponseBody::InitProducerId(init_producer_id::handle(r, shard).await),
        RequestBody::OffsetForLeaderEpoch(r) => ResponseBody::OffsetForLeaderEpoch(leader_epoch::handle(r, shard)),
        RequestBody::CreateTopics(r) => {
            ResponseBody::CreateTopics(admin::create_topics(r, shard, context, client_host).await)
        }
        RequestBody::DeleteTopics(r) => {
            ResponseBody::DeleteTopics(admin::delete_topics(r, version, shard, context, client_host).await)
        }
        RequestBody::CreatePartitions(r) => {
            ResponseBody::CreatePartitions(admin::create_partitions(r, shard, context, client_host).await)
        }
        RequestBody::DescribeConfigs(r) => {
            ResponseBody::DescribeConfigs(admin::describe_configs(r, shard, context, client_host).await)
        }
        RequestBody::IncrementalAlterConfigs(r) => ResponseBody::IncrementalAlterConfigs(
            admin::incremental_alter_configs(r, shard, context, client_host).await,
        ),
    })
}
