//! Every limit and default of the broker, in one place.
//!
//! A limit here is a contract: code names these rather than repeating numbers,
//! and relations between them are checked at compile time below.

use std::time::Duration;

use corelog_format::limits::{DEFAULT_MAX_BATCH_BYTES, MAX_BATCH_BYTES_CEILING};
use corelog_protocol::limits::{DEFAULT_MAX_FRAME_BYTES, MAX_MEMBER_METADATA_BYTES};
use corelog_storage::limits::{fd_cache_per_core, FDS_PER_PARTITION, MAX_TRANSIENT_FDS_PER_PARTITION};

/// How often each core ticks its partitions' interval flushes.
pub const FLUSH_TICK_MS: u64 = 50;

/// Default period of retention checks (Kafka's log.retention.check.interval.ms).
pub const DEFAULT_RETENTION_CHECK_MS: u64 = 5 * 60 * 1000;

// Cores and connections.

/// How long `Broker::start` waits for every core to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Requests of one connection being handled at once; more waits (back-pressure
/// on the client through TCP).
pub const MAX_IN_FLIGHT_PER_CONNECTION: usize = 64;

/// Smallest read from a client socket into its frame buffer.
pub const MIN_READ_BYTES: usize = 64 * 1024;

/// Largest single read from a client socket into its frame buffer.
pub const MAX_READ_BYTES: usize = 1024 * 1024;

/// A produce request's batches are stored without a copy (the tail cache
/// keeps slices of the received frame) only if its frame is at least this
/// big and at least half of it is batches being appended; otherwise each
/// partition's batches are first copied into a buffer of their own. A slice
/// keeps its whole receive buffer alive, which the cache's budget does not
/// see: a connection reads a frame this big exactly to its end, so the frame
/// has a buffer of its own, while smaller frames share reads of at least this
/// size with their neighbours and slack. Equal to the smallest socket read,
/// for that reason.
pub const ZERO_COPY_MIN_FRAME_BYTES: usize = 64 * 1024;

/// A read asks for at most this many times the bytes already buffered, so a
/// connection's buffer grows with what arrived (a 64 KiB read, then up to
/// 1 MiB), never with a frame length it announces. 16, not less: a 1 MiB
/// produce request then takes two reads, as when reads followed the
/// announced length (measured: 4 cost ~10% of durable produce throughput).
pub const READ_GROWTH: usize = 16;

/// A connection whose buffer emptied keeps it only up to this capacity;
/// a larger one is freed until the next request needs it.
pub const MAX_IDLE_BUFFER_BYTES: usize = 256 * 1024;

/// Default most client connections one core serves at once.
pub const DEFAULT_MAX_CONNECTIONS_PER_CORE: usize = 4096;

/// Default bytes of requests one core holds while they arrive and are
/// handled; past it the core stops reading sockets (back-pressure).
pub const DEFAULT_REQUEST_MEMORY_BYTES_PER_CORE: usize = 256 * 1024 * 1024;

/// Default: a connection silent this long is closed (Kafka's
/// `connections.max.idle.ms`).
pub const DEFAULT_CONNECTION_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Default: a request whose first bytes arrived must be complete this soon
/// (a slowloris client is closed, and its bytes given back).
pub const DEFAULT_REQUEST_RECEIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause after a failed accept (e.g. out of file descriptors) so the loop
/// doesn't spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// Default of `BrokerConfig::bind_retry`: how long a core keeps retrying to
/// bind its port while it is in use (the previous broker process may still
/// be dying), before the start fails.
pub const DEFAULT_BIND_RETRY: Duration = Duration::from_secs(10);

/// Pause between bind attempts.
pub const BIND_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Longest pause between accepts while they keep failing.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Longest a stopping core waits for its connections to close. Each closes
/// on its first turn after the stop; this only bounds a core whose tasks
/// are stuck.
pub const SHUTDOWN_CONNECTION_CLOSE: Duration = Duration::from_secs(2);

/// At most one "accept failed" log line per core this often while accepts
/// keep failing (the line carries how many were not logged).
pub const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Damaged stored batches each core remembers as already counted and logged
/// (damaged.rs): about 100 KiB per core at most.
pub const MAX_REMEMBERED_DAMAGED_BATCHES: usize = 1024;

/// Warnings about damaged batches a core logs per
/// [`DAMAGED_BATCH_LOG_INTERVAL`] at most (the next one logged says how many
/// were not).
pub const DAMAGED_BATCH_WARNINGS_PER_INTERVAL: usize = 10;

