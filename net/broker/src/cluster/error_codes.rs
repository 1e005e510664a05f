//! The wire code of a refused metadata command. Computed on the controller
//! core that answers the ControllerWrite.

use corelog_protocol::ErrorCode;
use corelog_replication::metadata::cluster::ClusterError;
use corelog_replication::metadata::MetadataError;

/// The ErrorCode a ControllerWrite answers with when `apply` refused it.
pub fn error_code(err: &ClusterError) -> ErrorCode {
    match err {
        ClusterError::Metadata(m) => match m {
            MetadataError::TopicExists(_) => ErrorCode::TopicAlreadyExists,
            MetadataError::UnknownTopic(_) => ErrorCode::UnknownTopic,
            MetadataError::InvalidTopicName(_) => ErrorCode::InvalidTopicName,
            MetadataError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
            MetadataError::InvalidConfig(_) => ErrorCode::InvalidConfig,
            MetadataError::Storage(_) | MetadataError::CannotOpenPartition { .. } => ErrorCode::StorageError,
        },
        ClusterError::UnknownPartition { .. } => ErrorCode::UnknownPartition,
        ClusterError::InvalidReplicationFactor(_) => ErrorCode::InvalidReplicationFactor,
        ClusterError::InvalidRegistration(_)
        | ClusterError::InvalidIsr { .. }
        | ClusterError::InvalidTopicId { .. } => ErrorCode::InvalidRequest,
        ClusterError::UnknownBroker(_) => ErrorCode::UnknownBroker,
        ClusterError::StaleBrokerEpoch { .. } => ErrorCode::StaleBrokerEpoch,
        ClusterError::FencedLeaderEpoch { .. } => ErrorCode::FencedLeaderEpoch,
        ClusterError::InvalidUpdateVersion { .. } => ErrorCode::InvalidUpdateVersion,
        // Kafka's NOT_LEADER_OR_FOLLOWER: the sender does not lead the partition.
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
            assert_eq!(error_code(&err), code, "{err}");
        }
    }
}
