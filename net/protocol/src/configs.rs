//! DescribeConfigs and AlterConfigs: a topic's configs as key/value strings.
//! The known keys and how their values parse are the metadata's
//! (`corelog_replication::metadata::config`), not the wire's.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::{MAX_CONFIG_ENTRIES, MAX_CONFIG_KEY_LEN, MAX_CONFIG_VALUE_LEN};
use super::topic_result::TopicResult;

/// One config setting, e.g. `retention.ms = 86400000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// Config key (see `corelog_replication::metadata::config`).
    pub key: String,
    /// Value, as text.
    pub value: String,
}

impl ConfigEntry {
    /// An entry from anything string-like.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        ConfigEntry { key: key.into(), value: value.into() }
    }
}

/// DescribeConfigs request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DescribeConfigsRequest {
    /// Topics whose configs to describe.
    pub topics: Vec<String>,
}

/// One effective config value of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct DescribedConfig {
    /// Config key.
    pub key: String,
    /// Effective value.
    pub value: String,
    /// Whether the value is the broker default (not set on the topic).
    pub is_default: bool,
}

/// The configs of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct TopicConfigs {
    /// Topic name.
    pub name: String,
    /// Per-topic error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// Every config of the topic, defaults included.
    pub configs: Vec<DescribedConfig>,
}

/// DescribeConfigs response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DescribeConfigsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One entry per requested topic.
    pub topics: Vec<TopicConfigs>,
}

/// One change to a topic config.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct AlterConfigOp {
    /// Config key.
    pub key: String,
    /// New value, or `None` to remove the topic's override (back to default).
    pub value: Option<String>,
}

/// The config changes for one topic. Keys not mentioned keep their values
/// (incremental, like Kafka's IncrementalAlterConfigs).
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct AlterTopicConfigs {
    /// Topic name.
    pub name: String,
    /// Changes, applied together or not at all.
    pub ops: Vec<AlterConfigOp>,
}

/// AlterConfigs request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct AlterConfigsRequest {
    /// Topics to change.
    pub topics: Vec<AlterTopicConfigs>,
    /// Only validate; change nothing.
    pub validate_only: bool,
}

/// AlterConfigs response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct AlterConfigsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// One result per requested topic.
    pub topics: Vec<TopicResult>,
}

fn key_value(key: &str, value: Option<&str>) -> Result<(), ProtocolError> {
    check::limit("config key length", key.len(), MAX_CONFIG_KEY_LEN)?;
    check::limit("config value length", value.map_or(0, str::len), MAX_CONFIG_VALUE_LEN)
}

impl Check for ArchivedConfigEntry {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        key_value(&self.key, Some(&self.value))
    }
}

impl Check for ArchivedDescribedConfig {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        key_value(&self.key, Some(&self.value))
    }
}

impl Check for ArchivedAlterConfigOp {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        key_value(&self.key, self.value.as_ref().map(|v| v.as_str()))
    }
}

impl Check for ArchivedDescribeConfigsRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_names(&self.topics, budget)
    }
}

impl Check for ArchivedTopicConfigs {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::error_message(&self.error_message)?;
        // A topic's full config list: the known keys plus overrides, bounded
        // like a request's list.
        check::limit("number of config entries", self.configs.len(), MAX_CONFIG_ENTRIES)?;
        self.configs.iter().try_for_each(|c| c.check(budget))
    }
}

impl Check for ArchivedDescribeConfigsResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}

impl Check for ArchivedAlterTopicConfigs {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::limit("number of config entries", self.ops.len(), MAX_CONFIG_ENTRIES)?;
        self.ops.iter().try_for_each(|op| op.check(budget))
    }
}

impl Check for ArchivedAlterConfigsRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topics(&self.topics, budget)
    }
}

impl Check for ArchivedAlterConfigsResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}
