//! Committed offsets: OffsetCommit and OffsetFetch, sent to the group's
//! coordinator. Commits are records in `__consumer_offsets`, answered once
//! durable under that topic's flush policy.
//!
//! A committed offset is the offset of the *next* record to consume (the last
//! processed offset + 1), as in Kafka. A consumer's lag on a partition is
//! `log_end_offset - committed`.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::MAX_OFFSET_METADATA_LEN;

/// The generation id of a commit made outside group membership (a standalone
/// consumer that assigns itself partitions): accepted only while the group
/// has no members.
pub const NO_GENERATION: i32 = -1;

/// One partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OffsetCommitPartition {
    /// Partition id.
    pub partition: u32,
    /// The next offset to consume.
    pub offset: u64,
    /// Free-form metadata stored with the offset (≤ 4096 bytes).
    pub metadata: String,
}

/// The partitions of one topic to commit.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OffsetCommitTopic {
    /// Topic name.
    pub name: String,
    /// Partitions and offsets.
    pub partitions: Vec<OffsetCommitPartition>,
}

/// OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct OffsetCommitRequest {
    /// The group.
    pub group_id: String,
    /// The committing member's generation, or [`NO_GENERATION`] for a
    /// standalone commit (no group membership; `member_id` empty).
    pub generation_id: i32,
    /// The committing member's id (`""` for a standalone commit).
    pub member_id: String,
    /// What to commit.
    pub topics: Vec<OffsetCommitTopic>,
}

/// The outcome for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OffsetCommitPartitionResponse {
    /// Partition id.
    pub partition: u32,
    /// Per-partition error.
    pub error: ErrorCode,
}

/// The partitions of one topic in an OffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OffsetCommitTopicResponse {
    /// Topic name.
    pub name: String,
    /// One entry per requested partition.
    pub partitions: Vec<OffsetCommitPartitionResponse>,
}

/// OffsetCommit response. A failure of the whole commit (unknown member,
/// stale generation, rebalance in progress, not the coordinator) sets both
/// the request-level `error` and every partition's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct OffsetCommitResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// One entry per requested topic.
    pub topics: Vec<OffsetCommitTopicResponse>,
}

impl OffsetCommitResponse {
    /// The answer to `request` with `error` for every partition (and at the
    /// request level, unless it is [`ErrorCode::None`]).
    pub fn uniform(request: &OffsetCommitRequest, error: ErrorCode, message: Option<String>) -> Self {
        OffsetCommitResponse {
            error,
            error_message: message,
            topics: request
                .topics
                .iter()
                .map(|t| OffsetCommitTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetCommitPartitionResponse { partition: p.partition, error })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The partitions of one topic whose committed offsets to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OffsetFetchTopic {
    /// Topic name.
    pub name: String,
    /// Partition ids.
    pub partitions: Vec<u32>,
}

/// OffsetFetch request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct OffsetFetchRequest {
    /// The group.
    pub group_id: String,
    /// The partitions to fetch, or `None` for every partition the group has
    /// committed.
    pub topics: Option<Vec<OffsetFetchTopic>>,
}

/// The committed offset of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OffsetFetchPartitionResponse {
    /// Partition id.
    pub partition: u32,
    /// The committed offset; `None` when the group has committed none for
    /// this partition (then `--from earliest|latest` applies).
    pub offset: Option<u64>,
    /// The metadata committed with it (`""` if none).
    pub metadata: String,
    /// Per-partition error.
    pub error: ErrorCode,
}

/// The partitions of one topic in an OffsetFetch response.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct OffsetFetchTopicResponse {
    /// Topic name.
    pub name: String,
    /// One entry per requested (or committed) partition.
    pub partitions: Vec<OffsetFetchPartitionResponse>,
}

/// OffsetFetch response. An unknown group is not an error: it has no
/// committed offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct OffsetFetchResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// One entry per requested topic (every committed topic for `None`).
    pub topics: Vec<OffsetFetchTopicResponse>,
}

impl Check for ArchivedOffsetCommitPartition {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::limit("offset metadata length", self.metadata.len(), MAX_OFFSET_METADATA_LEN)
    }
}

impl Check for ArchivedOffsetCommitTopic {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedOffsetCommitRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        check::member_id(&self.member_id)?;
        check::topics(&self.topics, budget)
    }
}

impl Check for ArchivedOffsetCommitPartitionResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Check for ArchivedOffsetCommitTopicResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedOffsetCommitResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}

impl Check for ArchivedOffsetFetchTopic {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        budget.partitions(self.partitions.len())
    }
}

impl Check for ArchivedOffsetFetchRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        match self.topics.as_ref() {
            Some(topics) => check::topics(topics, budget),
            None => Ok(()),
        }
    }
}

impl Check for ArchivedOffsetFetchPartitionResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::limit("offset metadata length", self.metadata.len(), MAX_OFFSET_METADATA_LEN)
    }
}

impl Check for ArchivedOffsetFetchTopicResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedOffsetFetchResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}
