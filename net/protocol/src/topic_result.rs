//! [`TopicResult`]: the per-topic outcome of the administrative requests
//! (CreateTopics, DeleteTopics, CreatePartitions and AlterConfigs).
//!
//! In its own file because both [`topics`](super::topics) and
//! [`configs`](super::configs) answer with it, and `topics` already uses
//! `configs` (for `ConfigEntry`): kept in either, the two would use each other.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;

/// The outcome for one topic of an administrative request.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct TopicResult {
    /// Topic name, as in the request.
    pub name: String,
    /// Per-topic error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
}

impl TopicResult {
    /// A success for `name`.
    pub fn ok(name: impl Into<String>) -> Self {
        TopicResult { name: name.into(), error: ErrorCode::None, error_message: None }
    }

    /// A failure for `name`.
    pub fn err(name: impl Into<String>, error: ErrorCode, message: impl Into<String>) -> Self {
        TopicResult { name: name.into(), error, error_message: Some(message.into()) }
    }
}

impl Check for ArchivedTopicResult {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::error_message(&self.error_message)
    }
}