/// The window of [`DAMAGED_BATCH_WARNINGS_PER_INTERVAL`].
pub const DAMAGED_BATCH_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Longest a fetch may wait for data, whatever the client asks.
pub const MAX_FETCH_WAIT: Duration = Duration::from_secs(30);

/// First pause before retrying to reopen a failed partition log; doubles up
/// to [`REOPEN_RETRY_MAX`].
pub const REOPEN_RETRY_MIN: Duration = Duration::from_millis(500);

/// Longest pause between attempts to reopen a failed partition log.
pub const REOPEN_RETRY_MAX: Duration = Duration::from_secs(10);

/// How often a reopen checks whether requests still hold the failed log.
pub const REOPEN_QUIESCE_POLL: Duration = Duration::from_millis(50);
// File descriptors (see fd_limit.rs and docs/broker.md).

/// Descriptors kept for each core besides its partitions: its three
/// io_uring rings, eventfd and listener, and the files it opens for a moment
/// (a partition being created, recovered or rolled, directory syncs,
/// metadata saves), a few at once.
pub const FDS_RESERVED_PER_CORE: u64 = 32;

/// Descriptors kept for the process: stdin, stdout and stderr, the data
/// directory's lock, log files, the metrics listener and its scrapers.
pub const FDS_RESERVED_PER_PROCESS: u64 = 32;

/// Of the open-file limit, 1 in this many descriptors is kept for client
/// connections (at most `max_connections_per_core` per core).
pub const CONNECTION_FDS_DIVISOR: u64 = 8;

/// How a broker spends its open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    /// The soft RLIMIT_NOFILE the broker runs with.
    pub limit: u64,
    /// Kept for connections, the cores' own descriptors and the process's.
    pub reserved: u64,
    /// Sealed-segment files each core's fd cache keeps open.
    pub fd_cache_per_core: usize,
    /// Partitions that fit in what is left, at `FDS_PER_PARTITION` each.
    pub partitions: u64,
}

/// The budget of a broker with `cores` cores under an open-file limit of
/// `limit`: connections, cores and process get their reserve first, the
/// fd caches their share of the rest, and partitions what remains.
pub const fn fd_budget(limit: u64, cores: u64, max_connections_per_core: u64) -> FdBudget {
    let cores = if cores == 0 { 1 } else { cores };
    let connections = limit / CONNECTION_FDS_DIVISOR;
    let connections = if connections < max_connections_per_core.saturating_mul(cores) {
        connections
    } else {
        max_connections_per_core.saturating_mul(cores)
    };
    let reserved = FDS_RESERVED_PER_PROCESS + FDS_RESERVED_PER_CORE * cores + connections;
    let left = limit.saturating_sub(reserved);
    let fd_cache_per_core = fd_cache_per_core(left, cores);
    let partitions = left.saturating_sub(fd_cache_per_core as u64 * cores) / FDS_PER_PARTITION;
    FdBudget { limit, reserved, fd_cache_per_core, partitions }
}

/// Tries at removing a new partition's directory while the process is out
/// of descriptors (a create that failed for want of them; see
/// `Shard::remove_partition_dir`), [`DIR_REMOVE_RETRY_PAUSE`] apart.
pub const DIR_REMOVE_ATTEMPTS: u32 = 20;

/// Partitions one core opens at once (a start, a topic with many
/// partitions): each open is a few small dependent I/Os, so one at a time
/// leaves the device idle between round trips (`shard/opening.rs`). Each
/// open in flight holds its segment's tail-scan buffer (64 KiB first).
pub const PARTITION_OPENS_IN_FLIGHT: usize = 32;

/// Pause between those tries: long enough for the executor to run an I/O
/// cycle, which releases the descriptors of files dropped before it.
pub const DIR_REMOVE_RETRY_PAUSE: Duration = Duration::from_millis(10);

// Consumer groups.

/// Bytes asked of the log per read while a core replays its
/// `__consumer_offsets` partition.
pub const REPLAY_READ_BYTES: usize = 1024 * 1024;

/// First pause before retrying a replay that failed; doubles up to
/// [`LOAD_RETRY_MAX`].
pub const LOAD_RETRY_MIN: Duration = Duration::from_millis(500);

/// Longest pause between replay retries.
pub const LOAD_RETRY_MAX: Duration = Duration::from_secs(30);

/// Longest sleep of a core's group timer without a deadline.
pub const IDLE_WAKE: Duration = Duration::from_secs(1);

/// Shortest sleep of the group timer: deadlines closer together than this share one tick (a
/// tick scans every group), and one a tick did not clear cannot spin the core.
pub const TICK_GRANULARITY: Duration = Duration::from_millis(10);

