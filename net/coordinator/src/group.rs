//! One consumer group's state: its members, generation, protocol, leader and
//! committed offsets (Kafka's classic group protocol). [`Group`] is plain
//! data with the rules that concern one group alone (protocol selection,
//! leader election, who has rejoined); the transitions that answer requests
//! are in [`super::state_machine`], which owns every group.

use std::collections::{BTreeMap, BTreeSet};

use super::events::{PersistId, RequestId};
use super::records::{GroupMetadataValue, MemberMetadataValue};
use corelog_protocol::{GroupState, JoinGroupProtocol};

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to consume.
    pub offset: u64,
    /// The metadata string committed with it.
    pub metadata: String,
    /// When it was committed (ms since the Unix epoch).
    pub commit_timestamp_ms: u64,
}

/// One member of a group.
#[derive(Debug, Clone)]
pub struct Member {
    /// Member id (assigned by the coordinator on the first join).
    pub id: String,
    /// The client's id.
    pub client_id: String,
    /// The client's address, as the runtime saw it.
    pub host: String,
    /// Removed after this long without a heartbeat (or join, sync, commit).
    pub session_timeout_ms: u32,
    /// How long a rebalance waits for this member to rejoin.
    pub rebalance_timeout_ms: u32,
    /// Supported protocols with their metadata, most preferred first.
    pub protocols: Vec<JoinGroupProtocol>,
    /// The member's assignment in the current generation (empty until Stable).
    pub assignment: Vec<u8>,
    /// When the member was last heard from (ms).
    pub last_heartbeat_ms: u64,
    /// Order of joining the group (for leader election: the earliest wins).
    pub(crate) join_seq: u64,
    /// The member's JoinGroup held until the rebalance completes.
    pub(crate) pending_join: Option<RequestId>,
    /// The member's SyncGroup held until the leader's assignment is durable.
    pub(crate) pending_sync: Option<RequestId>,
}

impl Member {
    /// The member's metadata for `protocol` (empty if it does not support it).
    pub fn metadata(&self, protocol: &str) -> &[u8] {
        self.protocols.iter().find(|p| p.name == protocol).map_or(&[], |p| &p.metadata)
    }

    /// Whether the member supports `protocol`.
    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// Whether the member has a JoinGroup held by the coordinator.
    pub fn is_awaiting_join(&self) -> bool {
        self.pending_join.is_some()
    }

    /// Whether the member has a SyncGroup held by the coordinator.
    pub fn is_awaiting_sync(&self) -> bool {
        self.pending_sync.is_some()
    }

    /// When the member's session expires, if it can: a member whose join or
    /// sync the coordinator holds is waiting on the coordinator, not silent.
    pub fn session_deadline_ms(&self) -> Option<u64> {
        if self.is_awaiting_join() || self.is_awaiting_sync() {
            None
        } else {
            Some(self.last_heartbeat_ms.saturating_add(u64::from(self.session_timeout_ms)))
        }
    }

    /// The member's protocol names, in order.
    pub(crate) fn protocol_names(&self) -> impl Iterator<Item = &str> {
        self.protocols.iter().map(|p| p.name.as_str())
    }
}

/// An ongoing rebalance (the group is PreparingRebalance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rebalance {
    /// When it started (ms).
    pub started_ms: u64,
    /// For a group that was Empty: the join waits at least until then for
    /// more members (extended by each new member, like Kafka's
    /// `group.initial.rebalance.delay.ms`).
    pub initial_delay_until_ms: Option<u64>,
}

