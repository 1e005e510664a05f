//! corelog's error codes as Kafka error codes: the one place the Kafka
//! listener maps them, so every api answers the same failure alike.

use corelog_kafka_protocol::error_code as kafka;
use corelog_protocol::ErrorCode;

/// The Kafka error code a client acts on for `code` (retriable where
/// corelog's is, so clients retry and refresh metadata the same way).
pub fn kafka_code(code: ErrorCode) -> i16 {
    match code {
        ErrorCode::None => kafka::NONE,
        ErrorCode::UnknownTopic | ErrorCode::UnknownPartition => kafka::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::NotOwner => kafka::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::CorruptBatch | ErrorCode::CorruptMessage => kafka::CORRUPT_MESSAGE,
        ErrorCode::BatchTooLarge => kafka::MESSAGE_TOO_LARGE,
        ErrorCode::InvalidRequest => kafka::INVALID_REQUEST,
        ErrorCode::UnsupportedApi | ErrorCode::UnsupportedVersion => kafka::UNSUPPORTED_VERSION,
        ErrorCode::TopicAlreadyExists => kafka::TOPIC_ALREADY_EXISTS,
        ErrorCode::InvalidTopicName => kafka::INVALID_TOPIC_EXCEPTION,
        ErrorCode::InvalidConfig => kafka::INVALID_CONFIG,
        ErrorCode::InvalidPartitions => kafka::INVALID_PARTITIONS,
        ErrorCode::OffsetOutOfRange => kafka::OFFSET_OUT_OF_RANGE,
        ErrorCode::RequestTimedOut => kafka::REQUEST_TIMED_OUT,
        ErrorCode::NotEnoughReplicas => kafka::NOT_ENOUGH_REPLICAS,
        ErrorCode::NotEnoughReplicasAfterAppend => kafka::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ErrorCode::UnknownMemberId => kafka::UNKNOWN_MEMBER_ID,
        ErrorCode::IllegalGeneration => kafka::ILLEGAL_GENERATION,
        ErrorCode::RebalanceInProgress => kafka::REBALANCE_IN_PROGRESS,
        ErrorCode::CoordinatorNotAvailable => kafka::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::NotCoordinator => kafka::NOT_COORDINATOR,
        ErrorCode::InconsistentGroupProtocol => kafka::INCONSISTENT_GROUP_PROTOCOL,
        ErrorCode::UnknownGroup => kafka::GROUP_ID_NOT_FOUND,
        ErrorCode::GroupNotEmpty => kafka::NON_EMPTY_GROUP,
        ErrorCode::FencedLeaderEpoch => kafka::FENCED_LEADER_EPOCH,
        ErrorCode::UnknownLeaderEpoch => kafka::UNKNOWN_LEADER_EPOCH,
        ErrorCode::NotController => kafka::NOT_CONTROLLER,
        ErrorCode::InvalidReplicationFactor => kafka::INVALID_REPLICATION_FACTOR,
        ErrorCode::LeaderNotAvailable => kafka::LEADER_NOT_AVAILABLE,
        ErrorCode::OutOfOrderSequence => kafka::OUT_OF_ORDER_SEQUENCE_NUMBER,
        ErrorCode::InvalidProducerEpoch => kafka::INVALID_PRODUCER_EPOCH,
        ErrorCode::UnknownProducerId => kafka::UNKNOWN_PRODUCER_ID,
        // A disk failure on this partition: Kafka clients retry it (and
        // refresh metadata) as they do for Kafka's own.
        ErrorCode::StorageError => kafka::KAFKA_STORAGE_ERROR,
        // Broker-to-controller errors a client never causes: Kafka's
        // catch-all, which clients treat as fatal for the request only.
        ErrorCode::UnknownServerError
        | ErrorCode::StaleBrokerEpoch
        | ErrorCode::InvalidUpdateVersion
        | ErrorCode::IneligibleReplica
        | ErrorCode::UnknownBroker
        | ErrorCode::ElectionNotNeeded => kafka::UNKNOWN_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_and_only_none_to_none() {
        for code in ErrorCode::ALL {
            let mapped = kafka_code(code);
            assert_eq!(mapped == kafka::NONE, code == ErrorCode::None, "{code:?}");
            assert!(kafka::name(mapped).is_some(), "{code:?} maps to an unnamed Kafka code {mapped}");
        }
        assert_eq!(kafka_code(ErrorCode::NotOwner), kafka::NOT_LEADER_OR_FOLLOWER);
        assert_eq!(kafka_code(ErrorCode::UnknownGroup), kafka::GROUP_ID_NOT_FOUND);
    }
}