/// Largest batch the coordinator appends: big enough for the metadata of a
/// large group (one record that cannot be split). Persists of many records
/// are cut into batches of about `PERSIST_BATCH_BYTES` (groups/writer.rs) anyway.
pub const OFFSETS_TOPIC_MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Replicas of `__consumer_offsets` (Kafka's offsets.topic.replication.factor),
/// or as many brokers as are live when it is created, if fewer.
pub const OFFSETS_TOPIC_REPLICATION_FACTOR: u32 = 3;

/// Longest a coordinator append waits for the in-sync replicas of its
/// `__consumer_offsets` partition (Kafka's offsets.commit.timeout.ms).
pub const OFFSETS_COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest a request waits for its group's partition to finish loading.
pub const LOAD_WAIT: Duration = Duration::from_secs(5);

/// How often core 0 returns freed heap memory to the system (see memory.rs).
pub const TRIM_INTERVAL: Duration = Duration::from_secs(5);

// Metrics endpoint (HTTP).

/// A metrics scraper gets this long to send its request and read the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest HTTP request head the metrics endpoint reads.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// How often each core publishes its metrics to the shared registry.
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

// The default batch fits the default frame with room for the request around it.
const _: () = assert!(DEFAULT_MAX_BATCH_BYTES < DEFAULT_MAX_FRAME_BYTES);
// The largest group record a coordinator writes is a batch the log accepts.
const _: () = assert!(OFFSETS_TOPIC_MAX_BATCH_BYTES <= MAX_BATCH_BYTES_CEILING);
// A group's metadata (its members' subscriptions) fits one offsets-topic batch.
const _: () = assert!(MAX_MEMBER_METADATA_BYTES < OFFSETS_TOPIC_MAX_BATCH_BYTES);
// The default request memory holds several frames of the largest default size
// (a smaller configured one is refused at start).
const _: () = assert!(DEFAULT_REQUEST_MEMORY_BYTES_PER_CORE >= 4 * DEFAULT_MAX_FRAME_BYTES);
const _: () = assert!(MAX_IDLE_BUFFER_BYTES >= MIN_READ_BYTES && READ_GROWTH >= 2);
const _: () = assert!(ZERO_COPY_MIN_FRAME_BYTES == MIN_READ_BYTES);
// A socket read never exceeds what the decoder may hold for one frame.
const _: () = assert!(MIN_READ_BYTES <= MAX_READ_BYTES && MAX_READ_BYTES <= DEFAULT_MAX_FRAME_BYTES);
const _: () = assert!(LOAD_RETRY_MIN.as_millis() <= LOAD_RETRY_MAX.as_millis());
const _: () = assert!(REOPEN_RETRY_MIN.as_millis() <= REOPEN_RETRY_MAX.as_millis());
const _: () = assert!(REOPEN_QUIESCE_POLL.as_millis() < REOPEN_RETRY_MIN.as_millis());
const _: () = assert!(BIND_RETRY_PAUSE.as_millis() < DEFAULT_BIND_RETRY.as_millis());
// The whole start, bind retries included, fits the start timeout.
const _: () = assert!(DEFAULT_BIND_RETRY.as_millis() < START_TIMEOUT.as_millis());
const _: () = assert!(ACCEPT_BACKOFF.as_millis() <= ACCEPT_BACKOFF_MAX.as_millis());
const _: () = assert!(ACCEPT_BACKOFF_MAX.as_millis() < ACCEPT_LOG_INTERVAL.as_millis());
const _: () = assert!(TICK_GRANULARITY.as_millis() <= IDLE_WAKE.as_millis());
// A core's reserve covers its own descriptors (3 rings, an eventfd, a
// listener) and several partitions opening or rolling at once.
const _: () = assert!(FDS_RESERVED_PER_CORE >= 5 + 4 * MAX_TRANSIENT_FDS_PER_PARTITION);
const _: () = assert!(CONNECTION_FDS_DIVISOR >= 2);
// The promise in docs/broker.md: 10,000 partitions fit a 20,000-descriptor
// limit with the default connection limit, on 1 to 8 cores.
const _: () = assert!(fd_budget(20_000, 1, DEFAULT_MAX_CONNECTIONS_PER_CORE as u64).partitions >= 10_000);
const _: () = assert!(fd_budget(20_000, 8, DEFAULT_MAX_CONNECTIONS_PER_CORE as u64).partitions >= 10_000);
// A limit too small for the reserves leaves no partitions, never an underflow.
const _: () = assert!(fd_budget(10, 4, 4096).partitions == 0);

// ---- The controller quorum's runtime and the broker's agent (crate::cluster) ----

/// Largest frame the controller port reads: the largest Raft message (a
/// snapshot) with the frame header and the rkyv body around it. A larger
/// announced length closes the connection before any byte of it is read.
pub const MAX_CONTROLLER_FRAME_BYTES: usize = corelog_protocol::limits::MAX_RAFT_MESSAGE_BYTES + 64 * 1024;

/// Bytes one controller-port read asks for at most (a snapshot arrives in
/// many reads; the buffer grows with what actually arrived).
pub const CONTROLLER_READ_BYTES: usize = 64 * 1024;

/// Requests of one controller-port connection handled at once; the reader
/// stops reading while this many wait for their answers (answered in order).
pub const MAX_CONTROLLER_IN_FLIGHT_PER_CONNECTION: usize = 32;

/// Connections the controller port serves at once (brokers' clients and
/// controller peers); one more is closed at once.
pub const MAX_CONTROLLER_CONNECTIONS: usize = 1024;

/// Raft messages queued for one peer link while it connects or writes;
/// more are dropped (raft resends what is lost).
pub const PEER_LINK_QUEUE_MESSAGES: usize = 4096;

/// Pause before a peer link reconnects, doubling up to the max.
pub const PEER_RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(50);
pub const PEER_RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A TCP connect to a controller that takes longer than this fails.
pub const CONTROLLER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a ControllerWrite waits for its command to be applied. A
/// proposal lost in a leadership change is never answered by raft, so this
/// ends the wait with RequestTimedOut.
pub const PROPOSAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Default and largest wait of a MetadataUpdate long poll.
pub const DEFAULT_METADATA_POLL_WAIT: Duration = Duration::from_secs(5);
pub const MAX_METADATA_POLL_WAIT: Duration = Duration::from_secs(30);

/// How often the active controller looks for partitions whose preferred
/// replica is in sync but does not lead (Kafka's
/// leader.imbalance.check.interval.seconds, 300 s there).
pub const DEFAULT_PREFERRED_ELECTION_INTERVAL: Duration = Duration::from_secs(10);

/// The active controller proposes the same command of its own (fence,
/// unfence, election) at most this often while the first is in flight.
pub const INTERNAL_PROPOSAL_RETRY: Duration = Duration::from_secs(1);

/// One controller request's answer timeout (a long poll adds its wait).
pub const CONTROLLER_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A controller client's pause between tries, doubling up to the max.
pub const CONTROLLER_RETRY_BACKOFF_MIN: Duration = Duration::from_millis(50);
pub const CONTROLLER_RETRY_BACKOFF_MAX: Duration = Duration::from_secs(1);

// A snapshot message fits a controller frame; the controller wire limits
// stay below the protocol's ceiling.
const _: () = assert!(corelog_protocol::limits::MAX_RAFT_MESSAGE_BYTES < MAX_CONTROLLER_FRAME_BYTES);
const _: () = assert!(MAX_CONTROLLER_FRAME_BYTES <= corelog_protocol::limits::MAX_FRAME_BYTES_CEILING);
const _: () = assert!(corelog_protocol::limits::MAX_METADATA_IMAGE_BYTES < MAX_CONTROLLER_FRAME_BYTES);
const _: () = assert!(CONTROLLER_READ_BYTES <= MAX_CONTROLLER_FRAME_BYTES);
const _: () = assert!(MAX_CONTROLLER_IN_FLIGHT_PER_CONNECTION >= 1 && PEER_LINK_QUEUE_MESSAGES >= 1);
const _: () = assert!(PEER_RECONNECT_BACKOFF_MIN.as_millis() <= PEER_RECONNECT_BACKOFF_MAX.as_millis());
const _: () = assert!(CONTROLLER_RETRY_BACKOFF_MIN.as_millis() <= CONTROLLER_RETRY_BACKOFF_MAX.as_millis());
const _: () = assert!(DEFAULT_METADATA_POLL_WAIT.as_millis() <= MAX_METADATA_POLL_WAIT.as_millis());
// The long poll's wait fits the u32 milliseconds of the wire.
const _: () = assert!(MAX_METADATA_POLL_WAIT.as_millis() <= u32::MAX as u128);
// A proposal outlives an election (1 to 2 s) so a leadership change alone does not time it out.
const _: () = assert!(
    PROPOSAL_TIMEOUT.as_millis()
        > 2 * corelog_replication::limits::CONTROLLER_TICK.as_millis()
            * corelog_replication::limits::ELECTION_TICKS as u128
);
// A client waits for a write's answer at least as long as the controller waits for the apply.
const _: () = assert!(CONTROLLER_REQUEST_TIMEOUT.as_millis() >= PROPOSAL_TIMEOUT.as_millis());
const _: () = assert!(INTERNAL_PROPOSAL_RETRY.as_millis() >= corelog_replication::limits::CONTROLLER_TICK.as_millis());

// ---- Replication (replica/) ----

/// Longest a replica fetch waits at the leader for new data (its long poll):
/// short, so the follower's progress report (its next fetch) is not held up
/// behind an idle partition sharing its request.
pub const REPLICA_FETCH_WAIT: Duration = Duration::from_millis(500);

/// Most bytes one replica fetch asks for (per partition and in all).
pub const REPLICA_FETCH_MAX_BYTES: usize = 8 << 20;

/// Pause before a follower session retries a leader it could not reach, and
/// how often a core looks for leaders it newly follows.
pub const REPLICA_FETCH_RETRY: Duration = Duration::from_millis(200);

// A replica fetch answer (every partition's bytes plus the frame around
// them) fits the frames brokers accept.
const _: () = assert!(REPLICA_FETCH_MAX_BYTES < corelog_protocol::limits::DEFAULT_MAX_FRAME_BYTES);

/// Longest an admin command forwarded to the controller quorum (from a
/// client's request, or an ISR change) waits to be applied: the quorum's
/// own proposal timeout plus a leader change.
pub const CONTROLLER_WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// How often a forwarded admin command checks whether this broker has
/// applied the image it produced.
pub const ADMIN_APPLY_POLL: Duration = Duration::from_millis(5);

// A forwarded command outlives one lost proposal and a retry.
const _: () = assert!(CONTROLLER_WRITE_TIMEOUT.as_millis() > PROPOSAL_TIMEOUT.as_millis());

// The Kafka listener (see docs/kafka.md).

/// The `corelog broker` command's default Kafka base port (Kafka's own):
/// core i serves Kafka clients on `9092 + i`.
pub const DEFAULT_KAFKA_PORT: u16 = 9092;

/// Most cores one node runs (a core index must fit in a Kafka broker id
/// beside the node id).
pub const MAX_CORES_PER_NODE: usize = 512;

/// Every core is its own Kafka broker, with id
/// `node_id * KAFKA_IDS_PER_NODE + core`: room for every core of a node.
pub const KAFKA_IDS_PER_NODE: u32 = 1024;

/// Largest node id whose Kafka broker ids fit a Kafka `int32` node id.
pub const MAX_KAFKA_NODE_ID: u32 = (i32::MAX as u32) / KAFKA_IDS_PER_NODE - 1;

const _: () = assert!(KAFKA_IDS_PER_NODE as usize > MAX_CORES_PER_NODE);
const _: () = assert!((MAX_KAFKA_NODE_ID as u64 + 1) * KAFKA_IDS_PER_NODE as u64 <= i32::MAX as u64);

/// JoinGroup member-id tickets (MEMBER_ID_REQUIRED, Kafka JoinGroup v4+) one
/// core remembers; the oldest is forgotten past it.
pub const MAX_PENDING_MEMBER_IDS: usize = 10_000;

// ---- Producer ids (producer_ids.rs) ----

/// Producer ids a core reserves at a time (one fsync per block): Kafka's
/// controller hands out blocks of 1000 too (KIP-730).
pub const PRODUCER_ID_BLOCK: u64 = 1000;

/// Bit where a producer id's node id starts, and where its core starts: the
/// rest below is the core's counter.
pub const PRODUCER_ID_NODE_SHIFT: u32 = 44;
pub const PRODUCER_ID_CORE_SHIFT: u32 = 34;

/// Largest node id and core whose producer ids fit a non-negative i64
/// (Kafka's producer id type).
pub const PRODUCER_ID_MAX_NODE: u32 = (1 << (63 - PRODUCER_ID_NODE_SHIFT)) - 1;
pub const PRODUCER_ID_MAX_CORE: u32 = (1 << (PRODUCER_ID_NODE_SHIFT - PRODUCER_ID_CORE_SHIFT)) - 1;

const _: () = assert!(PRODUCER_ID_CORE_SHIFT < PRODUCER_ID_NODE_SHIFT && PRODUCER_ID_NODE_SHIFT < 63);
const _: () = assert!(PRODUCER_ID_BLOCK < 1 << PRODUCER_ID_CORE_SHIFT);
const _: () = assert!(PARTITION_OPENS_IN_FLIGHT >= 1 && PARTITION_OPENS_IN_FLIGHT <= 1024);
