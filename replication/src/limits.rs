//! Every limit of the cluster metadata, in one place (the shared wire
//! limits, such as partitions per topic, are corelog_protocol::limits).

/// Smallest segment a topic may ask for (a few batches).
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

// A segment holds at least a few default-size index intervals and is never
// larger than the u32 positions of its index allow.
const _: () = assert!(MIN_SEGMENT_BYTES >= 4 * corelog_storage::limits::INDEX_INTERVAL_BYTES);
const _: () = assert!(MIN_SEGMENT_BYTES <= corelog_storage::limits::MAX_SEGMENT_BYTES);

/// Most replicas one partition may have. Kafka has no hard cap; ours keeps a
/// partition's ISR (and the follower fetch fan-out of its leader) small.
pub const MAX_REPLICATION_FACTOR: u32 = 16;

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
