//! Every limit of the cluster metadata, in one place (the shared wire
//! limits, such as partitions per topic, are corelog_protocol::limits).

/// Smallest segment a topic may ask for (a few batches).
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

// A segment holds at least a few default-size index intervals and is never
// larger than the u32 positions of its index allow.
const _: () = assert!(MIN_SEGMENT_BYTES >= 4 * corelog_storage::limits::INDEX_INTERVAL_BYTES);
const _: () = assert!(MIN_SEGMENT_BYTES <= corelog_storage::limits::MAX_SEGMENT_BYTES);

/// Most replicas one partition may have: the wire's bound on replica lists
/// (corelog_protocol::limits). Kafka has no hard cap; ours keeps a
/// partition's ISR (and the follower fetch fan-out of its leader) small.
pub const MAX_REPLICATION_FACTOR: u32 = corelog_protocol::limits::MAX_REPLICATION_FACTOR as u32;

/// Most brokers the cluster metadata registers: every one must fit in a
/// Metadata response.
pub const MAX_REGISTERED_BROKERS: usize = corelog_protocol::limits::MAX_BROKERS;

/// Largest broker node id: Kafka's node ids are non-negative int32s.
pub const MAX_NODE_ID: u32 = i32::MAX as u32;

/// Most cores a broker may register: each core is one endpoint.
pub const MAX_CORES_PER_BROKER: u32 = corelog_protocol::limits::MAX_ENDPOINTS_PER_BROKER as u32;

/// How long the active controller waits for a broker's heartbeat before
/// fencing it. Kafka's `broker.session.timeout.ms` default.
pub const DEFAULT_BROKER_SESSION_TIMEOUT_MS: u64 = 9_000;

/// How often a broker heartbeats. Kafka's `broker.heartbeat.interval.ms`
/// default.
pub const DEFAULT_BROKER_HEARTBEAT_INTERVAL_MS: u64 = 2_000;

// A replica set never needs more brokers than may register.
const _: () = assert!(MAX_REPLICATION_FACTOR >= 1);
const _: () = assert!(MAX_REPLICATION_FACTOR as usize <= MAX_REGISTERED_BROKERS);
// Every registered node id is a valid Kafka node id.
const _: () = assert!(MAX_REGISTERED_BROKERS as u64 <= MAX_NODE_ID as u64 + 1);
// Every core's endpoint port (base_port + core) can be a distinct u16.
const _: () = assert!(MAX_CORES_PER_BROKER >= 1 && MAX_CORES_PER_BROKER <= u16::MAX as u32);
// A broker that heartbeats on time never loses its session: at least two
// heartbeats fit in one session.
const _: () = assert!(2 * DEFAULT_BROKER_HEARTBEAT_INTERVAL_MS < DEFAULT_BROKER_SESSION_TIMEOUT_MS);

// ---- The controller quorum (crate::controller) ----

/// How often the runtime feeds `Event::Tick` to a `QuorumNode`: one Raft
/// logical clock tick.
pub const CONTROLLER_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Ticks a follower waits without hearing from a leader before it campaigns
/// (raft randomizes each timeout in `[ELECTION_TICKS, 2 * ELECTION_TICKS)`):
/// one to two seconds.
pub const ELECTION_TICKS: usize = 10;

/// Ticks between a leader's heartbeats.
pub const HEARTBEAT_TICKS: usize = 2;

// raft refuses `election_tick <= heartbeat_tick`; a few heartbeats per
// election timeout keep one lost heartbeat from starting an election.
const _: () = assert!(ELECTION_TICKS >= 4 * HEARTBEAT_TICKS);
const _: () = assert!(HEARTBEAT_TICKS >= 1);
// An election timeout of at least half a second, whatever the tick is.
const _: () = assert!(CONTROLLER_TICK.as_millis() * ELECTION_TICKS as u128 >= 500);

