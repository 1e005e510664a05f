//! [`GroupCoordinator`]: every group of one coordinator, as an I/O-free state
//! machine: `handle(now, event) -> commands`. See the [module
//! docs](super) for how a runtime drives it.

use std::collections::{BTreeMap, HashMap};

use super::group::{Group, Member, OffsetAndMetadata, Rebalance};
use super::records::{GroupMetadataValue, OffsetCommitValue, OffsetsRecord, RecordError, RecordKey};
use super::{coordinator_partition, DEFAULT_OFFSETS_TOPIC_PARTITIONS, OFFSETS_TOPIC};
use crate::protocol::consumer_protocol::{CONSUMER_PROTOCOL_TYPE, KNOWN_ASSIGNORS};
use crate::protocol::limits::{MAX_GROUP_MEMBERS, MAX_HOST_LEN};
use crate::protocol::{
    truncate_message, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    DescribedGroup, DescribedGroupMember, ErrorCode, GroupResult, GroupState, HeartbeatRequest, HeartbeatResponse,
    JoinGroupMember, JoinGroupProtocol, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    ListGroupsRequest, ListGroupsResponse, ListedGroup, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchPartitionResponse, OffsetFetchRequest, OffsetFetchResponse, OffsetFetchTopicResponse, Request, Response,
    SyncGroupRequest, SyncGroupResponse,
};

/// Identifies a request the runtime handed in, so it can route the
/// [`Command::Respond`] back to the right connection. Chosen by the runtime
/// (e.g. a connection id and the frame's correlation id packed together);
/// the coordinator only requires that requests it still holds have distinct ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Identifies a [`Persist`]; the runtime reports its outcome with
/// [`Event::Persisted`] carrying the same id. Assigned by the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersistId(pub u64);

/// Settings of a [`GroupCoordinator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// Partitions of `__consumer_offsets` (`P` in `hash(group) % P`). Must be
    /// the same on every broker and never change. Default 16.
    pub offsets_topic_partitions: u32,
    /// How long an Empty group's offsets are kept after its last commit (and
    /// after it became empty). Default 7 days (Kafka's `offsets.retention.minutes`).
    pub offsets_retention_ms: u64,
    /// Smallest session timeout a member may ask for. Default 6 s (Kafka's
    /// `group.min.session.timeout.ms`).
    pub min_session_timeout_ms: u32,
    /// Largest session timeout a member may ask for. Default 30 min (Kafka's
    /// `group.max.session.timeout.ms`).
    pub max_session_timeout_ms: u32,
    /// How long the first rebalance of an Empty group waits for more members
    /// before completing (extended by each new member, up to the rebalance
    /// timeout), so consumers started together form one generation instead of
    /// one per member. 0 disables it. Default 3 s (Kafka's
    /// `group.initial.rebalance.delay.ms`).
    pub initial_rebalance_delay_ms: u32,
    /// Most members a group may have; a join beyond it gets `InvalidRequest`.
    /// Default (and ceiling) [`MAX_GROUP_MEMBERS`].
    pub max_group_size: usize,
    /// Differs between runs of this coordinator (the runtime sets it, e.g. to
    /// the start time in ms or a random number). Generated member ids are
    /// `{client_id}-{incarnation:x}-{counter}`, so a member of a previous run
    /// is never mistaken for a new one with the same id.
    pub incarnation: u64,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            offsets_topic_partitions: DEFAULT_OFFSETS_TOPIC_PARTITIONS,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 30 * 60 * 1000,
            initial_rebalance_delay_ms: 3_000,
            max_group_size: MAX_GROUP_MEMBERS,
            incarnation: 0,
        }
    }
}

/// Something that happened: a request arrived, a persist completed, time
/// passed, or a partition of `__consumer_offsets` came or went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A JoinGroup request. `client_host` is the client's address as the
    /// runtime saw it (shown by DescribeGroups).
    Join {
        /// The request's id.
        req: RequestId,
        /// The client's address.
        client_host: String,
        /// The request.
        request: JoinGroupRequest,
    },
    /// A SyncGroup request.
    Sync {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: SyncGroupRequest,
    },
    /// A Heartbeat request.
    Heartbeat {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: HeartbeatRequest,
    },
    /// A LeaveGroup request.
    Leave {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: LeaveGroupRequest,
    },
    /// An OffsetCommit request.
    CommitOffsets {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: OffsetCommitRequest,
    },
    /// An OffsetFetch request.
    FetchOffsets {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: OffsetFetchRequest,
    },
    /// A ListGroups request.
    ListGroups {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: ListGroupsRequest,
    },
    /// A DescribeGroups request.
    DescribeGroups {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: DescribeGroupsRequest,
    },
    /// A DeleteGroups request.
    DeleteGroups {
        /// The request's id.
        req: RequestId,
        /// The request.
        request: DeleteGroupsRequest,
    },
    /// The outcome of a [`Command::Persist`]: `Ok` once its records are
    /// durable in `__consumer_offsets`, `Err` with the storage error if they
    /// could not be appended (the coordinator answers the affected requests
    /// with a retriable group error).
    Persisted {
        /// The persist's id.
        id: PersistId,
        /// Durable, or why not.
        result: Result<(), ErrorCode>,
    },
    /// Time passed: expire sessions, complete rebalances whose timeout (or
    /// initial delay) passed, expire old empty groups. Send at least every
    /// few hundred ms, or at [`GroupCoordinator::next_deadline`].
    Tick,
    /// This coordinator now owns `partition` of `__consumer_offsets` and is
    /// about to [`replay`](GroupCoordinator::replay) it: its groups' requests
    /// get `CoordinatorNotAvailable` until [`Event::Loaded`].
    Loading {
        /// The `__consumer_offsets` partition.
        partition: u32,
    },
    /// The replay of `partition` is complete: serve its groups.
    Loaded {
        /// The `__consumer_offsets` partition.
        partition: u32,
    },
    /// This coordinator no longer owns `partition`: forget its groups
    /// (held requests are answered `NotCoordinator`).
    Unloaded {
        /// The `__consumer_offsets` partition.
        partition: u32,
    },
}

