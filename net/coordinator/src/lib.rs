//! The consumer-group coordinator, as an I/O-free state machine.
//!
//! A group's coordinator is the core owning partition
//! [`coordinator_partition`]`(group, P)` of the internal topic
//! [`OFFSETS_TOPIC`] (`__consumer_offsets`, `P` partitions, default
//! [`DEFAULT_OFFSETS_TOPIC_PARTITIONS`]). It runs Kafka's classic group
//! protocol (join, sync, heartbeat, leave; generations; rebalances when
//! members come, go or time out) and stores committed offsets and group
//! metadata as records in that partition, so they are durable (and, in a
//! cluster, replicated) like any data, and rebuilt by replaying it.
//!
//! [`GroupCoordinator`] holds every group of the partitions one core owns.
//! Like openraft's state machines it does no I/O and reads no clock:
//! [`GroupCoordinator::handle`] takes the time and an [`Event`] and returns
//! [`Command`]s, so tests drive it event by event and assert on the commands.
//!
//! - [`group`]: one group's state ([`Group`], [`Member`]) and the rules that
//!   concern it alone (protocol selection, leader election).
//! - [`state_machine`]: [`GroupCoordinator`], [`Event`], [`Command`].
//! - [`records`]: the `__consumer_offsets` key/value format (byte layout there).
//!
//! # Driving it (the runtime's contract)
//!
//! One `GroupCoordinator` per core, built with [`CoordinatorConfig`] (the
//! same `offsets_topic_partitions` on every broker, an `incarnation` that
//! differs between runs). Time is wall-clock milliseconds since the Unix
//! epoch (it is persisted with commits, for retention across restarts).
//!
//! 1. **Ownership.** When the core comes to own partition `p` of
//!    `__consumer_offsets` (at start, or after a move): `handle(now,
//!    Event::Loading { partition: p })`; then read `p` from its start and call
//!    [`GroupCoordinator::replay`]`(key, value)` for every record (log and
//!    skip the ones that return an error); then `handle(now, Event::Loaded {
//!    partition: p })`. Until then the partition's groups answer
//!    `CoordinatorNotAvailable` (retriable); groups of partitions the core
//!    does not own answer `NotCoordinator`. When the core loses `p`:
//!    `Event::Unloaded`.
//! 2. **Requests.** FindCoordinator is answered by any core without the
//!    coordinator: [`coordinator_partition`] and the metadata give the owning
//!    core's endpoint. Every other group request (see
//!    [`ApiKey::is_coordinator_api`](corelog_protocol::ApiKey::is_coordinator_api))
//!    becomes an event with [`Event::from_request`], tagged with a
//!    [`RequestId`] the runtime can route back to the connection.
//! 3. **Commands**, executed in order:
//!    - [`Command::Respond`]: encode and send the response (drop it if the
//!      connection has closed). Every request gets exactly one; JoinGroup and
//!      SyncGroup may be held for up to the rebalance timeout, so the
//!      connection must keep serving other requests meanwhile.
//!    - [`Command::Persist`]: append the records, as one batch, to the
//!      given partition of `__consumer_offsets` (durably; persists of one
//!      partition in the order emitted), then `handle(now,
//!      Event::Persisted { id, result })` with `Ok(())` or the storage
//!      error. Every persist gets exactly one `Persisted`. Responses that
//!      depend on durability (offset commits, the assignment of a
//!      generation, deletions) are only emitted after it.
//! 4. **Timers.** `handle(now, Event::Tick)` periodically (every ~100 ms is
//!    plenty) or at [`GroupCoordinator::next_deadline`]: it expires member
//!    sessions, completes rebalances whose timeout passed and expires the
//!    offsets of groups Empty for longer than the retention.
//!
//! ```
//! use corelog_coordinator::*;
//! use corelog_protocol::*;
//!
//! let config = CoordinatorConfig { initial_rebalance_delay_ms: 0, ..Default::default() };
//! let mut coordinator = GroupCoordinator::new(config);
//! let partition = coordinator.partition_of("billing");
//! coordinator.handle(0, Event::Loading { partition });
//! // ... replay the partition's records here ...
//! coordinator.handle(0, Event::Loaded { partition });
//!
//! let join = JoinGroupRequest {
//!     group_id: "billing".into(),
//!     session_timeout_ms: 10_000,
//!     rebalance_timeout_ms: 30_000,
//!     member_id: String::new(),
//!     client_id: "worker".into(),
//!     protocol_type: "consumer".into(),
//!     protocols: vec![JoinGroupProtocol { name: "range".into(), metadata: vec![] }],
//! };
//! let commands = coordinator.handle(1_000, Event::Join { req: RequestId(1), client_host: "10.0.0.7".into(), request: join });
//! // A lone member: the generation forms at once and it leads it.
//! let [Command::Respond { req: RequestId(1), response: Response::JoinGroup(joined) }] = &commands[..] else { panic!() };
//! assert_eq!((joined.generation_id, joined.is_leader()), (1, true));
//! ```
//!
//! # Semantics (Kafka's classic protocol)
//!
//! - A join with an empty member id creates the member (id
//!   `{client_id}-{incarnation:x}-{n}`) and starts a rebalance. Joins are held
//!   until every known member has rejoined or the rebalance timeout (the
//!   largest of the members') passes; members that did not rejoin by then are
//!   removed. The first rebalance of an Empty group also waits
//!   `initial_rebalance_delay_ms` for more members. The first member of an
//!   empty group leads; a leader that leaves is replaced by the
//!   earliest-joined remaining member. The protocol is the one every member
//!   supports with the most first-choice votes. The leader alone gets every
//!   member's metadata.
//! - A known member rejoining a Stable group with the same protocols just gets
//!   the current generation back; the leader rejoining, or new protocols,
//!   start a rebalance.
//! - SyncGroup from followers is held until the leader's (with the
//!   assignments) is durable; then every member gets its assignment and the
//!   group is Stable.
//! - Heartbeat, SyncGroup and OffsetCommit from unknown members get
//!   `UnknownMemberId`, from another generation `IllegalGeneration`; during a
//!   rebalance heartbeats get `RebalanceInProgress` (members rejoin).
//! - A member silent for its session timeout (heartbeats, joins, syncs and
//!   commits all count; a member whose join or sync is held is never
//!   silent) is removed and the group rebalances; so does LeaveGroup.
//! - Offset commits: generation -1 (a standalone consumer) only while the
//!   group has no members; otherwise the member's current generation
//!   (commits are allowed while PreparingRebalance, so members can commit
//!   before rejoining, but not while CompletingRebalance).
//! - JoinGroup of protocol type `"consumer"` offering no known assignor
//!   (`range`, `roundrobin`, `sticky`), or protocols the group's members do not
//!   all share, gets `InconsistentGroupProtocol`.
//! - DeleteGroups of a group with members gets `GroupNotEmpty`.
//! - An Empty group whose last commit (and becoming empty) is older than
//!   `offsets_retention_ms` is expired on Tick: tombstones, then forgotten.
//! - After a replay groups are Empty with their offsets, protocol type and
//!   generation; members rejoin (their old ids get `UnknownMemberId`).

