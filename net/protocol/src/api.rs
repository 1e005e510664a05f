//! [`ApiKey`]: which request a frame carries, and the versions this build speaks.

/// The apis of the native protocol. The numbers are the wire format (the
/// frame header's `api_key`) and are stable: never renumber, only append.
///
/// Numbers 10..=19 are the consumer-group apis (find coordinator, join, sync,
/// heartbeat, leave, offset commit/fetch, list/describe/delete groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum ApiKey {
    /// Append record batches to partitions.
    Produce = 0,
    /// Read record batches from partitions.
    Fetch = 1,
    /// Look up offsets: earliest, latest, or by timestamp.
    ListOffsets = 2,
    /// Brokers, their per-core endpoints, topics and partition owners.
    Metadata = 3,
    /// Handshake: which apis and versions the broker supports.
    ApiVersions = 4,
    /// Create topics.
    CreateTopics = 5,
    /// Delete topics.
    DeleteTopics = 6,
    /// Increase a topic's partition count.
    CreatePartitions = 7,
    /// Read topic configs.
    DescribeConfigs = 8,
    /// Change topic configs.
    AlterConfigs = 9,
    /// Which core coordinates a consumer group.
    FindCoordinator = 10,
    /// Join a consumer group (start or take part in a rebalance).
    JoinGroup = 11,
    /// Get this member's assignment (the leader sends everyone's).
    SyncGroup = 12,
    /// Keep a group membership alive.
    Heartbeat = 13,
    /// Leave a consumer group.
    LeaveGroup = 14,
    /// Commit a group's consumed offsets.
    OffsetCommit = 15,
    /// Read a group's committed offsets.
    OffsetFetch = 16,
    /// List a coordinator's groups.
    ListGroups = 17,
    /// Describe groups: state, members, assignments.
    DescribeGroups = 18,
    /// Delete empty groups and their offsets.
    DeleteGroups = 19,
    /// Controller: a metadata command for the quorum's log (brokers and admin forwarding).
    ControllerWrite = 20,
    /// Controller: a broker's session heartbeat.
    BrokerHeartbeat = 21,
    /// Controller: a broker's long poll for a newer metadata image.
    MetadataUpdate = 22,
    /// Controller: one Raft message between controller nodes.
    RaftMessage = 23,
    /// Brokers, their state and the controller quorum.
    DescribeCluster = 24,
    /// Elect preferred (or unclean) partition leaders.
    ElectLeaders = 25,
    /// A producer id and epoch for an idempotent producer.
    InitProducerId = 26,
}

