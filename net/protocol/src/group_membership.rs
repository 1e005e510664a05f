//! Group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup (Kafka's
//! classic group protocol), all sent to the group's coordinator (see
//! [`super::find_coordinator`]).
//!
//! # The protocol, from a member's side
//!
//! 1. **Join.** Send [`JoinGroupRequest`] with an empty `member_id` the first
//!    time; the coordinator assigns one (keep it for every later request).
//!    The response is held until every known member has (re)joined or the
//!    rebalance timeout passes, so the client's request timeout must exceed
//!    `rebalance_timeout_ms`. The response names the new `generation_id`, the
//!    chosen `protocol_name` (assignor) and the `leader_id`; the leader alone
//!    gets every member's subscription `metadata` in `members`.
//! 2. **Sync.** Every member sends [`SyncGroupRequest`] for that generation.
//!    The leader computes the assignment (with the chosen assignor) and sends
//!    it in `assignments`; followers send none. Each member's response carries
//!    its own `assignment` (see [`super::consumer_protocol`] for the bytes a
//!    consumer uses). Followers' syncs are held until the leader's arrives.
//! 3. **Heartbeat** every `session_timeout_ms / 3` or so. A member silent for
//!    `session_timeout_ms` is removed and the group rebalances.
//! 4. **Errors.** [`ErrorCode::RebalanceInProgress`]: commit what you have,
//!    then rejoin (keeping the member id). [`ErrorCode::IllegalGeneration`]:
//!    rejoin. [`ErrorCode::UnknownMemberId`]: forget the member id and join
//!    as a new member. [`ErrorCode::NotCoordinator`] /
//!    [`ErrorCode::CoordinatorNotAvailable`]: find the coordinator again and
//!    retry. [`ErrorCode::InconsistentGroupProtocol`]: the offered protocols
//!    share nothing with the group's (or name no known assignor): fatal.
//! 5. **Leave** with [`LeaveGroupRequest`] when closing, so the group
//!    rebalances at once instead of after the session timeout.

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::{MAX_GROUP_MEMBERS, MAX_GROUP_PROTOCOLS};

/// One protocol (for consumers: one partition assignor) a member supports,
/// with the member's metadata for it (for consumers: an encoded
/// [`Subscription`](super::consumer_protocol::Subscription)).
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct JoinGroupProtocol {
    /// Protocol name, e.g. `"range"`, `"roundrobin"`, `"sticky"`.
    pub name: String,
    /// Opaque metadata, passed to the leader unchanged.
    pub metadata: Vec<u8>,
}

/// JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct JoinGroupRequest {
    /// The group to join (created by the first join).
    pub group_id: String,
    /// A member not heard from (heartbeat, join, sync, commit) for this long
    /// is removed and the group rebalances. Must lie within the coordinator's
    /// configured bounds, else [`ErrorCode::InvalidRequest`].
    pub session_timeout_ms: u32,
    /// How long the coordinator waits for every member to rejoin during a
    /// rebalance (0 = the session timeout).
    pub rebalance_timeout_ms: u32,
    /// The member id from a previous join, or `""` for a new member.
    pub member_id: String,
    /// The client's id, for describing the group (and the prefix of a new
    /// member id).
    pub client_id: String,
    /// The kind of group, `"consumer"` for consumers (see
    /// [`CONSUMER_PROTOCOL_TYPE`](super::consumer_protocol::CONSUMER_PROTOCOL_TYPE)).
    /// Every member of a group must use the same.
    pub protocol_type: String,
    /// Supported protocols, most preferred first. The coordinator picks the
    /// one every member supports with the most first-choice votes.
    pub protocols: Vec<JoinGroupProtocol>,
}

/// A member of the new generation, as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct JoinGroupMember {
    /// The member's id.
    pub member_id: String,
    /// The member's client id.
    pub client_id: String,
    /// The member's metadata for the chosen protocol.
    pub metadata: Vec<u8>,
}

/// JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct JoinGroupResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// The generation the member now belongs to (-1 on error).
    pub generation_id: i32,
    /// The protocol (assignor) chosen for this generation.
    pub protocol_name: String,
    /// The leader's member id: the member that computes the assignment.
    pub leader_id: String,
    /// This member's id (the newly assigned one for a new member). Set even
    /// with some errors, so a member can tell who it is.
    pub member_id: String,
    /// Every member and its metadata; non-empty only in the leader's response.
    pub members: Vec<JoinGroupMember>,
}