/// Largest application command a proposal may carry (a metadata command:
/// a topic creation with its partition assignment, an ISR change).
/// The wire's ControllerWrite bound, so any command a broker may send fits.
pub const MAX_COMMAND_BYTES: usize = corelog_protocol::limits::MAX_CONTROLLER_COMMAND_BYTES;

/// Bytes a Raft entry adds around its command: the protobuf fields (type,
/// term, index, the two length-delimited fields' tags and lengths, under 40
/// bytes) and the proposal context (`controller::proposal`, 24 bytes).
pub const ENTRY_OVERHEAD_BYTES: usize = 128;

/// Largest encoded `Entry`, in a message or a record of the entries file.
pub const MAX_ENTRY_BYTES: usize = MAX_COMMAND_BYTES + ENTRY_OVERHEAD_BYTES;

/// raft's `max_size_per_msg`: entries bytes per append message. raft always
/// puts at least one entry in an append, so one message carries at most
/// `max(MAX_APPEND_BYTES, MAX_ENTRY_BYTES)` of entries.
pub const MAX_APPEND_BYTES: u64 = 1024 * 1024;

/// raft's `max_inflight_msgs`: appends a leader sends a follower before the
/// first is acknowledged. With MAX_APPEND_BYTES it bounds the bytes a leader
/// has on the wire to one follower.
pub const MAX_INFLIGHT_APPENDS: usize = 32;

/// raft's `max_uncommitted_size`: bytes of proposed, not yet committed entries
/// a leader accepts before it drops proposals (a quorum that has stopped
/// acknowledging does not grow the leader's memory without bound).
pub const MAX_UNCOMMITTED_BYTES: u64 = 32 * 1024 * 1024;

/// raft's `max_committed_size_per_ready`: committed entry bytes handed to the
/// application per Ready, so a restart with a long log replays in slices.
pub const MAX_COMMITTED_BYTES_PER_READY: u64 = 16 * 1024 * 1024;

/// Largest application snapshot (the whole serialized metadata): the wire's
/// bound on a metadata image.
pub const MAX_SNAPSHOT_BYTES: usize = corelog_protocol::limits::MAX_METADATA_IMAGE_BYTES;

/// Bytes a message adds around its entries or its snapshot data: the fixed
/// uint64 fields, the snapshot metadata with its voter list, tags and lengths.
pub const MESSAGE_OVERHEAD_BYTES: usize = 64 * 1024;

/// Largest encoded Raft message a peer may send; the codec refuses a longer
/// one before parsing it. The largest legitimate one is a snapshot message.
pub const MAX_RAFT_MESSAGE_BYTES: usize = MAX_SNAPSHOT_BYTES + MESSAGE_OVERHEAD_BYTES;

// Every message raft may produce fits the codec's limit. An append carries
// entries of at most MAX_APPEND_BYTES + MAX_ENTRY_BYTES (raft counts each
// entry's encoded size and always sends the first); the repeated field adds a
// tag and a length (at most 6 bytes) per entry, and an entry with an index is
// at least 2 bytes, so the framing at most triples the entries' bytes...
const _: () =
    assert!(4 * (MAX_APPEND_BYTES as usize + MAX_ENTRY_BYTES) + MESSAGE_OVERHEAD_BYTES <= MAX_RAFT_MESSAGE_BYTES);
// ...and a snapshot with its metadata.
const _: () = assert!(MAX_SNAPSHOT_BYTES + MESSAGE_OVERHEAD_BYTES <= MAX_RAFT_MESSAGE_BYTES);
// raft refuses `max_uncommitted_size < max_size_per_msg`; a full window of
// inflight appends stays within the uncommitted budget.
const _: () = assert!(MAX_UNCOMMITTED_BYTES >= MAX_APPEND_BYTES * MAX_INFLIGHT_APPENDS as u64);
const _: () = assert!(MAX_INFLIGHT_APPENDS >= 1);
// One proposal always fits the uncommitted budget and one Ready's slice.
const _: () = assert!(MAX_ENTRY_BYTES as u64 <= MAX_UNCOMMITTED_BYTES);
const _: () = assert!(MAX_ENTRY_BYTES as u64 <= MAX_COMMITTED_BYTES_PER_READY);
// Record lengths in the entries file are u32.
const _: () = assert!(MAX_ENTRY_BYTES <= u32::MAX as usize);
const _: () = assert!(MAX_RAFT_MESSAGE_BYTES <= u32::MAX as usize);
// Every message fits a RaftMessage request on the controller wire.
const _: () = assert!(MAX_RAFT_MESSAGE_BYTES <= corelog_protocol::limits::MAX_RAFT_MESSAGE_BYTES);

