//! FindCoordinator: which core coordinates a consumer group.
//!
//! A group's coordinator is the core owning partition
//! `coordinator_partition(group_id, P)` of the internal topic
//! [`OFFSETS_TOPIC`] (see `corelog_coordinator::coordinator_partition`).
//! Any core answers this request; the client then sends every other group
//! request (join, sync, heartbeat, leave, offset commit/fetch, describe,
//! delete) for that group to the returned endpoint, and asks again after a
//! [`ErrorCode::NotCoordinator`] or [`ErrorCode::CoordinatorNotAvailable`].

use rkyv::{Archive, Deserialize, Serialize};

/// The internal topic holding committed offsets and group metadata. Named
/// here, below both the client and the coordinator: the broker creates it on
/// the first group request, and read-only tools check for it so they create
/// nothing.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::metadata::{check_owner_hint, Endpoint};

/// FindCoordinator request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct FindCoordinatorRequest {
    /// The group whose coordinator to find.
    pub group_id: String,
}

/// FindCoordinator response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct FindCoordinatorResponse {
    /// Request-level error: [`ErrorCode::CoordinatorNotAvailable`] while the
    /// offsets topic has no owner for the group's partition (retriable).
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// The coordinating node/core and its endpoint; `Some` exactly when
    /// `error` is [`ErrorCode::None`].
    pub coordinator: Option<Endpoint>,
}

impl Check for ArchivedFindCoordinatorRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)
    }
}

impl Check for ArchivedFindCoordinatorResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check_owner_hint(&self.coordinator, budget)
    }
}
