//! Group administration: ListGroups, DescribeGroups, DeleteGroups, and
//! [`GroupState`], the state of a group (Kafka's classic group protocol).
//!
//! Each coordinator answers for its own groups: ListGroups lists the groups
//! of the answering core only (a tool asks every core and merges), and
//! DescribeGroups / DeleteGroups go to each group's coordinator (a group
//! another core coordinates gets [`ErrorCode::NotCoordinator`]).

use rkyv::{Archive, Deserialize, Serialize};

use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::{
    MAX_GROUPS_PER_REQUEST, MAX_GROUPS_PER_RESPONSE, MAX_GROUP_MEMBERS, MAX_GROUP_STATES_FILTER, MAX_HOST_LEN,
};

/// The state of a consumer group.
///
/// ```text
///  Empty ──join──▶ PreparingRebalance ──all rejoined / timeout──▶ CompletingRebalance ──leader's sync──▶ Stable
///    ▲               │        ▲                                          │                                  │
///    └─none rejoined─┘        └── join (new member, leader, new protocols), leave, session expiry ◀──────────┘
/// ```
///
/// `Dead` is a group being deleted or expired; it never answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Archive, Serialize, Deserialize)]
pub enum GroupState {
    /// No members (possibly committed offsets, e.g. from standalone consumers
    /// or after every member left).
    #[default]
    Empty,
    /// Waiting for members to (re)join for the next generation.
    PreparingRebalance,
    /// The generation is formed; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment; heartbeats keep it so.
    Stable,
    /// Deleted or expired.
    Dead,
}

impl GroupState {
    /// Every state.
    pub const ALL: [GroupState; 5] = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
    ];

    /// Kafka's name for the state (`"Stable"`, `"PreparingRebalance"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// The state named `name` (case-insensitive), for command-line filters.
    pub fn parse(name: &str) -> Option<GroupState> {
        Self::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// ListGroups request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ListGroupsRequest {
    /// Only groups in one of these states; empty for every group.
    pub states_filter: Vec<GroupState>,
}

/// One group in a ListGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// Current state.
    pub state: GroupState,
    /// Protocol type (`"consumer"`; `""` for a group that only stores offsets).
    pub protocol_type: String,
}

/// ListGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ListGroupsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// The answering coordinator's groups, by id.
    pub groups: Vec<ListedGroup>,
}

/// DescribeGroups request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DescribeGroupsRequest {
    /// The groups to describe.
    pub group_ids: Vec<String>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct DescribedGroupMember {
    /// Member id.
    pub member_id: String,
    /// The member's client id.
    pub client_id: String,
    /// The member's address, as the coordinator saw it.
    pub host: String,
    /// The member's metadata for the group's protocol (empty while none is chosen).
    pub metadata: Vec<u8>,
    /// The member's current assignment (empty unless the group is Stable).
    pub assignment: Vec<u8>,
}

/// One described group.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct DescribedGroup {
    /// Group id.
    pub group_id: String,
    /// Per-group error: [`ErrorCode::UnknownGroup`] (state `Dead`) for a
    /// group the coordinator does not know.
    pub error: ErrorCode,
    /// Current state.
    pub state: GroupState,
    /// Protocol type (`""` for a group that only stores offsets).
    pub protocol_type: String,
    /// The current generation's protocol (`""` while none is chosen).
    pub protocol: String,
    /// Current generation (0 for a group that never formed one).
    pub generation_id: i32,
    /// Current members.
    pub members: Vec<DescribedGroupMember>,
}

impl DescribedGroup {
    /// The entry for a group that could not be described.
    pub fn error(group_id: impl Into<String>, error: ErrorCode) -> Self {
        DescribedGroup {
            group_id: group_id.into(),
            error,
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol: String::new(),
            generation_id: -1,
            members: Vec::new(),
        }
    }
}

/// DescribeGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DescribeGroupsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// One entry per requested group, in request order.
    pub groups: Vec<DescribedGroup>,
}

/// DeleteGroups request: deletes empty groups and their committed offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DeleteGroupsRequest {
    /// The groups to delete.
    pub group_ids: Vec<String>,
}

/// The outcome for one group of a DeleteGroups request.
#[derive(Debug, Clone, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct GroupResult {
    /// Group id.
    pub group_id: String,
    /// Per-group error: [`ErrorCode::GroupNotEmpty`] while it has members,
    /// [`ErrorCode::UnknownGroup`] if it does not exist.
    pub error: ErrorCode,
}

/// DeleteGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct DeleteGroupsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for the error.
    pub error_message: Option<String>,
    /// One entry per requested group, in request order.
    pub results: Vec<GroupResult>,
}

impl Check for ArchivedListGroupsRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::limit("number of group states", self.states_filter.len(), MAX_GROUP_STATES_FILTER)
    }
}

impl Check for ArchivedListedGroup {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        check::protocol_name(&self.protocol_type)
    }
}

impl Check for ArchivedListGroupsResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::limit("number of groups", self.groups.len(), MAX_GROUPS_PER_RESPONSE)?;
        self.groups.iter().try_for_each(|g| g.check(budget))
    }
}

impl Check for ArchivedDescribeGroupsRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_ids(&self.group_ids, MAX_GROUPS_PER_REQUEST)
    }
}

impl Check for ArchivedDescribedGroupMember {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::member_id(&self.member_id)?;
        check::client_id(&self.client_id)?;
        check::limit("member host length", self.host.len(), MAX_HOST_LEN)?;
        check::member_bytes("member metadata length", self.metadata.len())?;
        check::member_bytes("member assignment length", self.assignment.len())
    }
}

impl Check for ArchivedDescribedGroup {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)?;
        check::protocol_name(&self.protocol_type)?;
        check::protocol_name(&self.protocol)?;
        check::limit("number of group members", self.members.len(), MAX_GROUP_MEMBERS)?;
        self.members.iter().try_for_each(|m| m.check(budget))
    }
}

impl Check for ArchivedDescribeGroupsResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::limit("number of groups", self.groups.len(), MAX_GROUPS_PER_RESPONSE)?;
        self.groups.iter().try_for_each(|g| g.check(budget))
    }
}

impl Check for ArchivedDeleteGroupsRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_ids(&self.group_ids, MAX_GROUPS_PER_REQUEST)
    }
}

impl Check for ArchivedGroupResult {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::group_id(&self.group_id)
    }
}

impl Check for ArchivedDeleteGroupsResponse {
    fn check(&self, budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::limit("number of groups", self.results.len(), MAX_GROUPS_PER_RESPONSE)?;
        self.results.iter().try_for_each(|r| r.check(budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for state in GroupState::ALL {
            assert_eq!(GroupState::parse(state.name()), Some(state));
            assert_eq!(GroupState::parse(&state.name().to_lowercase()), Some(state));
        }
        assert_eq!(GroupState::parse("nope"), None);
        assert_eq!(GroupState::Stable.to_string(), "Stable");
    }
}
