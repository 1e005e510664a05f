//! [`GroupCoordinator`]: every group of one coordinator, as an I/O-free state
//! machine: `handle(now, event) -> commands`. See the [module
//! docs](super) for how a runtime drives it.
//!
//! One file per concern: joining and syncing (`rebalance`), offsets,
//! admin, persistence and timers (`lifecycle`), shared helpers.

mod admin;
mod helpers;
mod lifecycle;
mod offsets;
mod rebalance;

use std::collections::{BTreeMap, HashMap};

use super::group::{Group, Member, OffsetAndMetadata, Rebalance};
use super::records::{GroupMetadataValue, OffsetCommitValue, OffsetsRecord, RecordError, RecordKey};
use super::{coordinator_partition, OFFSETS_TOPIC};
use corelog_protocol::consumer_protocol::{CONSUMER_PROTOCOL_TYPE, KNOWN_ASSIGNORS};
use corelog_protocol::limits::{MAX_GROUP_MEMBERS, MAX_HOST_LEN};
use corelog_protocol::{
    truncate_message, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    DescribedGroup, DescribedGroupMember, ErrorCode, GroupResult, GroupState, HeartbeatRequest, HeartbeatResponse,
    JoinGroupMember, JoinGroupProtocol, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    ListGroupsRequest, ListGroupsResponse, ListedGroup, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchPartitionResponse, OffsetFetchRequest, OffsetFetchResponse, OffsetFetchTopicResponse, Request, Response,
    SyncGroupRequest, SyncGroupResponse,
};

pub use super::events::*;
use helpers::*;

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
pub(super) type Failure = (ErrorCode, String);

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
}
