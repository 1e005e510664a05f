//! Every limit of the client, in one place (batch and frame limits are
//! corelog_format::limits and corelog_protocol::limits).

/// Bytes asked of the socket per read while no frame of at least this size
/// is being received (a larger frame is read to its end, in reads of what
/// the socket has).
pub const READ_BUFFER_BYTES: usize = 128 * 1024;

/// Most batches of one partition an idempotent producer has in flight at
/// once: the broker remembers as many of each producer's last batches per
/// partition, so a retry of any of them is still recognised as a duplicate
/// (why 10 and not Kafka's 5: corelog_format's limit).
pub const MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT: usize = corelog_format::limits::IDEMPOTENT_BATCHES_IN_FLIGHT;

/// Longest pause between rounds of reconnect attempts when no endpoint
/// answers (Kafka's `reconnect.backoff.max.ms`).
pub const MAX_RECONNECT_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

// A response is read in a few socket reads, never more bytes per read than
// one frame may hold.
const _: () = assert!(READ_BUFFER_BYTES <= corelog_protocol::limits::DEFAULT_MAX_FRAME_BYTES);
