//! Metadata and ApiVersions: answered by any core from its snapshot.

use crate::shard::{Locate, Shard};

use crate::context::ServerContext;
use corelog_protocol::{
    supported_api_versions, ApiVersionsResponse, ErrorCode, MetadataRequest, MetadataResponse, PartitionMetadata,
    TopicMetadata,
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
                    .map(|(p, core)| {
                        // Offsets are known only for partitions this core serves.
                        let (start, end) = match shard.locate(&name, p as u32) {
                            Locate::Local(part) => (Some(part.log.log_start_offset()), Some(part.log.high_watermark())),
                            _ => (None, None),
                        };
                        PartitionMetadata {
                            partition: p as u32,
                            error: ErrorCode::None,
                            owner: Some(context.endpoint(*core)),
                            // A one-node cluster: this broker is the only
                            // replica and has led from the start.
                            leader_epoch: 0,
                            replicas: vec![context.config.node_id],
                            isr: vec![context.config.node_id],
                            log_start_offset: start,
                            log_end_offset: end,
                        }
                    })
                    .collect();
                TopicMetadata { name, error: ErrorCode::None, partitions }
            }
        })
        .collect();
    MetadataResponse {
        error: ErrorCode::None,
        error_message: None,
        brokers: vec![context.broker_metadata()],
        topics,
        controller_id: Some(context.config.node_id),
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