/// One consumer group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// Identity of this group object within its coordinator (a group deleted
    /// and created again is a new incarnation), so completions of persists
    /// issued for an older incarnation are not applied to a newer one.
    pub(crate) incarnation: u64,
    /// Current state.
    pub state: GroupState,
    /// Current generation (0 for a group that never formed one).
    pub generation: i32,
    /// Protocol type of its members (`None` for a group that only stores offsets).
    pub protocol_type: Option<String>,
    /// The current generation's protocol (assignor).
    pub protocol: Option<String>,
    /// The current generation's leader.
    pub leader: Option<String>,
    /// Members, by id.
    pub members: BTreeMap<String, Member>,
    /// Committed offsets, by topic and partition.
    pub offsets: BTreeMap<String, BTreeMap<u32, OffsetAndMetadata>>,
    /// When the group entered its current state (ms); for an Empty group,
    /// when it became empty.
    pub state_timestamp_ms: u64,
    /// When the latest offset commit was made (ms), if any.
    pub last_commit_ms: Option<u64>,
    /// Offset commits persisted but not yet acknowledged.
    pub(crate) pending_commits: usize,
    /// Set while PreparingRebalance.
    pub(crate) rebalance: Option<Rebalance>,
    /// While CompletingRebalance: the leader's assignment being persisted.
    pub(crate) sync_persist: Option<PersistId>,
}

impl Group {
    /// A new, empty group.
    pub(crate) fn new(id: String, incarnation: u64, now_ms: u64) -> Self {
        Group {
            id,
            incarnation,
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            offsets: BTreeMap::new(),
            state_timestamp_ms: now_ms,
            last_commit_ms: None,
            pending_commits: 0,
            rebalance: None,
            sync_persist: None,
        }
    }

    /// The committed offset of `partition` of `topic`, if any.
    pub fn offset(&self, topic: &str, partition: u32) -> Option<&OffsetAndMetadata> {
        self.offsets.get(topic)?.get(&partition)
    }

    /// Records a committed offset.
    pub(crate) fn set_offset(&mut self, topic: &str, partition: u32, value: OffsetAndMetadata) {
        self.last_commit_ms = Some(self.last_commit_ms.unwrap_or(0).max(value.commit_timestamp_ms));
        match self.offsets.get_mut(topic) {
            Some(partitions) => {
                partitions.insert(partition, value);
            }
            None => {
                self.offsets.insert(topic.to_owned(), BTreeMap::from([(partition, value)]));
            }
        }
    }

    /// Forgets a committed offset.
    pub(crate) fn remove_offset(&mut self, topic: &str, partition: u32) {
        if let Some(partitions) = self.offsets.get_mut(topic) {
            partitions.remove(&partition);
            if partitions.is_empty() {
                self.offsets.remove(topic);
            }
        }
    }

    /// Every committed offset, by topic then partition.
    pub fn committed(&self) -> impl Iterator<Item = (&str, u32, &OffsetAndMetadata)> {
        self.offsets.iter().flat_map(|(t, ps)| ps.iter().map(move |(p, o)| (t.as_str(), *p, o)))
    }

    /// Whether nothing about the group is worth keeping: no members, no
    /// offsets, no commit in flight, never a generation or a protocol type.
    pub(crate) fn is_blank(&self) -> bool {
        self.state == GroupState::Empty
            && self.members.is_empty()
            && self.offsets.is_empty()
            && self.pending_commits == 0
            && self.generation == 0
            && self.protocol_type.is_none()
    }

    /// Whether the group has a member with this id.
    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    /// Whether `member_id` leads the current generation.
    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// The protocols every member supports (every protocol of a lone member).
    pub fn candidate_protocols(&self) -> BTreeSet<&str> {
        let mut members = self.members.values();
        let Some(first) = members.next() else { return BTreeSet::new() };
        let mut candidates: BTreeSet<&str> = first.protocol_names().collect();
        for m in members {
            candidates.retain(|p| m.supports(p));
        }
        candidates
    }