/// Committed entries past the latest snapshot after which the node asks the
/// application for a new snapshot (`Action::TakeSnapshot`) and compacts the
/// log. Bounds the entries file and the replay on restart.
pub const SNAPSHOT_INTERVAL_ENTRIES: u64 = 10_000;

// Replay on restart stays within a few seconds of the largest commands.
const _: () = assert!(SNAPSHOT_INTERVAL_ENTRIES >= 1);
const _: () = assert!(SNAPSHOT_INTERVAL_ENTRIES <= 1_000_000);

/// Largest controller quorum (voters in `--controllers`).
pub const MAX_CONTROLLER_VOTERS: usize = 9;

// The voter list must fit the snapshot metadata's share of the overhead.
const _: () = assert!(MAX_CONTROLLER_VOTERS * 11 + 64 <= MESSAGE_OVERHEAD_BYTES);

// ---- Partition replication (Kafka's ISR protocol, `crate::replica`) ----

/// Kafka's `replica.lag.time.max.ms`: an in-sync follower that has not been
/// caught up with the leader's log end for this long leaves the ISR.
pub const REPLICA_LAG_TIME_MAX_MS: u64 = 30_000;

/// Kafka's `replica.fetch.wait.max.ms`: how long a leader may park a follower
/// fetch that finds no new data before answering it empty.
pub const REPLICA_FETCH_WAIT_MAX_MS: u64 = 500;

/// Kafka's `replica.fetch.backoff.ms`: how long a follower waits before
/// fetching again after an error answer (not leader, unknown epoch, a
/// malformed answer).
pub const REPLICA_FETCH_BACKOFF_MS: u64 = 1_000;

/// Kafka's `replica.socket.timeout.ms`: a follower fetch with no answer after
/// this long is sent again (the network may have lost it).
pub const REPLICA_FETCH_TIMEOUT_MS: u64 = 30_000;

/// Kafka's `replica.fetch.max.bytes`: record bytes a leader returns per
/// partition in one follower fetch (at least one batch is always returned, so
/// a larger batch still replicates).
pub const REPLICA_FETCH_MAX_BYTES: usize = 1024 * 1024;

/// Kafka's `replica.fetch.response.max.bytes`: record bytes in one follower
/// fetch response over all its partitions.
pub const REPLICA_FETCH_RESPONSE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// How long a leader waits for the controller's answer to an AlterPartition
/// before sending it again, and how long it waits after a rejection that says
/// "not applied" before proposing again.
pub const ALTER_PARTITION_RETRY_MS: u64 = 5_000;

// Kafka refuses replica.fetch.wait.max.ms >= replica.lag.time.max.ms: a
// parked fetch of a caught-up follower must not make it look lagging.
const _: () = assert!(REPLICA_FETCH_WAIT_MAX_MS < REPLICA_LAG_TIME_MAX_MS);
// Kafka refuses a socket timeout below the fetch wait: a parked fetch would
// time out before the leader answers it.
const _: () = assert!(REPLICA_FETCH_TIMEOUT_MS >= REPLICA_FETCH_WAIT_MAX_MS);
const _: () = assert!(REPLICA_FETCH_MAX_BYTES <= REPLICA_FETCH_RESPONSE_MAX_BYTES);
// A follower fetch fits one default-size batch.
const _: () = assert!(REPLICA_FETCH_MAX_BYTES >= corelog_format::limits::DEFAULT_MAX_BATCH_BYTES);