impl JoinGroupResponse {
    /// A failed join.
    pub fn error(error: ErrorCode, message: impl Into<String>, member_id: impl Into<String>) -> Self {
        JoinGroupResponse {
            error,
            error_message: Some(message.into()),
            generation_id: -1,
            member_id: member_id.into(),
            ..Default::default()
        }
    }

    /// Whether the receiving member is this generation's leader.
    pub fn is_leader(&self) -> bool {
        self.error.is_ok() && self.leader_id == self.member_id
    }
}

/// One member's assignment, as computed by the leader.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct SyncGroupAssignment {
    /// The member it is for.
    pub member_id: String,
    /// Opaque assignment (for consumers: an encoded
    /// [`Assignment`](super::consumer_protocol::Assignment)).
    pub assignment: Vec<u8>,
}

/// SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct SyncGroupRequest {
    /// The group.
    pub group_id: String,
    /// The generation from the JoinGroup response.
    pub generation_id: i32,
    /// The sender's member id.
    pub member_id: String,
    /// The leader's assignment of every member; empty from followers. A member
    /// the leader leaves out gets an empty assignment.
    pub assignments: Vec<SyncGroupAssignment>,
}

/// SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct SyncGroupResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// This member's assignment for the generation.
    pub assignment: Vec<u8>,
}

impl SyncGroupResponse {
    /// A failed sync.
    pub fn error(error: ErrorCode, message: impl Into<String>) -> Self {
        SyncGroupResponse { error, error_message: Some(message.into()), assignment: Vec::new() }
    }
}

/// Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// The group.
    pub group_id: String,
    /// The member's current generation.
    pub generation_id: i32,
    /// The member's id.
    pub member_id: String,
}

/// Heartbeat response: just the error ([`ErrorCode::RebalanceInProgress`]
/// tells the member to rejoin).
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
}

/// LeaveGroup request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct LeaveGroupRequest {
    /// The group.
    pub group_id: String,
    /// The leaving member's id.
    pub member_id: String,
}

/// LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct LeaveGroupResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
}

impl Check for ArchivedJoinGroupProtocol {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::protocol_name(&self.name)?;
        check::member_bytes("member metadata length", self.metadata.len())
    }
}

impl Check for ArchivedJoinGroupRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        check::member_id(&self.member_id)?;
        check::client_id(&self.client_id)?;
        check::protocol_name(&self.protocol_type)?;
        check::limit("number of group protocols", self.protocols.len(), MAX_GROUP_PROTOCOLS)?;
        self.protocols.iter().try_for_each(|p| p.check(budget))
    }
}

impl Check for ArchivedJoinGroupMember {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::member_id(&self.member_id)?;
        check::client_id(&self.client_id)?;
        check::member_bytes("member metadata length", self.metadata.len())
    }
}

impl Check for ArchivedJoinGroupResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::protocol_name(&self.protocol_name)?;
        check::member_id(&self.leader_id)?;
        check::member_id(&self.member_id)?;
        check::limit("number of group members", self.members.len(), MAX_GROUP_MEMBERS)?;
        self.members.iter().try_for_each(|m| m.check(budget))
    }
}

impl Check for ArchivedSyncGroupAssignment {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::member_id(&self.member_id)?;
        check::member_bytes("member assignment length", self.assignment.len())
    }
}

impl Check for ArchivedSyncGroupRequest {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        check::member_id(&self.member_id)?;
        check::limit("number of group members", self.assignments.len(), MAX_GROUP_MEMBERS)?;
        self.assignments.iter().try_for_each(|a| a.check(budget))
    }
}

impl Check for ArchivedSyncGroupResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::member_bytes("member assignment length", self.assignment.len())
    }
}

impl Check for ArchivedHeartbeatRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        check::member_id(&self.member_id)
    }
}

impl Check for ArchivedLeaveGroupRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        check::member_id(&self.member_id)
    }
}

macro_rules! check_error_only_response {
    ($($t:ty),*) => {
        $(impl Check for $t {
            fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
                check::error_message(&self.error_message)
            }
        })*
    };
}
check_error_only_response!(ArchivedHeartbeatResponse, ArchivedLeaveGroupResponse);
