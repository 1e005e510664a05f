//! The APIs this crate supports and the version range of each: the broker
//! advertises exactly this table in ApiVersions. The build fails if a range
//! is outside what the vendored schema defines.

/// (enum variant, schema base name, min version, max version).
pub const APIS: &[(&str, &str, i16, i16)] = &[
    ("Produce", "Produce", 0, 9),
    ("Fetch", "Fetch", 4, 12),
    ("ListOffsets", "ListOffsets", 1, 7),
    ("Metadata", "Metadata", 0, 12),
    ("OffsetCommit", "OffsetCommit", 2, 7),
    ("OffsetFetch", "OffsetFetch", 1, 7),
    ("FindCoordinator", "FindCoordinator", 0, 3),
    ("JoinGroup", "JoinGroup", 0, 5),
    ("Heartbeat", "Heartbeat", 0, 3),
    ("LeaveGroup", "LeaveGroup", 0, 3),
    ("SyncGroup", "SyncGroup", 0, 3),
    ("DescribeGroups", "DescribeGroups", 0, 5),
    ("ListGroups", "ListGroups", 0, 4),
    ("ApiVersions", "ApiVersions", 0, 3),
    ("CreateTopics", "CreateTopics", 2, 5),
    ("DeleteTopics", "DeleteTopics", 1, 5),
    ("InitProducerId", "InitProducerId", 0, 4),
    ("OffsetForLeaderEpoch", "OffsetForLeaderEpoch", 2, 4),
    ("DescribeConfigs", "DescribeConfigs", 1, 2),
    ("CreatePartitions", "CreatePartitions", 0, 3),
    ("DeleteGroups", "DeleteGroups", 0, 2),
    ("IncrementalAlterConfigs", "IncrementalAlterConfigs", 0, 1),
    ("DescribeCluster", "DescribeCluster", 0, 1),
];
