//! Mapping engine errors to wire error codes.

use corelog_replication::metadata::cluster::ClusterError;
use corelog_replication::metadata::MetadataError;
use corelog_storage::producers::SequenceError;
use corelog_storage::LogError;

use corelog_protocol::ErrorCode;

pub fn log_error_code(e: &LogError) -> ErrorCode {
    match e {
        LogError::InvalidBatch(_) | LogError::NotOneBatch { .. } => ErrorCode::CorruptBatch,
        LogError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        // Damaged stored data: a retry reads the same bytes.
        LogError::CorruptBatch { .. } => ErrorCode::CorruptMessage,
        LogError::Io(_) | LogError::Corrupt { .. } | LogError::Failed(_) => ErrorCode::StorageError,
        LogError::Sequence(SequenceError::OutOfOrderSequence { .. }) => ErrorCode::OutOfOrderSequence,
        LogError::Sequence(SequenceError::InvalidProducerEpoch { .. }) => ErrorCode::InvalidProducerEpoch,
        LogError::Sequence(SequenceError::UnknownProducerId { .. }) => ErrorCode::UnknownProducerId,
        // Answered as a success by the produce handler; never sent as an error.
        LogError::DuplicateBatch { .. } => ErrorCode::None,
    }
}

pub fn metadata_error_code(e: &MetadataError) -> ErrorCode {
    match e {
        MetadataError::TopicExists(_) => ErrorCode::TopicAlreadyExists,
        MetadataError::UnknownTopic(_) => ErrorCode::UnknownTopic,
        MetadataError::InvalidTopicName(_) => ErrorCode::InvalidTopicName,
        MetadataError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
        MetadataError::InvalidConfig(_) => ErrorCode::InvalidConfig,
        MetadataError::Storage(_) | MetadataError::CannotOpenPartition { .. } => ErrorCode::StorageError,
    }
}

pub fn cluster_error_code(e: &ClusterError) -> ErrorCode {
    match e {
        ClusterError::Metadata(e) => metadata_error_code(e),
        ClusterError::UnknownPartition { .. } => ErrorCode::UnknownPartition,
        ClusterError::InvalidReplicationFactor(_) => ErrorCode::InvalidReplicationFactor,
        ClusterError::InvalidRegistration(_)
        | ClusterError::InvalidIsr { .. }
        | ClusterError::InvalidTopicId { .. } => ErrorCode::InvalidRequest,
        ClusterError::UnknownBroker(_) => ErrorCode::UnknownBroker,
        ClusterError::StaleBrokerEpoch { .. } => ErrorCode::StaleBrokerEpoch,
        ClusterError::FencedLeaderEpoch { .. } => ErrorCode::FencedLeaderEpoch,
        ClusterError::InvalidUpdateVersion { .. } => ErrorCode::InvalidUpdateVersion,
        ClusterError::NotLeader { .. } => ErrorCode::NotOwner,
        ClusterError::IneligibleReplica { .. } => ErrorCode::IneligibleReplica,
        ClusterError::ElectionNotNeeded { .. } => ErrorCode::ElectionNotNeeded,
        ClusterError::PreferredLeaderNotAvailable { .. } | ClusterError::EligibleLeadersNotAvailable { .. } => {
            ErrorCode::LeaderNotAvailable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_has_its_code() {
        let cases = [
            (ClusterError::Metadata(MetadataError::TopicExists("t".into())), ErrorCode::TopicAlreadyExists),
            (ClusterError::Metadata(MetadataError::UnknownTopic("t".into())), ErrorCode::UnknownTopic),
            (ClusterError::Metadata(MetadataError::InvalidTopicName("t".into())), ErrorCode::InvalidTopicName),
            (ClusterError::Metadata(MetadataError::InvalidConfig("x".into())), ErrorCode::InvalidConfig),
            (ClusterError::Metadata(MetadataError::InvalidPartitions("x".into())), ErrorCode::InvalidPartitions),
            (ClusterError::InvalidReplicationFactor("3 > 1".into()), ErrorCode::InvalidReplicationFactor),
            (ClusterError::UnknownBroker(4), ErrorCode::UnknownBroker),
            (ClusterError::StaleBrokerEpoch { node_id: 1, current: 3, requested: 2 }, ErrorCode::StaleBrokerEpoch),
            (
                ClusterError::FencedLeaderEpoch { topic: "t".into(), partition: 0, current: 2, requested: 1 },
                ErrorCode::FencedLeaderEpoch,
            ),
            (
                ClusterError::InvalidUpdateVersion { topic: "t".into(), partition: 0, current: 2, requested: 1 },
                ErrorCode::InvalidUpdateVersion,
            ),
            (
                ClusterError::IneligibleReplica { topic: "t".into(), partition: 0, node_id: 3 },
                ErrorCode::IneligibleReplica,
            ),
            (ClusterError::InvalidRegistration("cores".into()), ErrorCode::InvalidRequest),
        ];
        for (err, code) in cases {
            assert_eq!(cluster_error_code(&err), code, "{err}");
        }
    }
}
