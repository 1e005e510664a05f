//! Metadata and ApiVersions: answered by any core from its snapshot.

use crate::shard::state::endpoint_of;
use crate::shard::{Locate, Shard};

use crate::context::ServerContext;
use corelog_protocol::{
    supported_api_versions, ApiVersionsResponse, BrokerMetadata, CoreEndpoint, ErrorCode, MetadataRequest,
    MetadataResponse, PartitionMetadata, TopicMetadata,
};

pub fn metadata(request: MetadataRequest, shard: &Shard, context: &ServerContext) -> MetadataResponse {
    let snapshot = shard.metadata();
    let names: Vec<String> = match request.topics {
        Some(names) => names,
        None => snapshot.topics.keys().cloned().collect(),
    };
    let topics = names
        .into_iter()
        .map(|name| match snapshot.topics.get(&name) {
            None => TopicMetadata { name, error: ErrorCode::UnknownTopic, partitions: Vec::new() },
            Some(topic) => {
                let partitions = topic
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(p, assignment)| {
                        // Offsets are known only for partitions this core leads.
                        let (start, end) = match shard.locate(&name, p as u32) {
                            Locate::Local(part) => (Some(part.log.log_start_offset()), Some(part.log.high_watermark())),
                            _ => (None, None),
                        };
                        let owner = assignment.leader.and_then(|l| endpoint_of(&snapshot, l, assignment.core));
                        PartitionMetadata {
                            partition: p as u32,
                            error: if owner.is_some() { ErrorCode::None } else { ErrorCode::LeaderNotAvailable },
                            owner,
                            leader_epoch: assignment.leader_epoch,
                            replicas: assignment.replicas.clone(),
                            isr: assignment.isr.clone(),
                            log_start_offset: start,
                            log_end_offset: end,
                        }
                    })
                    .collect();
                TopicMetadata { name, error: ErrorCode::None, partitions }
            }
        })
        .collect();
    let brokers = snapshot
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| BrokerMetadata {
            node_id: b.node_id,
            host: b.host.clone(),
            endpoints: (0..b.cores)
                .filter_map(|c| Some(CoreEndpoint { core_id: c as u16, port: b.port_of(c)? }))
                .collect(),
        })
        .collect();
    MetadataResponse {
        error: ErrorCode::None,
        error_message: None,
        brokers,
        topics,
        controller_id: context.controller_id(),
    }
}

pub fn api_versions(context: &ServerContext) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error: ErrorCode::None,
        error_message: None,
        node_id: context.config.node_id,
        api_versions: supported_api_versions(),
    }
}
