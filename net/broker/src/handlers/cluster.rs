//! DescribeCluster and ElectLeaders, and the answer to controller apis sent
//! to a client endpoint.
//!
//! Both read this core's metadata snapshot; ElectLeaders checks each named
//! partition against it (Kafka's per-partition answers: ElectionNotNeeded,
//! LeaderNotAvailable...), runs the election for the eligible ones through
//! the controller, and answers with the leaders it produced.

use crate::context::ServerContext;
use crate::errors::cluster_error_code;
use crate::shard::Shard;
use corelog_protocol::{
    ClusterBroker, DescribeClusterResponse, ElectLeadersRequest, ElectLeadersResponse, ElectPartitionResult,
    ElectTopicResult, ElectionKind, ErrorCode, Request, Response,
};
use corelog_replication::metadata::cluster::{ClusterError, ClusterMetadata, Command, ElectionKind as Kind};

pub fn describe_cluster(shard: &Shard, context: &ServerContext) -> DescribeClusterResponse {
    let snapshot = shard.metadata();
    DescribeClusterResponse {
        error: ErrorCode::None,
        error_message: None,
        controller_leader: context.controller_id(),
        controllers: context.controllers(),
        metadata_version: snapshot.version,
        brokers: snapshot
            .brokers
            .values()
            .map(|b| ClusterBroker {
                node_id: b.node_id,
                host: b.host.clone(),
                base_port: b.base_port,
                cores: b.cores,
                fenced: b.fenced,
                broker_epoch: b.broker_epoch,
            })
            .collect(),
    }
}

fn kind(kind: ElectionKind) -> Kind {
    match kind {
        ElectionKind::Preferred => Kind::Preferred,
        ElectionKind::Unclean => Kind::Unclean,
    }
}

/// A partition and the leader an election would give it (or why not).
type Planned = (u32, Result<u32, ClusterError>);

/// Each named partition's election (every partition's, for none named).
pub async fn elect_leaders(request: ElectLeadersRequest, shard: &Shard) -> ElectLeadersResponse {
    let snapshot = shard.metadata();
    let kind = kind(request.kind);
    let named: Vec<(String, Vec<u32>)> = match request.topics {
        Some(topics) => topics.into_iter().map(|t| (t.name, t.partitions)).collect(),
        None => snapshot.topics.values().map(|t| (t.name.clone(), (0..t.partitions.len() as u32).collect())).collect(),
    };
    let planned: Vec<(String, Vec<Planned>)> = named
        .into_iter()
        .map(|(topic, partitions)| {
            let outcomes = partitions.into_iter().map(|p| (p, snapshot.election_for(&topic, p, kind))).collect();
            (topic, outcomes)
        })
        .collect();
    let eligible: Vec<(String, u32)> = planned
        .iter()
        .flat_map(|(t, ps)| ps.iter().filter(|(_, o)| o.is_ok()).map(move |(p, _)| (t.clone(), *p)))
        .collect();
    let mut after = None;
    if !eligible.is_empty() {
        match shard.admin(Command::ElectLeaders { partitions: Some(eligible), kind }).await {
            Ok(metadata) => after = Some(metadata),
            Err(e) => {
                return ElectLeadersResponse { error: e.code(), error_message: Some(e.to_string()), topics: Vec::new() }
            }
        }
    }
    let topics = planned
        .into_iter()
        .map(|(name, outcomes)| {
            let partitions = outcomes
                .into_iter()
                .map(|(partition, outcome)| result(&name, partition, outcome, after.as_deref().unwrap_or(&snapshot)))
                .collect();
            ElectTopicResult { name, partitions }
        })
        .collect();
    ElectLeadersResponse { error: ErrorCode::None, error_message: None, topics }
}

/// The answer for one partition, with its leader in `after` (the metadata
/// once the election ran).
fn result(
    topic: &str,
    partition: u32,
    outcome: Result<u32, ClusterError>,
    after: &ClusterMetadata,
) -> ElectPartitionResult {
    let leader = after.partition(topic, partition).ok().and_then(|a| a.leader);
    let (error, error_message) = match outcome {
        Ok(_) => (ErrorCode::None, None),
        Err(e) => (cluster_error_code(&e), Some(e.to_string())),
    };
    ElectPartitionResult { partition, error, error_message, leader }
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
