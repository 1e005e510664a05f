//! Metadata: brokers, their per-core endpoints, topics, and per partition
//! its leader (node and core), leader epoch, replicas and in-sync replicas. Any core answers it; clients then connect to the
//! owning core's endpoint directly.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::{MAX_BROKERS, MAX_ENDPOINTS_PER_BROKER, MAX_REPLICATION_FACTOR};

/// Metadata request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct MetadataRequest {
    /// The topics to describe; `None` for every topic.
    pub topics: Option<Vec<String>>,
}

/// Where one partition lives: the owning node's core and the TCP endpoint
/// that core listens on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
pub struct Endpoint {
    /// Owning broker's node id.
    pub node_id: u32,
    /// Owning core on that broker.
    pub core_id: u16,
    /// Host to connect to.
    pub host: String,
    /// The core's port (`base_port + core_id`).
    pub port: u16,
}

/// One core's listener on a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct CoreEndpoint {
    /// Core id.
    pub core_id: u16,
    /// Port the core listens on.
    pub port: u16,
}

/// A broker and its per-core endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct BrokerMetadata {
    /// Node id.
    pub node_id: u32,
    /// Host clients connect to.
    pub host: String,
    /// One entry per core.
    pub endpoints: Vec<CoreEndpoint>,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct PartitionMetadata {
    /// Partition id.
    pub partition: u32,
    /// Per-partition error (e.g. no owner currently available).
    pub error: ErrorCode,
    /// The leader's node/core and its endpoint: where produce and fetch go.
    /// `None` while it has no leader (an election is under way, or every
    /// in-sync replica is down).
    pub owner: Option<Endpoint>,
    /// The leader's epoch (bumped by every leader change).
    pub leader_epoch: u32,
    /// Node ids of every replica, the preferred leader first.
    pub replicas: Vec<u32>,
    /// Node ids of the in-sync replicas.
    pub isr: Vec<u32>,
    /// First offset still in the log, if the answering broker knows it.
    pub log_start_offset: Option<u64>,
    /// Offset the next appended record gets, if the answering broker knows it.
    pub log_end_offset: Option<u64>,
}

/// One topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Per-topic error (e.g. [`ErrorCode::UnknownTopic`]).
    pub error: ErrorCode,
    /// Partitions, by ascending id.
    pub partitions: Vec<PartitionMetadata>,
}

/// Metadata response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct MetadataResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// Every live (unfenced) broker.
    pub brokers: Vec<BrokerMetadata>,
    /// Node id of the controller quorum's leader, if known.
    pub controller_id: Option<u32>,
    /// The requested topics (all topics if the request said `None`).
    pub topics: Vec<TopicMetadata>,
}

impl Check for ArchivedMetadataRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        match self.topics.as_ref() {
            Some(names) => check::topic_names(names, budget),
            None => Ok(()),
        }
    }
}

impl Check for ArchivedEndpoint {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::host(&self.host)
    }
}

impl Check for ArchivedBrokerMetadata {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::host(&self.host)?;
        check::limit("number of core endpoints", self.endpoints.len(), MAX_ENDPOINTS_PER_BROKER)
    }
}

impl Check for ArchivedPartitionMetadata {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::limit("number of replicas", self.replicas.len(), MAX_REPLICATION_FACTOR)?;
        check::limit("number of in-sync replicas", self.isr.len(), MAX_REPLICATION_FACTOR)?;
        match self.owner.as_ref() {
            Some(owner) => owner.check(budget),
            None => Ok(()),
        }
    }
}

impl Check for ArchivedTopicMetadata {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedMetadataResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::limit("number of brokers", self.brokers.len(), MAX_BROKERS)?;
        self.brokers.iter().try_for_each(|b| b.check(budget))?;
        check::topics(&self.topics, budget)
    }
}

/// Checks an optional owner hint carried with a per-partition error.
pub(crate) fn check_owner_hint(
    owner: &rkyv::option::ArchivedOption<ArchivedEndpoint>,
    budget: &mut Budget,
) -> Result<(), ProtocolError> {
    match owner.as_ref() {
        Some(owner) => owner.check(budget),
        None => Ok(()),
    }
}