impl Event {
    /// The event for a decoded request of a coordinator api (see
    /// [`ApiKey::is_coordinator_api`](crate::protocol::ApiKey::is_coordinator_api));
    /// any other request is handed back.
    #[allow(clippy::result_large_err)] // the caller's own request, handed back unmoved
    pub fn from_request(req: RequestId, request: Request, client_host: &str) -> Result<Event, Request> {
        Ok(match request {
            Request::JoinGroup(request) => Event::Join { req, client_host: client_host.to_owned(), request },
            Request::SyncGroup(request) => Event::Sync { req, request },
            Request::Heartbeat(request) => Event::Heartbeat { req, request },
            Request::LeaveGroup(request) => Event::Leave { req, request },
            Request::OffsetCommit(request) => Event::CommitOffsets { req, request },
            Request::OffsetFetch(request) => Event::FetchOffsets { req, request },
            Request::ListGroups(request) => Event::ListGroups { req, request },
            Request::DescribeGroups(request) => Event::DescribeGroups { req, request },
            Request::DeleteGroups(request) => Event::DeleteGroups { req, request },
            other => return Err(other),
        })
    }
}

/// What the runtime must do. Execute in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send `response` to the client that sent request `req` (drop it if that
    /// connection is gone). Every request handed in is answered by exactly
    /// one `Respond`, possibly much later (joins and syncs are held).
    Respond {
        /// The request answered.
        req: RequestId,
        /// The answer.
        response: Response,
    },
    /// Append records to `__consumer_offsets` and report the outcome with
    /// [`Event::Persisted`].
    Persist(Persist),
}

/// Records to append to one partition of `__consumer_offsets`, as one batch,
/// durably (the topic's flush policy; `acks=all` in a cluster). Persists of
/// one partition must be appended in the order they were emitted. Every
/// `Persist` must be answered by exactly one [`Event::Persisted`] — also
/// after [`Event::Unloaded`] (with an error then, if it was not appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persist {
    /// Echo this in [`Event::Persisted`].
    pub id: PersistId,
    /// The `__consumer_offsets` partition to append to.
    pub partition: u32,
    /// The records, in order (keys and values as in [`super::records`]).
    pub records: Vec<OffsetsRecord>,
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CoordinatorStats {
    /// Groups held in memory (loaded partitions only).
    pub groups: usize,
    /// Members over all groups.
    pub members: usize,
    /// Groups in PreparingRebalance or CompletingRebalance.
    pub rebalancing_groups: usize,
    /// Persists emitted but not yet reported back.
    pub pending_persists: usize,
}

/// Whether this coordinator serves a partition of `__consumer_offsets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartitionStatus {
    Loading,
    Loaded,
}

/// What to do when a persist completes.
#[derive(Debug, Clone)]
enum PendingPersist {
    /// Offset commits: apply them and answer the request.
    Commit { req: RequestId, group: String, incarnation: u64, request: OffsetCommitRequest, offsets: Vec<NewOffset> },
    /// The leader's assignment: make the group Stable and answer the syncs.
    Sync { group: String, incarnation: u64, assignments: BTreeMap<String, Vec<u8>> },
    /// Tombstones of deleted groups: answer the DeleteGroups request once all
    /// of its persists are done (`indices` are its results these cover).
    Delete { req: RequestId, indices: Vec<usize> },
    /// Nothing waits on it (empty-group metadata, expiry tombstones).
    Background,
}

/// An offset commit waiting to be durable.
#[derive(Debug, Clone)]
struct NewOffset {
    topic: String,
    partition: u32,
    value: OffsetAndMetadata,
}

/// A DeleteGroups request waiting for its tombstones.
#[derive(Debug)]
struct PendingDelete {
    outstanding: usize,
    results: Vec<GroupResult>,
}

/// A request-level failure: the code and a message for the client.
type Failure = (ErrorCode, String);

/// Every group of one coordinator (one core), for the partitions of
/// `__consumer_offsets` it owns. See the [module docs](super).
#[derive(Debug)]
pub struct GroupCoordinator {
    config: CoordinatorConfig,
    groups: BTreeMap<String, Group>,
    partitions: BTreeMap<u32, PartitionStatus>,
    persists: BTreeMap<PersistId, PendingPersist>,
    deletes: HashMap<RequestId, PendingDelete>,
    next_persist: u64,
    next_member: u64,
    next_join_seq: u64,
    next_incarnation: u64,
}

impl GroupCoordinator {
    /// A coordinator owning no partition yet (send [`Event::Loading`] /
    /// [`Event::Loaded`] for the ones it owns).
    pub fn new(mut config: CoordinatorConfig) -> Self {
        config.offsets_topic_partitions = config.offsets_topic_partitions.max(1);
        config.max_group_size = config.max_group_size.clamp(1, MAX_GROUP_MEMBERS);
        GroupCoordinator {
            config,
            groups: BTreeMap::new(),
            partitions: BTreeMap::new(),
            persists: BTreeMap::new(),
            deletes: HashMap::new(),
            next_persist: 0,
            next_member: 0,
            next_join_seq: 0,
            next_incarnation: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CoordinatorConfig {
        &self.config
    }

    /// The `__consumer_offsets` partition that holds `group_id`.
    pub fn partition_of(&self, group_id: &str) -> u32 {
        coordinator_partition(group_id, self.config.offsets_topic_partitions)
    }

    /// A group, if this coordinator holds it (loading or loaded).
    pub fn group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    /// Every group held, by id.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Counts for metrics.
    pub fn stats(&self) -> CoordinatorStats {
        CoordinatorStats {
            groups: self.groups.len(),
            members: self.groups.values().map(|g| g.members.len()).sum(),
            rebalancing_groups: self
                .groups
                .values()
                .filter(|g| matches!(g.state, GroupState::PreparingRebalance | GroupState::CompletingRebalance))
                .count(),
            pending_persists: self.persists.len(),
        }
    }

    /// The earliest time (ms) at which an [`Event::Tick`] would change
    /// something: a session expiry, a rebalance timeout or initial delay, an
    /// offsets expiry. `None` if nothing is scheduled.
    pub fn next_deadline(&self) -> Option<u64> {
        let retention = self.config.offsets_retention_ms;
        self.groups
            .values()
            .flat_map(|g| {
                let sessions = g.members.values().filter_map(Member::session_deadline_ms);
                let rebalance = g.rebalance_deadline_ms();
                let delay = g.rebalance.and_then(|r| r.initial_delay_until_ms).filter(|_| g.all_members_joined());
                sessions.chain(rebalance).chain(delay).chain(g.expiry_ms(retention))
            })
            .min()
    }

    /// Applies one record replayed from `__consumer_offsets` (between
    /// [`Event::Loading`] and [`Event::Loaded`] of its partition). Groups come
    /// back Empty, with their committed offsets, protocol type and
    /// generation; members rejoin (as in Kafka after a coordinator move). A
    /// record that does not decode is an error the caller logs and skips.
    pub fn replay(&mut self, key: &[u8], value: &[u8]) -> Result<(), RecordError> {
        match RecordKey::decode(key)? {
            RecordKey::OffsetCommit { group, topic, partition } => {
                if value.is_empty() {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.remove_offset(&topic, partition);
                    }
                } else {
                    let v = OffsetCommitValue::decode(value)?;
                    let g = self.replayed_group(group, v.commit_timestamp_ms);
                    g.set_offset(
                        &topic,
                        partition,
                        OffsetAndMetadata {
                            offset: v.offset,
                            metadata: v.metadata,
                            commit_timestamp_ms: v.commit_timestamp_ms,
                        },
                    );
                }
            }
            RecordKey::GroupMetadata { group } => {
                if value.is_empty() {
                    // Only groups without members (the only kind a replay makes).
                    if self.groups.get(&group).is_some_and(|g| g.members.is_empty()) {
                        self.groups.remove(&group);
                    }
                } else {
                    let v = GroupMetadataValue::decode(value)?;
                    let g = self.replayed_group(group, v.timestamp_ms);
                    if g.members.is_empty() {
                        g.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type);
                        g.generation = v.generation;
                        g.state_timestamp_ms = g.state_timestamp_ms.max(v.timestamp_ms);
                    }
                }
            }
        }
        Ok(())
    }

