//! [`ErrorCode`]: the error codes carried in responses (a `u16` on the wire).

use rkyv::rancor::Fallible;
use rkyv::{Archive, Archived, Deserialize, Place, Portable, Serialize};

/// An error code in a response: top-level (request-level) or per item.
///
/// The numbers are the wire format and are stable: never renumber, only append.
/// Codes 18..=25 are the consumer-group apis' (see
/// [`group_membership`](super::group_membership) for what a member does on
/// each). A code this build does not know
/// (sent by a newer peer) decodes as [`ErrorCode::UnknownServerError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u16)]
pub enum ErrorCode {
    /// No error.
    #[default]
    None = 0,
    /// The topic does not exist (or this broker's metadata does not know it yet).
    UnknownTopic = 1,
    /// The topic exists but has no such partition.
    UnknownPartition = 2,
    /// This core does not lead the partition (another core or broker owns
    /// it, or this broker is only a follower of it: Kafka's
    /// NOT_LEADER_OR_FOLLOWER); the response's `current_owner` says which
    /// node/core endpoint leads it, when known. Refresh metadata and retry
    /// there.
    NotOwner = 3,
    /// A record batch failed validation: bad length, CRC or rkyv structure.
    CorruptBatch = 4,
    /// A record batch exceeds the topic's `max.message.bytes`.
    BatchTooLarge = 5,
    /// The request is malformed or violates a protocol limit.
    InvalidRequest = 6,
    /// The api key is not supported by this broker.
    UnsupportedApi = 7,
    /// The api version is not supported by this broker.
    UnsupportedVersion = 8,
    /// CreateTopics for a topic that already exists.
    TopicAlreadyExists = 9,
    /// The topic name is empty, too long, `.`/`..`, or has characters outside
    /// `[a-zA-Z0-9._-]`.
    InvalidTopicName = 10,
    /// A config key is unknown or its value is invalid.
    InvalidConfig = 11,
    /// A partition count is invalid (zero, too many, or not an increase).
    InvalidPartitions = 12,
    /// The fetch offset is outside `[log_start_offset, log_end_offset]`.
    OffsetOutOfRange = 13,
    /// The request did not complete within its timeout.
    RequestTimedOut = 14,
    /// The broker's storage failed (I/O error) for this partition.
    StorageError = 15,
    /// `acks=all` could not be satisfied: too few in-sync replicas.
    NotEnoughReplicas = 16,
    /// An unexpected server error (also what an unknown code decodes as).
    UnknownServerError = 17,
    /// Group api: the member id is not known to the coordinator.
    UnknownMemberId = 18,
    /// Group api: the generation id is stale.
    IllegalGeneration = 19,
    /// Group api: the group is rebalancing; rejoin.
    RebalanceInProgress = 20,
    /// Group api: the coordinator is not available yet.
    CoordinatorNotAvailable = 21,
    /// Group api: this core is not the group's coordinator.
    NotCoordinator = 22,
    /// Group api: the member's protocol does not match the group's.
    InconsistentGroupProtocol = 23,
    /// Group api: the group does not exist.
    UnknownGroup = 24,
    /// Group api: the group still has members (cannot be deleted).
    GroupNotEmpty = 25,
    /// A stored record batch failed its check when read (damaged on disk),
    /// so it was not served (Kafka's CORRUPT_MESSAGE). The message names the
    /// batch's offset and the offset the log is readable again from. Not
    /// retriable: a retry reads the same bytes.
    CorruptMessage = 26,
    /// Replication: the request names a leader epoch older than the
    /// partition's current one (the sender's metadata is stale: refresh it).
    FencedLeaderEpoch = 27,
    /// Replication: the request names a leader epoch newer than this
    /// replica knows (this broker's metadata is behind: retry shortly).
    UnknownLeaderEpoch = 28,
    /// `acks=all`: the batch was appended but the in-sync replicas shrank
    /// below `min.insync.replicas` before it was replicated (Kafka's
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND). A retry may duplicate it.
    NotEnoughReplicasAfterAppend = 29,
    /// Controller api sent to a controller that is not the quorum's leader
    /// (or to a broker that is not a controller); the message names the
    /// leader when known.
    NotController = 30,
    /// Controller api: the broker epoch is not the broker's current one (it
    /// re-registered, or was never registered).
    StaleBrokerEpoch = 31,
    /// The replication factor is zero, above the limit, or above the number
    /// of live brokers.
    InvalidReplicationFactor = 32,
    /// The partition has no leader right now (an election is under way, or
    /// every in-sync replica is down).
    LeaderNotAvailable = 33,
    /// AlterPartition: the partition epoch is stale (the ISR or leader
    /// changed meanwhile).
    InvalidUpdateVersion = 34,
    /// AlterPartition: the new ISR names a replica that is not a replica or
    /// is fenced.
    IneligibleReplica = 35,
    /// An unknown broker (node id) was named.
    UnknownBroker = 36,
    /// ElectLeaders: the partition's preferred replica already leads it
    /// (Kafka's ELECTION_NOT_NEEDED).
    ElectionNotNeeded = 37,
    /// Idempotent produce: the batch's sequence does not follow the
    /// producer's last one on this partition (Kafka's
    /// OUT_OF_ORDER_SEQUENCE_NUMBER). Nothing was appended.
    OutOfOrderSequence = 38,
    /// Idempotent produce: a newer epoch of this producer id has written
    /// here; this producer is fenced (INVALID_PRODUCER_EPOCH).
    InvalidProducerEpoch = 39,
    /// Idempotent produce: the partition has no state for this producer id
    /// and the batch does not start at sequence 0 (UNKNOWN_PRODUCER_ID): the
    /// producer should get a new epoch and start over.
    UnknownProducerId = 40,
}

