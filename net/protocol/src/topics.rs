//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions. They
//! answer per topic with [`TopicResult`] (re-exported here; it lives in its
//! own file because AlterConfigs answers with it too).

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::configs::ConfigEntry;
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::MAX_CONFIG_ENTRIES;
pub use super::topic_result::TopicResult;

/// One topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct CreatableTopic {
    /// Name; must pass the metadata's `validate_topic_name` (checked by the handler).
    pub name: String,
    /// Number of partitions, 1..=[`MAX_PARTITIONS_PER_TOPIC`] (checked by the
    /// handler, which answers [`ErrorCode::InvalidPartitions`]).
    ///
    /// [`MAX_PARTITIONS_PER_TOPIC`]: super::limits::MAX_PARTITIONS_PER_TOPIC
    pub partitions: u32,
    /// Copies of each partition (1 on a single node).
    pub replication_factor: u16,
    /// Topic configs overriding the broker defaults (see `corelog_replication::metadata::config`).
    pub configs: Vec<ConfigEntry>,
}

/// CreateTopics request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct CreateTopicsRequest {
    /// Topics to create.
    pub topics: Vec<CreatableTopic>,
    /// How long the broker may wait for the creation to take effect.
    pub timeout_ms: u32,
    /// Only validate; create nothing.
    pub validate_only: bool,
}

/// CreateTopics response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct CreateTopicsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One result per requested topic.
    pub topics: Vec<TopicResult>,
}

/// DeleteTopics request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DeleteTopicsRequest {
    /// Topics to delete.
    pub topics: Vec<String>,
    /// How long the broker may wait for the deletion to take effect.
    pub timeout_ms: u32,
}

/// DeleteTopics response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DeleteTopicsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One result per requested topic.
    pub topics: Vec<TopicResult>,
}

/// One topic whose partition count to raise.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct CreatePartitionsTopic {
    /// Topic name.
    pub name: String,
    /// The new total partition count (must exceed the current one).
    pub new_total: u32,
}

/// CreatePartitions request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct CreatePartitionsRequest {
    /// Topics to grow.
    pub topics: Vec<CreatePartitionsTopic>,
    /// How long the broker may wait for the change to take effect.
    pub timeout_ms: u32,
    /// Only validate; change nothing.
    pub validate_only: bool,
}

/// CreatePartitions response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct CreatePartitionsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One result per requested topic.
    pub topics: Vec<TopicResult>,
}

impl Check for ArchivedCreatableTopic {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::limit("number of config entries", self.configs.len(), MAX_CONFIG_ENTRIES)?;
        self.configs.iter().try_for_each(|c| c.check(budget))
    }
}

impl Check for ArchivedCreateTopicsRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topics(&self.topics, budget)
    }
}

impl Check for ArchivedDeleteTopicsRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_names(&self.topics, budget)
    }
}

impl Check for ArchivedCreatePartitionsTopic {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)
    }
}

impl Check for ArchivedCreatePartitionsRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topics(&self.topics, budget)
    }
}

macro_rules! check_topic_results_response {
    ($($t:ty),*) => {
        $(impl Check for $t {
            fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
                check::error_message(&self.error_message)?;
                check::topics(&self.topics, budget)
            }
        })*
    };
}
check_topic_results_response!(
    ArchivedCreateTopicsResponse,
    ArchivedDeleteTopicsResponse,
    ArchivedCreatePartitionsResponse
);