    /// Records that rebuild the current state of `partition`'s groups (group
    /// metadata, then offsets), e.g. to rewrite a compacted copy of the log.
    pub fn snapshot(&self, partition: u32, now_ms: u64) -> Vec<OffsetsRecord> {
        let mut records = Vec::new();
        for g in self.groups.values().filter(|g| self.partition_of(&g.id) == partition) {
            if g.protocol_type.is_some() || g.generation != 0 {
                records.push(OffsetsRecord {
                    key: RecordKey::GroupMetadata { group: g.id.clone() }.encode(),
                    value: g.metadata_value(now_ms).encode(),
                });
            }
            records.extend(g.committed().map(|(topic, partition, o)| offset_record(&g.id, topic, partition, o)));
        }
        records
    }

    /// Handles one event at time `now_ms` (wall-clock ms since the Unix
    /// epoch: it is persisted with commits for retention) and returns what
    /// the runtime must do, in order.
    pub fn handle(&mut self, now_ms: u64, event: Event) -> Vec<Command> {
        let mut out = Vec::new();
        let now = now_ms;
        match event {
            Event::Join { req, client_host, request } => self.join(now, req, client_host, request, &mut out),
            Event::Sync { req, request } => self.sync(now, req, request, &mut out),
            Event::Heartbeat { req, request } => {
                let error = self.heartbeat(now, &request).err();
                let (error, error_message) = split(error);
                respond(&mut out, req, Response::Heartbeat(HeartbeatResponse { error, error_message }));
            }
            Event::Leave { req, request } => self.leave(now, req, request, &mut out),
            Event::CommitOffsets { req, request } => self.commit(now, req, request, &mut out),
            Event::FetchOffsets { req, request } => {
                let response = self.fetch_offsets(&request);
                respond(&mut out, req, Response::OffsetFetch(response));
            }
            Event::ListGroups { req, request } => {
                let response = self.list_groups(&request);
                respond(&mut out, req, Response::ListGroups(response));
            }
            Event::DescribeGroups { req, request } => {
                let response = self.describe_groups(&request);
                respond(&mut out, req, Response::DescribeGroups(response));
            }
            Event::DeleteGroups { req, request } => self.delete_groups(req, request, &mut out),
            Event::Persisted { id, result } => self.persisted(now, id, result, &mut out),
            Event::Tick => self.tick(now, &mut out),
            Event::Loading { partition } => {
                self.drop_partition(partition, &mut out);
                self.partitions.insert(partition, PartitionStatus::Loading);
            }
            Event::Loaded { partition } => {
                self.partitions.insert(partition, PartitionStatus::Loaded);
            }
            Event::Unloaded { partition } => {
                self.drop_partition(partition, &mut out);
                self.partitions.remove(&partition);
            }
        }
        out
    }

    // ---- routing -------------------------------------------------------

    /// The group's partition if this coordinator serves it now, else the
    /// error to answer with.
    fn route(&self, group_id: &str) -> Result<u32, Failure> {
        if group_id.is_empty() {
            return Err((ErrorCode::InvalidRequest, "the group id must not be empty".into()));
        }
        let p = self.partition_of(group_id);
        match self.partitions.get(&p) {
            Some(PartitionStatus::Loaded) => Ok(p),
            Some(PartitionStatus::Loading) => Err((
                ErrorCode::CoordinatorNotAvailable,
                format!("the coordinator is still loading {OFFSETS_TOPIC}/{p}"),
            )),
            None => Err((ErrorCode::NotCoordinator, format!("{OFFSETS_TOPIC}/{p} is not coordinated here"))),
        }
    }

    /// Forgets the groups of `partition`, answering their held requests.
    fn drop_partition(&mut self, partition: u32, out: &mut Vec<Command>) {
        let ids: Vec<String> = self.groups.keys().filter(|id| self.partition_of(id) == partition).cloned().collect();
        for id in ids {
            if let Some(group) = self.groups.remove(&id) {
                let msg = "the group's coordinator moved; find it again";
                for m in group.members.values() {
                    answer_held(m, ErrorCode::NotCoordinator, msg, out);
                }
            }
        }
    }

    /// Puts a group taken out of the map back, unless there is nothing to keep.
    fn put_back(&mut self, group: Group) {
        if !group.is_blank() {
            self.groups.insert(group.id.clone(), group);
        }
    }

    fn replayed_group(&mut self, id: String, timestamp_ms: u64) -> &mut Group {
        let incarnation = &mut self.next_incarnation;
        self.groups.entry(id.clone()).or_insert_with(|| {
            *incarnation += 1;
            Group::new(id, *incarnation, timestamp_ms)
        })
    }

    fn new_group(&mut self, id: String, now: u64) -> Group {
        self.next_incarnation += 1;
        Group::new(id, self.next_incarnation, now)
    }

    fn new_member_id(&mut self, client_id: &str) -> String {
        self.next_member += 1;
        let prefix = if client_id.is_empty() { "member" } else { client_id };
        format!("{prefix}-{:x}-{}", self.config.incarnation, self.next_member)
    }

    fn persist(
        &mut self,
        partition: u32,
        records: Vec<OffsetsRecord>,
        then: PendingPersist,
        out: &mut Vec<Command>,
    ) -> PersistId {
        let id = PersistId(self.next_persist);
        self.next_persist += 1;
        self.persists.insert(id, then);
        out.push(Command::Persist(Persist { id, partition, records }));
        id
    }

    // ---- join ----------------------------------------------------------