    /// Whether a member with `protocol_type` and `protocols` may be in the
    /// group: anything non-empty for a group without members, else the same
    /// protocol type and at least one protocol every member supports.
    pub fn supports_protocols<'a>(&self, protocol_type: &str, mut protocols: impl Iterator<Item = &'a str>) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols.any(|p| candidates.contains(p))
    }

    /// The protocol for the next generation: among those every member
    /// supports, the one most members prefer (each member votes for its
    /// first choice among them), ties broken by the leader's order of
    /// preference, then by name. `None` without members or without a common
    /// protocol (which joins rule out).
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(choice) = m.protocol_names().find(|p| candidates.contains(p)) {
                *votes.entry(choice).or_default() += 1;
            }
        }
        let leader_rank = |p: &str| {
            self.leader
                .as_deref()
                .and_then(|l| self.members.get(l))
                .and_then(|l| l.protocol_names().position(|q| q == p))
                .unwrap_or(usize::MAX)
        };
        votes
            .into_iter()
            .max_by(|(a, va), (b, vb)| va.cmp(vb).then_with(|| leader_rank(b).cmp(&leader_rank(a))).then(b.cmp(a)))
            .map(|(p, _)| p.to_owned())
    }

    /// Whether every member has rejoined (has a held JoinGroup).
    pub fn all_members_joined(&self) -> bool {
        self.members.values().all(Member::is_awaiting_join)
    }

    /// The largest rebalance timeout among the members.
    pub fn max_rebalance_timeout_ms(&self) -> u64 {
        self.members.values().map(|m| u64::from(m.rebalance_timeout_ms)).max().unwrap_or(0)
    }

    /// When the current rebalance gives up on members that have not rejoined.
    pub fn rebalance_deadline_ms(&self) -> Option<u64> {
        self.rebalance.map(|r| r.started_ms.saturating_add(self.max_rebalance_timeout_ms()))
    }

    /// The earliest-joined member, preferring members that have rejoined: the
    /// leader when the current one is gone.
    pub(crate) fn elect_leader(&self) -> Option<String> {
        self.members.values().min_by_key(|m| (!m.is_awaiting_join(), m.join_seq)).map(|m| m.id.clone())
    }

    /// The group's metadata record value (members with their metadata for
    /// the current protocol and their assignments).
    pub(crate) fn metadata_value(&self, now_ms: u64) -> GroupMetadataValue {
        let protocol = self.protocol.clone().unwrap_or_default();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            leader: self.leader.clone().unwrap_or_default(),
            timestamp_ms: now_ms,
            members: self
                .members
                .values()
                .map(|m| MemberMetadataValue {
                    member_id: m.id.clone(),
                    client_id: m.client_id.clone(),
                    host: m.host.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    subscription: m.metadata(&protocol).to_vec(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
            protocol,
        }
    }

    /// The next generation id (wrapping past `i32::MAX` to 1).
    pub(crate) fn next_generation(&self) -> i32 {
        self.generation.checked_add(1).unwrap_or(1).max(1)
    }

    /// Moves the group to `state` at `now_ms`.
    pub(crate) fn transition(&mut self, state: GroupState, now_ms: u64) {
        self.state = state;
        self.state_timestamp_ms = now_ms;
    }

    /// When this group's offsets expire, if it is expirable at all: an Empty
    /// group with no commit in flight, `retention_ms` after both its last
    /// commit and the moment it became empty.
    pub fn expiry_ms(&self, retention_ms: u64) -> Option<u64> {
        if self.state != GroupState::Empty || !self.members.is_empty() || self.pending_commits > 0 {
            return None;
        }
        let since = self.last_commit_ms.unwrap_or(0).max(self.state_timestamp_ms);
        Some(since.saturating_add(retention_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, seq: u64, protocols: &[&str]) -> Member {
        Member {
            id: id.into(),
            client_id: "c".into(),
            host: "h".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocols: protocols
                .iter()
                .map(|p| JoinGroupProtocol { name: (*p).into(), metadata: p.as_bytes().to_vec() })
                .collect(),
            assignment: vec![],
            last_heartbeat_ms: 0,
            join_seq: seq,
            pending_join: None,
            pending_sync: None,
        }
    }

    fn group(members: &[Member]) -> Group {
        let mut g = Group::new("g".into(), 0, 0);
        g.protocol_type = Some("consumer".into());
        for m in members {
            g.members.insert(m.id.clone(), m.clone());
        }
        g.leader = g.elect_leader();
        g
    }

    #[test]
    fn protocol_with_most_votes_among_common_ones() {
        let g = group(&[
            member("a", 0, &["range", "roundrobin"]),
            member("b", 1, &["roundrobin", "range"]),
            member("c", 2, &["roundrobin", "range", "sticky"]),
        ]);
        assert_eq!(g.candidate_protocols().into_iter().collect::<Vec<_>>(), ["range", "roundrobin"]);
        assert_eq!(g.select_protocol().as_deref(), Some("roundrobin"));
        // "sticky" is preferred by one member but not supported by all.
        let g = group(&[member("a", 0, &["sticky", "range"]), member("b", 1, &["range"])]);
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
    }

    #[test]
    fn ties_go_to_the_leaders_preference() {
        let g = group(&[member("a", 0, &["roundrobin", "range"]), member("b", 1, &["range", "roundrobin"])]);
        assert_eq!(g.leader.as_deref(), Some("a"));
        assert_eq!(g.select_protocol().as_deref(), Some("roundrobin"));
        let g = group(&[member("a", 5, &["roundrobin", "range"]), member("b", 1, &["range", "roundrobin"])]);
        assert_eq!(g.leader.as_deref(), Some("b"));
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
    }

    #[test]
    fn supports_protocols_needs_type_and_a_common_protocol() {
        let empty = Group::new("g".into(), 0, 0);
        assert!(empty.supports_protocols("consumer", ["range"].into_iter()));
        assert!(!empty.supports_protocols("", ["range"].into_iter()));
        let g = group(&[member("a", 0, &["range", "sticky"]), member("b", 1, &["sticky"])]);
        assert!(g.supports_protocols("consumer", ["roundrobin", "sticky"].into_iter()));
        assert!(!g.supports_protocols("consumer", ["range"].into_iter()));
        assert!(!g.supports_protocols("connect", ["sticky"].into_iter()));
    }

    #[test]
    fn leader_election_prefers_rejoined_then_earliest() {
        let mut a = member("a", 0, &["range"]);
        let mut b = member("b", 1, &["range"]);
        let c = member("c", 2, &["range"]);
        assert_eq!(group(&[a.clone(), b.clone(), c.clone()]).elect_leader().as_deref(), Some("a"));
        b.pending_join = Some(RequestId(1));
        assert_eq!(group(&[a.clone(), b.clone(), c.clone()]).elect_leader().as_deref(), Some("b"));
        a.pending_join = Some(RequestId(2));
        assert_eq!(group(&[a, b, c]).elect_leader().as_deref(), Some("a"));
        assert_eq!(Group::new("g".into(), 0, 0).elect_leader(), None);
    }

    #[test]
    fn expiry_only_for_idle_empty_groups() {
        let mut g = Group::new("g".into(), 0, 100);
        assert_eq!(g.expiry_ms(1_000), Some(1_100));
        g.last_commit_ms = Some(500);
        assert_eq!(g.expiry_ms(1_000), Some(1_500));
        g.pending_commits = 1;
        assert_eq!(g.expiry_ms(1_000), None);
        let g = group(&[member("a", 0, &["range"])]);
        assert_eq!(g.expiry_ms(1_000), None);
    }

    #[test]
    fn session_deadline_paused_while_awaiting() {
        let mut m = member("a", 0, &["range"]);
        m.last_heartbeat_ms = 1_000;
        assert_eq!(m.session_deadline_ms(), Some(11_000));
        m.pending_sync = Some(RequestId(3));
        assert_eq!(m.session_deadline_ms(), None);
    }

    #[test]
    fn generation_wraps_to_one() {
        let mut g = Group::new("g".into(), 0, 0);
        assert_eq!(g.next_generation(), 1);
        g.generation = i32::MAX;
        assert_eq!(g.next_generation(), 1);
    }
}
