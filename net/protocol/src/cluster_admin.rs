//! Cluster administration: DescribeCluster (brokers, their state, the
//! controller quorum) and ElectLeaders (move leadership back to preferred
//! replicas, or elect outside the ISR). Any core of any broker answers them;
//! ElectLeaders is forwarded to the controller quorum.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::{MAX_BROKERS, MAX_CONTROLLERS};

/// DescribeCluster request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DescribeClusterRequest {}

/// One registered broker as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ClusterBroker {
    /// Node id.
    pub node_id: u32,
    /// Host its cores listen on.
    pub host: String,
    /// Core i listens on `base_port + i`.
    pub base_port: u16,
    /// Number of cores (endpoints).
    pub cores: u32,
    /// Fenced: its session timed out (or it has not caught up since it
    /// registered); it leads nothing.
    pub fenced: bool,
    /// The epoch of its current registration.
    pub broker_epoch: u64,
}

/// DescribeCluster response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DescribeClusterResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// Node id of the controller quorum's leader, if known.
    pub controller_leader: Option<u32>,
    /// Node ids of the controller quorum's voters.
    pub controllers: Vec<u32>,
    /// Metadata version the answering broker has applied.
    pub metadata_version: u64,
    /// Every registered broker, by node id.
    pub brokers: Vec<ClusterBroker>,
}

/// Which leaders an ElectLeaders request elects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Archive, Serialize, Deserialize)]
pub enum ElectionKind {
    /// The first replica, where it is alive, in sync and not already leader.
    #[default]
    Preferred,
    /// Any live replica, for partitions without a leader, even outside the
    /// ISR: may lose acknowledged records.
    Unclean,
}

/// Partitions of one topic to elect leaders for.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ElectTopic {
    /// Topic name.
    pub name: String,
    /// Partition ids.
    pub partitions: Vec<u32>,
}

/// ElectLeaders request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ElectLeadersRequest {
    /// Preferred or unclean.
    pub kind: ElectionKind,
    /// The partitions; `None` for every partition.
    pub topics: Option<Vec<ElectTopic>>,
}

/// The outcome for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ElectPartitionResult {
    /// Partition id.
    pub partition: u32,
    /// Why no election happened, if none did.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// The leader after the request.
    pub leader: Option<u32>,
}

/// Results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ElectTopicResult {
    /// Topic name.
    pub name: String,
    /// One entry per partition named (or, for `None`, per partition whose
    /// leader changed).
    pub partitions: Vec<ElectPartitionResult>,
}

/// ElectLeaders response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ElectLeadersResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// Per-topic results.
    pub topics: Vec<ElectTopicResult>,
}

impl Check for ArchivedDescribeClusterRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Check for ArchivedClusterBroker {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::host(&self.host)
    }
}

impl Check for ArchivedDescribeClusterResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::limit("number of controllers", self.controllers.len(), MAX_CONTROLLERS)?;
        check::limit("number of brokers", self.brokers.len(), MAX_BROKERS)?;
        self.brokers.iter().try_for_each(|b| b.check(budget))
    }
}

impl Check for ArchivedElectTopic {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        budget.partitions(self.partitions.len())
    }
}

impl Check for ArchivedElectLeadersRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        match self.topics.as_ref() {
            Some(topics) => check::topics(topics, budget),
            None => Ok(()),
        }
    }
}

impl Check for ArchivedElectPartitionResult {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)
    }
}

impl Check for ArchivedElectTopicResult {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::topic_name(&self.name)?;
        check::partitions(&self.partitions, budget)
    }
}

impl Check for ArchivedElectLeadersResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::topics(&self.topics, budget)
    }
}