impl ApiKey {
    /// Every api this build knows, in wire-number order.
    pub const ALL: [ApiKey; 27] = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::ApiVersions,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::CreatePartitions,
        ApiKey::DescribeConfigs,
        ApiKey::AlterConfigs,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ListGroups,
        ApiKey::DescribeGroups,
        ApiKey::DeleteGroups,
        ApiKey::ControllerWrite,
        ApiKey::BrokerHeartbeat,
        ApiKey::MetadataUpdate,
        ApiKey::RaftMessage,
        ApiKey::DescribeCluster,
        ApiKey::ElectLeaders,
        ApiKey::InitProducerId,
    ];

    /// The wire number.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The api with wire number `code`, if this build knows it.
    pub fn from_u16(code: u16) -> Option<ApiKey> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// Oldest version of this api this build can decode and encode.
    ///
    /// Fetch and Metadata are at version 1 since the cluster (leader epochs,
    /// replicas, in-sync replicas, divergence), and Fetch at 2 since
    /// followers report their durable end apart from their fetch offset
    /// (the replication pipeline): the older layouts are no longer spoken,
    /// so an older peer gets `UnsupportedVersion` instead of a misread body.
    pub const fn min_version(self) -> u16 {
        self.max_version()
    }

    /// Newest version of this api this build can decode and encode.
    pub const fn max_version(self) -> u16 {
        match self {
            ApiKey::Fetch => 2,
            ApiKey::Metadata => 1,
            _ => 0,
        }
    }

    /// Whether this api is served on a controller's controller port (and
    /// only there), not on a core's client endpoint.
    pub const fn is_controller_api(self) -> bool {
        matches!(self, ApiKey::ControllerWrite | ApiKey::BrokerHeartbeat | ApiKey::MetadataUpdate | ApiKey::RaftMessage)
    }

    /// Whether this is a consumer-group api answered by the group's
    /// coordinator (every group api but FindCoordinator, which any core answers).
    pub const fn is_coordinator_api(self) -> bool {
        matches!(
            self,
            ApiKey::JoinGroup
                | ApiKey::SyncGroup
                | ApiKey::Heartbeat
                | ApiKey::LeaveGroup
                | ApiKey::OffsetCommit
                | ApiKey::OffsetFetch
                | ApiKey::ListGroups
                | ApiKey::DescribeGroups
                | ApiKey::DeleteGroups
        )
    }

    /// Whether this build speaks `version` of this api.
    pub fn supports(self, version: u16) -> bool {
        (self.min_version()..=self.max_version()).contains(&version)
    }

    /// The api's name, for logs and metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            ApiKey::Produce => "produce",
            ApiKey::Fetch => "fetch",
            ApiKey::ListOffsets => "list_offsets",
            ApiKey::Metadata => "metadata",
            ApiKey::ApiVersions => "api_versions",
            ApiKey::CreateTopics => "create_topics",
            ApiKey::DeleteTopics => "delete_topics",
            ApiKey::CreatePartitions => "create_partitions",
            ApiKey::DescribeConfigs => "describe_configs",
            ApiKey::AlterConfigs => "alter_configs",
            ApiKey::FindCoordinator => "find_coordinator",
            ApiKey::JoinGroup => "join_group",
            ApiKey::SyncGroup => "sync_group",
            ApiKey::Heartbeat => "heartbeat",
            ApiKey::LeaveGroup => "leave_group",
            ApiKey::OffsetCommit => "offset_commit",
            ApiKey::OffsetFetch => "offset_fetch",
            ApiKey::ListGroups => "list_groups",
            ApiKey::DescribeGroups => "describe_groups",
            ApiKey::DeleteGroups => "delete_groups",
            ApiKey::ControllerWrite => "controller_write",
            ApiKey::BrokerHeartbeat => "broker_heartbeat",
            ApiKey::MetadataUpdate => "metadata_update",
            ApiKey::RaftMessage => "raft_message",
            ApiKey::DescribeCluster => "describe_cluster",
            ApiKey::ElectLeaders => "elect_leaders",
            ApiKey::InitProducerId => "init_producer_id",
        }
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_is_dense_and_stable() {
        for (i, key) in ApiKey::ALL.iter().enumerate() {
            assert_eq!(usize::from(key.code()), i);
            assert_eq!(ApiKey::from_u16(key.code()), Some(*key));
            assert!(key.supports(key.max_version()));
            assert!(!key.supports(key.max_version() + 1));
        }
        assert_eq!(ApiKey::Produce.code(), 0);
        assert_eq!(ApiKey::ApiVersions.code(), 4);
        assert_eq!(ApiKey::FindCoordinator.code(), 10);
        assert_eq!(ApiKey::ControllerWrite.code(), 20);
        assert_eq!(ApiKey::ElectLeaders.code(), 25);
        // The cluster's layouts of Fetch and Metadata: older versions are refused.
        assert!(!ApiKey::Fetch.supports(0) && !ApiKey::Fetch.supports(1) && !ApiKey::Metadata.supports(0));
        assert_eq!(ApiKey::DeleteGroups.code(), 19);
        assert_eq!(ApiKey::InitProducerId.code(), 26);
        assert_eq!(ApiKey::from_u16(27), None);
        assert!(ApiKey::RaftMessage.is_controller_api() && !ApiKey::DescribeCluster.is_controller_api());
        assert!(ApiKey::JoinGroup.is_coordinator_api());
        assert!(!ApiKey::FindCoordinator.is_coordinator_api());
        assert!(!ApiKey::Produce.is_coordinator_api());
    }
}