    fn join(&mut self, now: u64, req: RequestId, host: String, r: JoinGroupRequest, out: &mut Vec<Command>) {
        if let Err((code, msg)) = self.join_inner(now, req, host, &r, out) {
            respond(out, req, Response::JoinGroup(JoinGroupResponse::error(code, truncate_message(msg), &r.member_id)));
        }
    }

    /// Handles a join; `Err` is answered by the caller.
    fn join_inner(
        &mut self,
        now: u64,
        req: RequestId,
        host: String,
        r: &JoinGroupRequest,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        self.route(&r.group_id)?;
        let (min, max) = (self.config.min_session_timeout_ms, self.config.max_session_timeout_ms);
        if !(min..=max).contains(&r.session_timeout_ms) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("session timeout {} ms is outside [{min}, {max}] ms", r.session_timeout_ms),
            ));
        }
        if r.protocol_type.is_empty() || r.protocols.is_empty() {
            return Err((
                ErrorCode::InconsistentGroupProtocol,
                "a join must name a protocol type and at least one protocol".into(),
            ));
        }
        if r.protocol_type == CONSUMER_PROTOCOL_TYPE && !r.protocols.iter().any(|p| KNOWN_ASSIGNORS.contains(&&*p.name))
        {
            let offered: Vec<&str> = r.protocols.iter().map(|p| p.name.as_str()).collect();
            return Err((
                ErrorCode::InconsistentGroupProtocol,
                format!("no known assignor among {offered:?}; known: {KNOWN_ASSIGNORS:?}"),
            ));
        }
        let mut group = match self.groups.remove(&r.group_id) {
            Some(g) => g,
            None if r.member_id.is_empty() => self.new_group(r.group_id.clone(), now),
            None => return Err((ErrorCode::UnknownMemberId, format!("group {:?} has no members", r.group_id))),
        };
        let result = if r.member_id.is_empty() {
            self.join_new_member(now, req, host, r, &mut group, out)
        } else {
            self.join_known_member(now, req, host, r, &mut group, out)
        };
        self.put_back(group);
        result
    }

    fn join_new_member(
        &mut self,
        now: u64,
        req: RequestId,
        host: String,
        r: &JoinGroupRequest,
        group: &mut Group,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        check_protocols(group, r)?;
        if group.members.len() >= self.config.max_group_size {
            return Err((
                ErrorCode::InvalidRequest,
                format!("group {:?} is full ({} members)", group.id, self.config.max_group_size),
            ));
        }
        let member_id = self.new_member_id(&r.client_id);
        self.next_join_seq += 1;
        let mut member = Member {
            id: member_id.clone(),
            client_id: String::new(),
            host: String::new(),
            session_timeout_ms: 0,
            rebalance_timeout_ms: 0,
            protocols: Vec::new(),
            assignment: Vec::new(),
            last_heartbeat_ms: now,
            join_seq: self.next_join_seq,
            pending_join: Some(req),
            pending_sync: None,
        };
        update_member(&mut member, now, host, r);
        if group.members.is_empty() {
            group.protocol_type = Some(r.protocol_type.clone());
        }
        group.members.insert(member_id.clone(), member);
        if group.leader.is_none() {
            group.leader = Some(member_id);
        }
        match group.state {
            GroupState::PreparingRebalance => {
                // A new member extends the initial delay (up to the rebalance timeout).
                let delay = u64::from(self.config.initial_rebalance_delay_ms);
                let cap = group.rebalance_deadline_ms();
                if let Some(rb) = group.rebalance.as_mut() {
                    if let Some(until) = rb.initial_delay_until_ms {
                        let extended = now.saturating_add(delay).min(cap.unwrap_or(u64::MAX));
                        rb.initial_delay_until_ms = Some(until.max(extended));
                    }
                }
            }
            _ => self.prepare_rebalance(group, now, out),
        }
        self.maybe_complete_join(group, now, out);
        Ok(())
    }

    fn join_known_member(
        &mut self,
        now: u64,
        req: RequestId,
        host: String,
        r: &JoinGroupRequest,
        group: &mut Group,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        let Some(member) = group.members.get(&r.member_id) else {
            return Err((ErrorCode::UnknownMemberId, format!("{:?} is not a member of {:?}", r.member_id, group.id)));
        };
        check_protocols(group, r)?;
        let same_protocols = member.protocols == dedup_protocols(&r.protocols);
        let rebalance = match group.state {
            GroupState::Empty | GroupState::Dead => {
                return Err((ErrorCode::UnknownMemberId, format!("{:?} is not a member", r.member_id)))
            }
            GroupState::PreparingRebalance => false,
            GroupState::CompletingRebalance => !same_protocols,
            GroupState::Stable => !same_protocols || group.is_leader(&r.member_id),
        };
        if group.state != GroupState::PreparingRebalance && !rebalance {
            // Nothing changes: the member gets the current generation again.
            if let Some(m) = group.members.get_mut(&r.member_id) {
                m.last_heartbeat_ms = now;
            }
            respond(out, req, Response::JoinGroup(join_response(group, &r.member_id)));
            return Ok(());
        }
        if let Some(m) = group.members.get_mut(&r.member_id) {
            update_member(m, now, host, r);
            if let Some(old) = m.pending_join.replace(req) {
                let superseded = "superseded by a newer JoinGroup of the same member";
                let e = JoinGroupResponse::error(ErrorCode::RebalanceInProgress, superseded, &r.member_id);
                respond(out, old, Response::JoinGroup(e));
            }
        }
        if rebalance {
            self.prepare_rebalance(group, now, out);
        }
        self.maybe_complete_join(group, now, out);
        Ok(())
    }

    /// Starts a rebalance: the group waits for its members to rejoin.
    fn prepare_rebalance(&mut self, group: &mut Group, now: u64, out: &mut Vec<Command>) {
        if group.state == GroupState::CompletingRebalance {
            for m in group.members.values_mut() {
                if let Some(req) = m.pending_sync.take() {
                    let e =
                        SyncGroupResponse::error(ErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin");
                    respond(out, req, Response::SyncGroup(e));
                }
            }
        }
        group.sync_persist = None;
        for m in group.members.values_mut() {
            m.assignment.clear();
        }
        let delay = u64::from(self.config.initial_rebalance_delay_ms);
        let initial_delay_until_ms = (group.state == GroupState::Empty && delay > 0)
            .then(|| now.saturating_add(delay.min(group.max_rebalance_timeout_ms())));
        group.rebalance = Some(Rebalance { started_ms: now, initial_delay_until_ms });
        group.transition(GroupState::PreparingRebalance, now);
    }

    /// Completes the join phase if every member has rejoined (and the
    /// initial delay is over), or the rebalance timeout has passed.
    fn maybe_complete_join(&mut self, group: &mut Group, now: u64, out: &mut Vec<Command>) {
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        let Some(rb) = group.rebalance else { return };
        let timed_out = group.rebalance_deadline_ms().is_some_and(|d| now >= d);
        let delay_over = rb.initial_delay_until_ms.is_none_or(|t| now >= t);
        if group.members.is_empty() || timed_out || (group.all_members_joined() && delay_over) {
            self.complete_join(group, now, out);
        }
    }

    /// Forms the next generation from the members that rejoined.
    fn complete_join(&mut self, group: &mut Group, now: u64, out: &mut Vec<Command>) {
        let laggards: Vec<String> =
            group.members.values().filter(|m| !m.is_awaiting_join()).map(|m| m.id.clone()).collect();
        for id in laggards {
            if let Some(m) = group.members.remove(&id) {
                answer_held(&m, ErrorCode::UnknownMemberId, "removed: did not rejoin in time", out);
            }
        }
        if !group.leader.as_ref().is_some_and(|l| group.members.contains_key(l)) {
            group.leader = group.elect_leader();
        }
        group.rebalance = None;
        group.generation = group.next_generation();
        if group.members.is_empty() {
            group.protocol = None;
            group.leader = None;
            group.transition(GroupState::Empty, now);
            let record = group_metadata_record(group, now);
            let partition = self.partition_of(&group.id);
            self.persist(partition, vec![record], PendingPersist::Background, out);
            return;
        }
        group.protocol = group.select_protocol();
        group.transition(GroupState::CompletingRebalance, now);
        let ids: Vec<String> = group.members.keys().cloned().collect();
        for id in ids {
            let response = join_response(group, &id);
            if let Some(m) = group.members.get_mut(&id) {
                m.last_heartbeat_ms = now;
                if let Some(req) = m.pending_join.take() {
                    respond(out, req, Response::JoinGroup(response));
                }
            }
        }
    }

    // ---- sync ----------------------------------------------------------

    fn sync(&mut self, now: u64, req: RequestId, r: SyncGroupRequest, out: &mut Vec<Command>) {
        let result = self.route(&r.group_id).and_then(|partition| match self.groups.remove(&r.group_id) {
            None => Err((ErrorCode::UnknownMemberId, format!("group {:?} has no members", r.group_id))),
            Some(mut group) => {
                let result = self.sync_in_group(now, req, partition, &r, &mut group, out);
                self.put_back(group);
                result
            }
        });
        if let Err((code, msg)) = result {
            respond(out, req, Response::SyncGroup(SyncGroupResponse::error(code, truncate_message(msg))));
        }
    }

    fn sync_in_group(
        &mut self,
        now: u64,
        req: RequestId,
        partition: u32,
        r: &SyncGroupRequest,
        group: &mut Group,
        out: &mut Vec<Command>,
    ) -> Result<(), Failure> {
        check_member(group, &r.member_id, r.generation_id)?;
        match group.state {
            GroupState::Empty | GroupState::Dead => {
                Err((ErrorCode::UnknownMemberId, format!("{:?} is not a member", r.member_id)))
            }
            GroupState::PreparingRebalance => {
                Err((ErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin".into()))
            }
            GroupState::Stable => {
                let m = group.members.get_mut(&r.member_id).ok_or_else(|| unknown_member(&r.member_id))?;
                m.last_heartbeat_ms = now;
                let response = SyncGroupResponse { assignment: m.assignment.clone(), ..Default::default() };
                respond(out, req, Response::SyncGroup(response));
                Ok(())
            }
            GroupState::CompletingRebalance => {
                let m = group.members.get_mut(&r.member_id).ok_or_else(|| unknown_member(&r.member_id))?;
                m.last_heartbeat_ms = now;
                if let Some(old) = m.pending_sync.replace(req) {
                    let superseded = "superseded by a newer SyncGroup of the same member";
                    respond(
                        out,
                        old,
                        Response::SyncGroup(SyncGroupResponse::error(ErrorCode::RebalanceInProgress, superseded)),
                    );
                }
                if group.is_leader(&r.member_id) && group.sync_persist.is_none() {
                    // Every member gets an entry; ids the leader made up are ignored.
                    let mut assignments: BTreeMap<String, Vec<u8>> =
                        group.members.keys().map(|id| (id.clone(), Vec::new())).collect();
                    for a in &r.assignments {
                        if let Some(slot) = assignments.get_mut(&a.member_id) {
                            slot.clone_from(&a.assignment);
                        }
                    }
                    let mut value = group.metadata_value(now);
                    for m in &mut value.members {
                        m.assignment = assignments.get(&m.member_id).cloned().unwrap_or_default();
                    }
                    let record = OffsetsRecord {
                        key: RecordKey::GroupMetadata { group: group.id.clone() }.encode(),
                        value: value.encode(),
                    };
                    let then =
                        PendingPersist::Sync { group: group.id.clone(), incarnation: group.incarnation, assignments };
                    group.sync_persist = Some(self.persist(partition, vec![record], then, out));
                }
                Ok(())
            }
        }
    }

    // ---- heartbeat and leave --------------------------------------------

    fn heartbeat(&mut self, now: u64, r: &HeartbeatRequest) -> Result<(), Failure> {
        self.route(&r.group_id)?;
        let group = self.groups.get_mut(&r.group_id).ok_or_else(|| unknown_member(&r.member_id))?;
        check_member(group, &r.member_id, r.generation_id)?;
        let state = group.state;
        let m = group.members.get_mut(&r.member_id).ok_or_else(|| unknown_member(&r.member_id))?;
        match state {
            GroupState::Empty | GroupState::Dead => Err(unknown_member(&r.member_id)),
            GroupState::PreparingRebalance => {
                m.last_heartbeat_ms = now;
                Err((ErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin".into()))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.last_heartbeat_ms = now;
                Ok(())
            }
        }
    }

    fn leave(&mut self, now: u64, req: RequestId, r: LeaveGroupRequest, out: &mut Vec<Command>) {
        let result = self.route(&r.group_id).and_then(|_| {
            let mut group = self.groups.remove(&r.group_id).ok_or_else(|| unknown_member(&r.member_id))?;
            let result = if group.has_member(&r.member_id) {
                self.remove_member(&mut group, &r.member_id, "left the group", now, out);
                Ok(())
            } else {
                Err(unknown_member(&r.member_id))
            };
            self.put_back(group);
            result
        });
        let (error, error_message) = split(result.err());
        respond(out, req, Response::LeaveGroup(LeaveGroupResponse { error, error_message }));
    }

    /// Removes a member (answering its held requests) and rebalances.
    fn remove_member(&mut self, group: &mut Group, member_id: &str, why: &str, now: u64, out: &mut Vec<Command>) {
        if let Some(m) = group.members.remove(member_id) {
            answer_held(&m, ErrorCode::UnknownMemberId, why, out);
        }
        if group.is_leader(member_id) {
            group.leader = group.elect_leader();
        }
        if matches!(group.state, GroupState::Stable | GroupState::CompletingRebalance) {
            self.prepare_rebalance(group, now, out);
        }
        self.maybe_complete_join(group, now, out);
    }

    // ---- offsets ---------------------------------------------------------

    fn commit(&mut self, now: u64, req: RequestId, r: OffsetCommitRequest, out: &mut Vec<Command>) {
        let checked = self.route(&r.group_id).and_then(|partition| {
            let mut group = match self.groups.remove(&r.group_id) {
                Some(g) => g,
                None if r.generation_id < 0 => self.new_group(r.group_id.clone(), now),
                None => {
                    return Err((
                        ErrorCode::IllegalGeneration,
                        format!(
                            "group {:?} does not exist; a commit outside group membership uses generation -1",
                            r.group_id
                        ),
                    ))
                }
            };
            match commit_allowed(&group, &r) {
                Ok(()) => {
                    // A member's commit counts as a sign of life.
                    if let Some(m) = group.members.get_mut(&r.member_id) {
                        m.last_heartbeat_ms = now;
                    }
                    Ok((partition, group))
                }
                Err(e) => {
                    self.put_back(group);
                    Err(e)
                }
            }
        });
        let (partition, mut group) = match checked {
            Ok(x) => x,
            Err((code, msg)) => {
                let response = OffsetCommitResponse::uniform(&r, code, Some(truncate_message(msg)));
                respond(out, req, Response::OffsetCommit(response));
                return;
            }
        };
        let offsets: Vec<NewOffset> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| NewOffset {
                    topic: t.name.clone(),
                    partition: p.partition,
                    value: OffsetAndMetadata {
                        offset: p.offset,
                        metadata: p.metadata.clone(),
                        commit_timestamp_ms: now,
                    },
                })
            })
            .collect();
        if offsets.is_empty() {
            respond(out, req, Response::OffsetCommit(OffsetCommitResponse::uniform(&r, ErrorCode::None, None)));
        } else {
            let records = offsets.iter().map(|o| offset_record(&group.id, &o.topic, o.partition, &o.value)).collect();
            group.pending_commits += 1;
            let then = PendingPersist::Commit {
                req,
                group: group.id.clone(),
                incarnation: group.incarnation,
                request: r,
                offsets,
            };
            self.persist(partition, records, then, out);
        }
        self.put_back(group);
    }

    fn fetch_offsets(&self, r: &OffsetFetchRequest) -> OffsetFetchResponse {
        if let Err((code, msg)) = self.route(&r.group_id) {
            let Response::OffsetFetch(response) = Request::OffsetFetch(r.clone()).error_response(code, msg) else {
                return OffsetFetchResponse { error: code, ..Default::default() };
            };
            return response;
        }
        let group = self.groups.get(&r.group_id);
        let partition_response = |topic: &str, partition: u32| {
            let committed = group.and_then(|g| g.offset(topic, partition));
            OffsetFetchPartitionResponse {
                partition,
                offset: committed.map(|o| o.offset),
                metadata: committed.map(|o| o.metadata.clone()).unwrap_or_default(),
                error: ErrorCode::None,
            }
        };
        let topics = match &r.topics {
            Some(topics) => topics
                .iter()
                .map(|t| OffsetFetchTopicResponse {
                    name: t.name.clone(),
                    partitions: t.partitions.iter().map(|&p| partition_response(&t.name, p)).collect(),
                })
                .collect(),
            None => group
                .map(|g| {
                    g.offsets
                        .iter()
                        .map(|(topic, partitions)| OffsetFetchTopicResponse {
                            name: topic.clone(),
                            partitions: partitions.keys().map(|&p| partition_response(topic, p)).collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        OffsetFetchResponse { error: ErrorCode::None, error_message: None, topics }
    }

    // ---- admin -----------------------------------------------------------

    fn list_groups(&self, r: &ListGroupsRequest) -> ListGroupsResponse {
        let groups = self
            .groups
            .values()
            .filter(|g| self.partitions.get(&self.partition_of(&g.id)) == Some(&PartitionStatus::Loaded))
            .filter(|g| r.states_filter.is_empty() || r.states_filter.contains(&g.state))
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                state: g.state,
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
            })
            .collect();
        let loading: Vec<u32> =
            self.partitions.iter().filter(|(_, s)| **s == PartitionStatus::Loading).map(|(p, _)| *p).collect();
        if loading.is_empty() {
            ListGroupsResponse { error: ErrorCode::None, error_message: None, groups }
        } else {
            ListGroupsResponse {
                error: ErrorCode::CoordinatorNotAvailable,
                error_message: Some(format!(
                    "still loading {OFFSETS_TOPIC} partitions {loading:?}; the list is partial"
                )),
                groups,
            }
        }
    }

    fn describe_groups(&self, r: &DescribeGroupsRequest) -> DescribeGroupsResponse {
        let groups = r
            .group_ids
            .iter()
            .map(|id| match self.route(id) {
                Err((code, _)) => DescribedGroup::error(id.clone(), code),
                Ok(_) => match self.groups.get(id) {
                    None => DescribedGroup::error(id.clone(), ErrorCode::UnknownGroup),
                    Some(g) => describe(g),
                },
            })
            .collect();
        DescribeGroupsResponse { error: ErrorCode::None, error_message: None, groups }
    }

    fn delete_groups(&mut self, req: RequestId, r: DeleteGroupsRequest, out: &mut Vec<Command>) {
        let mut results = Vec::with_capacity(r.group_ids.len());
        let mut tombstones: BTreeMap<u32, (Vec<OffsetsRecord>, Vec<usize>)> = BTreeMap::new();
        for (i, id) in r.group_ids.iter().enumerate() {
            let error = match self.route(id) {
                Err((code, _)) => code,
                Ok(partition) => match self.groups.get(id) {
                    None => ErrorCode::UnknownGroup,
                    Some(g) if !g.members.is_empty() || g.state != GroupState::Empty => ErrorCode::GroupNotEmpty,
                    Some(_) => {
                        if let Some(g) = self.groups.remove(id) {
                            let entry = tombstones.entry(partition).or_default();
                            entry.0.extend(group_tombstones(&g));
                            entry.1.push(i);
                        }
                        ErrorCode::None
                    }
                },
            };
            results.push(GroupResult { group_id: id.clone(), error });
        }
        if tombstones.is_empty() {
            respond(out, req, Response::DeleteGroups(DeleteGroupsResponse { results, ..Default::default() }));
            return;
        }
        self.deletes.insert(req, PendingDelete { outstanding: tombstones.len(), results });
        for (partition, (records, indices)) in tombstones {
            self.persist(partition, records, PendingPersist::Delete { req, indices }, out);
        }
    }

    // ---- persistence and time ---------------------------------------------

    fn persisted(&mut self, now: u64, id: PersistId, result: Result<(), ErrorCode>, out: &mut Vec<Command>) {
        let Some(pending) = self.persists.remove(&id) else {
            return; // unknown or already reported: nothing waits on it
        };
        let failure = result.err().map(group_error);
        match pending {
            PendingPersist::Commit { req, group, incarnation, request, offsets } => {
                if let Some(mut g) = self.groups.remove(&group) {
                    if g.incarnation == incarnation {
                        g.pending_commits = g.pending_commits.saturating_sub(1);
                        if failure.is_none() {
                            for o in offsets {
                                g.set_offset(&o.topic, o.partition, o.value);
                            }
                        }
                    }
                    // A standalone group whose only commit failed is not kept.
                    self.put_back(g);
                }
                let (error, message) = match failure {
                    None => (ErrorCode::None, None),
                    Some(code) => (code, Some("the commit could not be stored; retry".to_owned())),
                };
                respond(out, req, Response::OffsetCommit(OffsetCommitResponse::uniform(&request, error, message)));
            }
            PendingPersist::Sync { group, incarnation, assignments } => {
                let Some(mut g) = self.groups.remove(&group) else { return };
                if g.incarnation == incarnation
                    && g.state == GroupState::CompletingRebalance
                    && g.sync_persist == Some(id)
                {
                    g.sync_persist = None;
                    match failure {
                        None => {
                            for (member, assignment) in assignments {
                                if let Some(m) = g.members.get_mut(&member) {
                                    m.assignment = assignment;
                                }
                            }
                            g.transition(GroupState::Stable, now);
                            for m in g.members.values_mut() {
                                if let Some(req) = m.pending_sync.take() {
                                    let response =
                                        SyncGroupResponse { assignment: m.assignment.clone(), ..Default::default() };
                                    respond(out, req, Response::SyncGroup(response));
                                }
                            }
                        }
                        Some(code) => {
                            for m in g.members.values_mut() {
                                if let Some(req) = m.pending_sync.take() {
                                    let e =
                                        SyncGroupResponse::error(code, "the assignment could not be stored; rejoin");
                                    respond(out, req, Response::SyncGroup(e));
                                }
                            }
                            self.prepare_rebalance(&mut g, now, out);
                            self.maybe_complete_join(&mut g, now, out);
                        }
                    }
                }
                self.put_back(g);
            }
            PendingPersist::Delete { req, indices } => {
                let Some(pd) = self.deletes.get_mut(&req) else { return };
                if let Some(code) = failure {
                    for i in indices {
                        if let Some(r) = pd.results.get_mut(i) {
                            r.error = code;
                        }
                    }
                }
                pd.outstanding = pd.outstanding.saturating_sub(1);
                if pd.outstanding == 0 {
                    if let Some(pd) = self.deletes.remove(&req) {
                        let response = DeleteGroupsResponse { results: pd.results, ..Default::default() };
                        respond(out, req, Response::DeleteGroups(response));
                    }
                }
            }
            PendingPersist::Background => {}
        }
    }

    fn tick(&mut self, now: u64, out: &mut Vec<Command>) {
        let ids: Vec<String> = self
            .groups
            .keys()
            .filter(|id| self.partitions.get(&self.partition_of(id)) == Some(&PartitionStatus::Loaded))
            .cloned()
            .collect();
        for id in ids {
            let Some(mut group) = self.groups.remove(&id) else { continue };
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| m.session_deadline_ms().is_some_and(|d| now >= d))
                .map(|m| m.id.clone())
                .collect();
            for member in expired {
                self.remove_member(&mut group, &member, "session timed out", now, out);
            }
            self.maybe_complete_join(&mut group, now, out);
            if group.expiry_ms(self.config.offsets_retention_ms).is_some_and(|t| now >= t) {
                let partition = self.partition_of(&group.id);
                self.persist(partition, group_tombstones(&group), PendingPersist::Background, out);
                continue; // forgotten
            }
            self.put_back(group);
        }
    }

    /// Checks the internal invariants (tests).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        for g in self.groups.values() {
            let held_joins = g.members.values().filter(|m| m.is_awaiting_join()).count();
            let held_syncs = g.members.values().filter(|m| m.is_awaiting_sync()).count();
            if g.members.is_empty() != g.leader.is_none() {
                return Err(format!("{}: leader {:?} with {} members", g.id, g.leader, g.members.len()));
            }
            if let Some(l) = &g.leader {
                if !g.members.contains_key(l) {
                    return Err(format!("{}: leader {l} is not a member", g.id));
                }
            }
            if held_joins > 0 && g.state != GroupState::PreparingRebalance {
                return Err(format!("{}: held joins in {}", g.id, g.state));
            }
            if held_syncs > 0 && g.state != GroupState::CompletingRebalance {
                return Err(format!("{}: held syncs in {}", g.id, g.state));
            }
            if (g.state == GroupState::PreparingRebalance) != g.rebalance.is_some() {
                return Err(format!("{}: rebalance {:?} in {}", g.id, g.rebalance, g.state));
            }
            if g.sync_persist.is_some() && g.state != GroupState::CompletingRebalance {
                return Err(format!("{}: sync persist in {}", g.id, g.state));
            }
            match g.state {
                GroupState::Empty if !g.members.is_empty() => return Err(format!("{}: Empty with members", g.id)),
                GroupState::PreparingRebalance if g.members.is_empty() => {
                    return Err(format!("{}: rebalancing without members", g.id))
                }
                GroupState::CompletingRebalance | GroupState::Stable
                    if g.members.is_empty() || g.protocol.is_none() =>
                {
                    return Err(format!("{}: {} without members or protocol", g.id, g.state))
                }
                GroupState::Dead => return Err(format!("{}: Dead group kept", g.id)),
                _ => {}
            }
            if let Some(p) = &g.protocol {
                if g.members.values().any(|m| !m.supports(p)) && g.state != GroupState::PreparingRebalance {
                    return Err(format!("{}: a member does not support {p}", g.id));
                }
            }
        }
        Ok(())
    }
}

// ---- helpers ---------------------------------------------------------------

fn respond(out: &mut Vec<Command>, req: RequestId, response: Response) {
    out.push(Command::Respond { req, response });
}

fn split(failure: Option<Failure>) -> (ErrorCode, Option<String>) {
    match failure {
        None => (ErrorCode::None, None),
        Some((code, msg)) => (code, Some(truncate_message(msg))),
    }
}

fn unknown_member(member_id: &str) -> Failure {
    (ErrorCode::UnknownMemberId, format!("{member_id:?} is not a member of the group; join again"))
}

/// The member exists and is in the group's generation.
fn check_member(group: &Group, member_id: &str, generation: i32) -> Result<(), Failure> {
    if !group.has_member(member_id) {
        return Err(unknown_member(member_id));
    }
    if generation != group.generation {
        return Err((
            ErrorCode::IllegalGeneration,
            format!("generation {generation} is not the group's current generation {}", group.generation),
        ));
    }
    Ok(())
}

/// Kafka's rules for who may commit (`GroupCoordinator.doCommitOffsets`).
fn commit_allowed(group: &Group, r: &OffsetCommitRequest) -> Result<(), Failure> {
    if r.generation_id < 0 && group.state == GroupState::Empty {
        return Ok(()); // a standalone consumer: the group only stores offsets
    }
    if group.state == GroupState::CompletingRebalance {
        return Err((ErrorCode::RebalanceInProgress, "the group is completing a rebalance; rejoin".into()));
    }
    check_member(group, &r.member_id, r.generation_id)
}

/// The joining member's protocols fit the group.
fn check_protocols(group: &Group, r: &JoinGroupRequest) -> Result<(), Failure> {
    if group.supports_protocols(&r.protocol_type, r.protocols.iter().map(|p| p.name.as_str())) {
        return Ok(());
    }
    Err((
        ErrorCode::InconsistentGroupProtocol,
        format!(
            "group {:?} uses protocol type {:?} and protocols {:?}",
            group.id,
            group.protocol_type.as_deref().unwrap_or(""),
            group.candidate_protocols()
        ),
    ))
}

/// The protocols of a join, first occurrence of each name kept.
fn dedup_protocols(protocols: &[JoinGroupProtocol]) -> Vec<JoinGroupProtocol> {
    let mut out: Vec<JoinGroupProtocol> = Vec::with_capacity(protocols.len());
    for p in protocols {
        if !out.iter().any(|q| q.name == p.name) {
            out.push(p.clone());
        }
    }
    out
}

/// Takes a join's settings into the member.
fn update_member(m: &mut Member, now: u64, mut host: String, r: &JoinGroupRequest) {
    let mut end = host.len().min(MAX_HOST_LEN);
    while !host.is_char_boundary(end) {
        end -= 1;
    }
    host.truncate(end);
    m.client_id.clone_from(&r.client_id);
    m.host = host;
    m.session_timeout_ms = r.session_timeout_ms;
    m.rebalance_timeout_ms = if r.rebalance_timeout_ms == 0 { r.session_timeout_ms } else { r.rebalance_timeout_ms };
    m.protocols = dedup_protocols(&r.protocols);
    m.last_heartbeat_ms = now;
}

/// Answers a removed member's held join and sync.
fn answer_held(m: &Member, code: ErrorCode, why: &str, out: &mut Vec<Command>) {
    if let Some(req) = m.pending_join {
        respond(out, req, Response::JoinGroup(JoinGroupResponse::error(code, why, &m.id)));
    }
    if let Some(req) = m.pending_sync {
        respond(out, req, Response::SyncGroup(SyncGroupResponse::error(code, why)));
    }
}

/// The JoinGroup answer for `member_id` in the group's current generation.
fn join_response(group: &Group, member_id: &str) -> JoinGroupResponse {
    let protocol = group.protocol.clone().unwrap_or_default();
    let members = if group.is_leader(member_id) {
        group
            .members
            .values()
            .map(|m| JoinGroupMember {
                member_id: m.id.clone(),
                client_id: m.client_id.clone(),
                metadata: m.metadata(&protocol).to_vec(),
            })
            .collect()
    } else {
        Vec::new()
    };
    JoinGroupResponse {
        error: ErrorCode::None,
        error_message: None,
        generation_id: group.generation,
        protocol_name: protocol,
        leader_id: group.leader.clone().unwrap_or_default(),
        member_id: member_id.to_owned(),
        members,
    }
}

fn describe(g: &Group) -> DescribedGroup {
    let protocol = g.protocol.clone().unwrap_or_default();
    DescribedGroup {
        group_id: g.id.clone(),
        error: ErrorCode::None,
        state: g.state,
        protocol_type: g.protocol_type.clone().unwrap_or_default(),
        generation_id: g.generation,
        members: g
            .members
            .values()
            .map(|m| DescribedGroupMember {
                member_id: m.id.clone(),
                client_id: m.client_id.clone(),
                host: m.host.clone(),
                metadata: m.metadata(&protocol).to_vec(),
                assignment: if g.state == GroupState::Stable { m.assignment.clone() } else { Vec::new() },
            })
            .collect(),
        protocol,
    }
}

fn offset_record(group: &str, topic: &str, partition: u32, o: &OffsetAndMetadata) -> OffsetsRecord {
    OffsetsRecord {
        key: RecordKey::OffsetCommit { group: group.to_owned(), topic: topic.to_owned(), partition }.encode(),
        value: OffsetCommitValue {
            offset: o.offset,
            metadata: o.metadata.clone(),
            commit_timestamp_ms: o.commit_timestamp_ms,
        }
        .encode(),
    }
}

fn group_metadata_record(group: &Group, now: u64) -> OffsetsRecord {
    OffsetsRecord {
        key: RecordKey::GroupMetadata { group: group.id.clone() }.encode(),
        value: group.metadata_value(now).encode(),
    }
}

/// Tombstones for every offset of the group, then for its metadata.
fn group_tombstones(group: &Group) -> Vec<OffsetsRecord> {
    group
        .committed()
        .map(|(topic, partition, _)| {
            OffsetsRecord::tombstone(&RecordKey::OffsetCommit {
                group: group.id.clone(),
                topic: topic.to_owned(),
                partition,
            })
        })
        .chain(std::iter::once(OffsetsRecord::tombstone(&RecordKey::GroupMetadata { group: group.id.clone() })))
        .collect()
}

/// The group error for a failed append (Kafka's mapping): the partition
/// moved → `NotCoordinator`; anything else → `CoordinatorNotAvailable`.
/// Both make the client find the coordinator again and retry.
fn group_error(storage: ErrorCode) -> ErrorCode {
    match storage {
        ErrorCode::NotCoordinator | ErrorCode::NotOwner => ErrorCode::NotCoordinator,
        _ => ErrorCode::CoordinatorNotAvailable,
    }
}
