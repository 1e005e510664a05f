//! The coordinator's inputs and outputs: [`Event`]s in, [`Command`]s out, and
//! its configuration. See the [module docs](super) for the contract.

use super::records::OffsetsRecord;
use super::DEFAULT_OFFSETS_TOPIC_PARTITIONS;
use corelog_protocol::limits::MAX_GROUP_MEMBERS;
use corelog_protocol::{
    DeleteGroupsRequest, DescribeGroupsRequest, ErrorCode, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest, Request, Response, SyncGroupRequest,
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

/// Settings of a [`GroupCoordinator`](crate::GroupCoordinator).
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
    /// few hundred ms, or at [`GroupCoordinator::next_deadline`](crate::GroupCoordinator::next_deadline).
    Tick,
    /// This coordinator now owns `partition` of `__consumer_offsets` and is
    /// about to [`replay`](crate::GroupCoordinator::replay) it: its groups' requests
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
    /// [`ApiKey::is_coordinator_api`](corelog_protocol::ApiKey::is_coordinator_api));
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
