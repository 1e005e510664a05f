//! The controller apis: what brokers and controllers send a controller node
//! on its controller port (the `--controllers` address), never on a core's
//! client endpoint.
//!
//! - ControllerWrite: a metadata command (topic creation, a broker's
//!   registration, an ISR change...) for the quorum's Raft log; answered once
//!   it is committed and applied, with the metadata version it produced.
//! - BrokerHeartbeat: keeps a broker's session alive; says whether the
//!   broker is fenced. Not logged: only fencing and unfencing are commands.
//! - MetadataUpdate: a broker's long poll for the metadata image newer than
//!   the one it has.
//! - RaftMessage: one Raft message between controller nodes.
//!
//! Every api but RaftMessage goes to the quorum's leader: another controller
//! answers [`ErrorCode::NotController`] with `leader` set when it knows it,
//! and the sender tries that node next.
//!
//! Commands and images travel as JSON bytes (the layouts are documented
//! with the metadata model in corelog-replication, `metadata::cluster`); Raft
//! messages as raft-rs's protobuf bytes. Both are bounded here before anyone
//! parses them.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::{MAX_CONTROLLER_COMMAND_BYTES, MAX_METADATA_IMAGE_BYTES, MAX_RAFT_MESSAGE_BYTES};

/// ControllerWrite request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ControllerWriteRequest {
    /// One metadata command, JSON-encoded.
    pub command: Vec<u8>,
}

/// ControllerWrite response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ControllerWriteResponse {
    /// Why the command was refused or not applied (the metadata's own
    /// errors map onto codes: `TopicAlreadyExists`, `InvalidReplicationFactor`...).
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// Metadata version once the command was applied (0 on error).
    pub version: u64,
    /// With [`ErrorCode::NotController`]: the leader's node id, if known.
    pub leader: Option<u32>,
}

/// BrokerHeartbeat request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct BrokerHeartbeatRequest {
    /// The broker's node id.
    pub node_id: u32,
    /// The epoch its registration got.
    pub broker_epoch: u64,
    /// The metadata version the broker has applied: a broker is unfenced
    /// only once it has caught up with the version it registered at.
    pub applied_version: u64,
}

/// BrokerHeartbeat response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct BrokerHeartbeatResponse {
    /// `StaleBrokerEpoch`: register again. `NotController`: see `leader`.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// Whether the broker is fenced (leads nothing, is in no ISR it could
    /// be removed from) after this heartbeat.
    pub fenced: bool,
    /// With [`ErrorCode::NotController`]: the leader's node id, if known.
    pub leader: Option<u32>,
}

/// MetadataUpdate request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct MetadataUpdateRequest {
    /// Who asks (for logs).
    pub node_id: u32,
    /// The version the broker has; the answer is an image newer than it.
    pub have_version: u64,
    /// Longest time to wait for a newer version before answering with none.
    pub max_wait_ms: u32,
}

/// MetadataUpdate response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct MetadataUpdateResponse {
    /// `NotController`: see `leader`.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// Version of `image`, or the current version when nothing is newer.
    pub version: u64,
    /// The whole metadata image, JSON-encoded; empty when the broker's
    /// version is current (the wait ran out).
    pub image: Vec<u8>,
    /// With [`ErrorCode::NotController`]: the leader's node id, if known.
    pub leader: Option<u32>,
}

/// RaftMessage request: one message from one controller to another.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct RaftMessageRequest {
    /// The raft-rs `eraftpb::Message`, protobuf-encoded.
    pub message: Vec<u8>,
}

/// RaftMessage response: only whether the receiver took it (Raft tolerates
/// lost messages, so the sender does not wait for it before sending more).
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct RaftMessageResponse {
    /// `InvalidRequest` for a message that does not decode or is not for
    /// this node.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
}

impl Check for ArchivedControllerWriteRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::limit("controller command bytes", self.command.len(), MAX_CONTROLLER_COMMAND_BYTES)
    }
}

impl Check for ArchivedControllerWriteResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)
    }
}

impl Check for ArchivedBrokerHeartbeatRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Check for ArchivedBrokerHeartbeatResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)
    }
}

impl Check for ArchivedMetadataUpdateRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl Check for ArchivedMetadataUpdateResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::limit("metadata image bytes", self.image.len(), MAX_METADATA_IMAGE_BYTES)
    }
}

impl Check for ArchivedRaftMessageRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::limit("raft message bytes", self.message.len(), MAX_RAFT_MESSAGE_BYTES)
    }
}

impl Check for ArchivedRaftMessageResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)
    }
}
