//! ListOffsets: find a partition's earliest or latest offset, or the first
//! offset at or after a timestamp.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::metadata::{check_owner_hint, Endpoint};

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the next offset to be written).
    Latest,
    /// The first offset whose record timestamp is ≥ this (ms since the epoch).
    Timestamp(i64),
}

/// One partition to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ListOffsetsPartition {
    /// Partition id.
    pub partition: u32,
    /// What to look up.
    pub spec: OffsetSpec,
}

/// The partitions of one topic to look up.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ListOffsetsTopic {
    /// Topic name.
    pub name: String,
    /// Partitions to look up.
    pub partitions: Vec<ListOffsetsPartition>,
}

/// ListOffsets request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ListOffsetsRequest {
    /// Topics and partitions to look up.
    pub topics: Vec<ListOffsetsTopic>,
}

/// The answer for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ListOffsetsPartitionResponse {
    /// Partition id.
    pub partition: u32,
    /// Per-partition error.
    pub error: ErrorCode,
    /// The offset; `None` if no record has a timestamp at or after the one asked.
    pub offset: Option<u64>,
    /// The timestamp of the record at `offset`, for timestamp lookups.
    pub timestamp: Option<i64>,
    /// With [`ErrorCode::NotOwner`]: the endpoint that owns the partition now.
    pub current_owner: Option<Endpoint>,
}

/// The partitions of one topic in a ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ListOffsetsTopicResponse {
    /// Topic name.
    pub name: String,
    /// One entry per requested partition.
    pub partitions: Vec<ListOffsetsPartitionResponse>,
}

/// ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ListOffsetsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One entry per requested topic.
    pub topics: Vec<ListOffsetsTopicResponse>,
}

impl Check for ArchivedListOffsetsPartition {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Check for ArchivedListOffsetsTopic {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedListOffsetsRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topics(&self.topics, budget)
    }
}

impl Check for ArchivedListOffsetsPartitionResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check_owner_hint(&self.current_owner, budget)
    }
}

impl Check for ArchivedListOffsetsTopicResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedListOffsetsResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}
