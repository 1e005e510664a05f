//! Every limit of the cluster metadata, in one place (the shared wire
//! limits, such as partitions per topic, are corelog_protocol::limits).

/// Smallest segment a topic may ask for (a few batches).
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

// A segment holds at least a few default-size index intervals and is never
// larger than the u32 positions of its index allow.
const _: () = assert!(MIN_SEGMENT_BYTES >= 4 * corelog_storage::limits::INDEX_INTERVAL_BYTES);
const _: () = assert!(MIN_SEGMENT_BYTES <= corelog_storage::limits::MAX_SEGMENT_BYTES);

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