impl ErrorCode {
    /// Every code, in wire-number order.
    pub const ALL: [ErrorCode; 41] = [
        ErrorCode::None,
        ErrorCode::UnknownTopic,
        ErrorCode::UnknownPartition,
        ErrorCode::NotOwner,
        ErrorCode::CorruptBatch,
        ErrorCode::BatchTooLarge,
        ErrorCode::InvalidRequest,
        ErrorCode::UnsupportedApi,
        ErrorCode::UnsupportedVersion,
        ErrorCode::TopicAlreadyExists,
        ErrorCode::InvalidTopicName,
        ErrorCode::InvalidConfig,
        ErrorCode::InvalidPartitions,
        ErrorCode::OffsetOutOfRange,
        ErrorCode::RequestTimedOut,
        ErrorCode::StorageError,
        ErrorCode::NotEnoughReplicas,
        ErrorCode::UnknownServerError,
        ErrorCode::UnknownMemberId,
        ErrorCode::IllegalGeneration,
        ErrorCode::RebalanceInProgress,
        ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotCoordinator,
        ErrorCode::InconsistentGroupProtocol,
        ErrorCode::UnknownGroup,
        ErrorCode::GroupNotEmpty,
        ErrorCode::CorruptMessage,
        ErrorCode::FencedLeaderEpoch,
        ErrorCode::UnknownLeaderEpoch,
        ErrorCode::NotEnoughReplicasAfterAppend,
        ErrorCode::NotController,
        ErrorCode::StaleBrokerEpoch,
        ErrorCode::InvalidReplicationFactor,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::InvalidUpdateVersion,
        ErrorCode::IneligibleReplica,
        ErrorCode::UnknownBroker,
        ErrorCode::ElectionNotNeeded,
        ErrorCode::OutOfOrderSequence,
        ErrorCode::InvalidProducerEpoch,
        ErrorCode::UnknownProducerId,
    ];

    /// The wire number.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The code with wire number `code`, if this build knows it.
    pub fn from_u16(code: u16) -> Option<ErrorCode> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The code with wire number `code`; unknown numbers (from a newer peer)
    /// become [`ErrorCode::UnknownServerError`], as Kafka clients do.
    pub fn from_wire(code: u16) -> ErrorCode {
        Self::from_u16(code).unwrap_or(ErrorCode::UnknownServerError)
    }

    /// `true` for [`ErrorCode::None`].
    pub fn is_ok(self) -> bool {
        self == ErrorCode::None
    }

    /// Whether a client may retry the same request and expect it to succeed
    /// (after refreshing metadata / finding the coordinator where relevant).
    ///
    /// Unknown topic/partition are retriable because metadata propagates
    /// (a topic just created may not be known everywhere yet). Corrupt batches
    /// are not: resending the same bytes fails the same way.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::UnknownTopic
                | ErrorCode::UnknownPartition
                | ErrorCode::NotOwner
                | ErrorCode::RequestTimedOut
                | ErrorCode::StorageError
                | ErrorCode::NotEnoughReplicas
                | ErrorCode::RebalanceInProgress
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::NotCoordinator
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
                | ErrorCode::NotEnoughReplicasAfterAppend
                | ErrorCode::NotController
                | ErrorCode::LeaderNotAvailable
        )
    }

    /// A short human-readable description.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::None => "no error",
            ErrorCode::UnknownTopic => "unknown topic",
            ErrorCode::UnknownPartition => "unknown partition",
            ErrorCode::NotOwner => "this core does not lead the partition",
            ErrorCode::CorruptBatch => "corrupt record batch (bad length, CRC or structure)",
            ErrorCode::BatchTooLarge => "record batch larger than the topic allows",
            ErrorCode::InvalidRequest => "invalid request",
            ErrorCode::UnsupportedApi => "unsupported api",
            ErrorCode::UnsupportedVersion => "unsupported api version",
            ErrorCode::TopicAlreadyExists => "topic already exists",
            ErrorCode::InvalidTopicName => "invalid topic name",
            ErrorCode::InvalidConfig => "invalid config",
            ErrorCode::InvalidPartitions => "invalid partition count",
            ErrorCode::OffsetOutOfRange => "offset out of range",
            ErrorCode::RequestTimedOut => "request timed out",
            ErrorCode::StorageError => "storage error",
            ErrorCode::NotEnoughReplicas => "not enough in-sync replicas",
            ErrorCode::UnknownServerError => "unknown server error",
            ErrorCode::UnknownMemberId => "unknown group member id",
            ErrorCode::IllegalGeneration => "illegal group generation",
            ErrorCode::RebalanceInProgress => "group rebalance in progress",
            ErrorCode::CoordinatorNotAvailable => "group coordinator not available",
            ErrorCode::NotCoordinator => "not the group coordinator",
            ErrorCode::InconsistentGroupProtocol => "inconsistent group protocol",
            ErrorCode::UnknownGroup => "unknown group",
            ErrorCode::GroupNotEmpty => "group is not empty",
            ErrorCode::CorruptMessage => "a stored record batch is damaged (not served)",
            ErrorCode::FencedLeaderEpoch => "the leader epoch is older than the partition's current one",
            ErrorCode::UnknownLeaderEpoch => "the leader epoch is newer than this replica knows",
            ErrorCode::NotEnoughReplicasAfterAppend => {
                "appended, but the in-sync replicas fell below min.insync.replicas"
            }
            ErrorCode::NotController => "not the active controller",
            ErrorCode::StaleBrokerEpoch => "stale broker epoch",
            ErrorCode::InvalidReplicationFactor => "invalid replication factor",
            ErrorCode::LeaderNotAvailable => "the partition has no leader right now",
            ErrorCode::InvalidUpdateVersion => "stale partition epoch",
            ErrorCode::IneligibleReplica => "ineligible replica for the in-sync set",
            ErrorCode::UnknownBroker => "unknown broker",
            ErrorCode::ElectionNotNeeded => "the preferred replica already leads the partition",
            ErrorCode::OutOfOrderSequence => "the batch's sequence does not follow the producer's last one",
            ErrorCode::InvalidProducerEpoch => "a newer epoch of this producer has written: this one is fenced",
            ErrorCode::UnknownProducerId => "no state for this producer id here and the batch does not start at 0",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