#![warn(missing_docs)]

pub mod events;
pub mod group;
pub mod records;
pub mod state_machine;

#[cfg(test)]
mod tests;

pub use events::{Command, CoordinatorConfig, CoordinatorStats, Event, Persist, PersistId, RequestId};
pub use group::{Group, Member, OffsetAndMetadata};
pub use records::{OffsetsRecord, RecordError, RecordKey};
pub use state_machine::GroupCoordinator;

use corelog_protocol::hash::{murmur2, to_positive};

/// The internal topic holding committed offsets and group metadata.
pub use corelog_protocol::OFFSETS_TOPIC;

/// Default partition count of [`OFFSETS_TOPIC`].
pub const DEFAULT_OFFSETS_TOPIC_PARTITIONS: u32 = 16;

/// The partition of [`OFFSETS_TOPIC`] (of `partitions` > 0) whose owner
/// coordinates `group_id`: `(murmur2(group_id) & 0x7fffffff) % partitions`,
/// Kafka's hash (the same as its default partitioner's for keys).
///
/// ```
/// use corelog_coordinator::coordinator_partition;
/// assert_eq!(coordinator_partition("foobar", 50), 16);
/// assert_eq!(coordinator_partition("anything", 1), 0);
/// ```
pub fn coordinator_partition(group_id: &str, partitions: u32) -> u32 {
    to_positive(murmur2(group_id.as_bytes())) % partitions.max(1)
}
