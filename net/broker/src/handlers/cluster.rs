//! DescribeCluster and ElectLeaders, and the answer to controller apis sent
//! to a client endpoint.
//!
//! A broker started without `--controllers` is a one-node cluster: it is
//! its own controller, its only broker, and every partition's only replica
//! (replication factor 1), so it leads every partition at epoch 0 and a
//! preferred election never has anything to do.

use crate::context::ServerContext;
use crate::shard::Shard;
use corelog_protocol::{
    ClusterBroker, DescribeClusterResponse, ElectLeadersRequest, ElectLeadersResponse, ElectPartitionResult,
    ElectTopicResult, ElectionKind, ErrorCode, Request, Response,
};

pub fn describe_cluster(shard: &Shard, context: &ServerContext) -> DescribeClusterResponse {
    let node_id = context.config.node_id;
    DescribeClusterResponse {
        error: ErrorCode::None,
        error_message: None,
        controller_leader: Some(node_id),
        controllers: vec![node_id],
        metadata_version: shard.metadata().version,
        brokers: vec![ClusterBroker {
            node_id,
            host: context.config.host.clone(),
            base_port: context.config.base_port,
            cores: context.cores,
            fenced: false,
            broker_epoch: 0,
        }],
    }
}

/// Every named partition already has its preferred (only) replica as
/// leader; unknown ones are named as such.
pub fn elect_leaders(request: ElectLeadersRequest, shard: &Shard, context: &ServerContext) -> ElectLeadersResponse {
    let snapshot = shard.metadata();
    let node_id = context.config.node_id;
    let topics = request
        .topics
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let count = snapshot.topics.get(&t.name).map(|topic| topic.partitions.len() as u32);
            let partitions = t
                .partitions
                .into_iter()
                .map(|partition| {
                    let (error, message, leader) = match count {
                        None => (ErrorCode::UnknownTopic, format!("unknown topic {:?}", t.name), None),
                        Some(n) if partition >= n => (
                            ErrorCode::UnknownPartition,
                            format!("topic {:?} has no partition {partition}", t.name),
                            None,
                        ),
                        Some(_) => match request.kind {
                            ElectionKind::Preferred => (
                                ErrorCode::ElectionNotNeeded,
                                format!("{}/{partition}: its preferred replica {node_id} leads it", t.name),
                                Some(node_id),
                            ),
                            ElectionKind::Unclean => (
                                ErrorCode::ElectionNotNeeded,
                                format!("{}/{partition} has a leader ({node_id})", t.name),
                                Some(node_id),
                            ),
                        },
                    };
                    ElectPartitionResult { partition, error, error_message: Some(message), leader }
                })
                .collect();
            ElectTopicResult { name: t.name, partitions }
        })
        .collect();
    ElectLeadersResponse { error: ErrorCode::None, error_message: None, topics }
}

/// Controller apis are served on a controller's controller port only.
pub fn not_on_client_endpoint(request: &Request) -> Response {
    request.error_response(
        ErrorCode::NotController,
        format!(
            "{} is a controller api: it is served on a controller's controller port, not on a client endpoint",
            request.api_key()
        ),
    )
}