/// An [`ErrorCode`] inside an archived body: its raw little-endian `u16`, so
/// that any value passes validation and an unknown one (from a newer peer)
/// decodes as [`ErrorCode::UnknownServerError`] instead of failing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Portable, rkyv::bytecheck::CheckBytes)]
#[bytecheck(crate = rkyv::bytecheck)]
#[repr(transparent)]
pub struct ArchivedErrorCode(Archived<u16>);

impl ArchivedErrorCode {
    /// The code (unknown numbers become [`ErrorCode::UnknownServerError`]).
    pub fn get(self) -> ErrorCode {
        ErrorCode::from_wire(self.0.to_native())
    }

    /// The raw wire number.
    pub fn raw(self) -> u16 {
        self.0.to_native()
    }
}

impl Archive for ErrorCode {
    type Archived = ArchivedErrorCode;
    type Resolver = ();

    fn resolve(&self, _resolver: (), out: Place<Self::Archived>) {
        rkyv::munge::munge!(let ArchivedErrorCode(raw) = out);
        raw.write(Archived::<u16>::from_native(self.code()));
    }
}

impl<S: Fallible + ?Sized> Serialize<S> for ErrorCode {
    fn serialize(&self, _serializer: &mut S) -> Result<(), S::Error> {
        Ok(())
    }
}

impl<D: Fallible + ?Sized> Deserialize<ErrorCode, D> for ArchivedErrorCode {
    fn deserialize(&self, _deserializer: &mut D) -> Result<ErrorCode, D::Error> {
        Ok(self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_is_dense_and_stable() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(usize::from(code.code()), i);
            assert_eq!(ErrorCode::from_u16(code.code()), Some(*code));
            assert!(!code.message().is_empty());
        }
        assert_eq!(ErrorCode::NotOwner.code(), 3);
        assert_eq!(ErrorCode::UnknownServerError.code(), 17);
        assert_eq!(ErrorCode::GroupNotEmpty.code(), 25);
        assert_eq!(ErrorCode::CorruptMessage.code(), 26);
        assert_eq!(ErrorCode::ElectionNotNeeded.code(), 37);
        assert_eq!(ErrorCode::UnknownProducerId.code(), 40);
        assert_eq!(ErrorCode::from_u16(41), None);
        assert_eq!(ErrorCode::from_wire(999), ErrorCode::UnknownServerError);
    }

    #[test]
    fn retriable() {
        assert!(ErrorCode::NotOwner.is_retriable());
        assert!(ErrorCode::RequestTimedOut.is_retriable());
        assert!(!ErrorCode::None.is_retriable());
        assert!(!ErrorCode::CorruptBatch.is_retriable());
        assert!(!ErrorCode::CorruptMessage.is_retriable());
        assert!(!ErrorCode::InvalidRequest.is_retriable());
        assert!(!ErrorCode::OffsetOutOfRange.is_retriable());
    }

    #[test]
    fn archives_as_raw_u16() {
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&ErrorCode::NotOwner).unwrap();
        assert_eq!(&bytes[..], &3u16.to_le_bytes());
        let mut unknown = rkyv::util::AlignedVec::<16>::new();
        unknown.extend_from_slice(&999u16.to_le_bytes());
        let back = rkyv::from_bytes::<ErrorCode, rkyv::rancor::Error>(&unknown).unwrap();
        assert_eq!(back, ErrorCode::UnknownServerError);
    }
}
