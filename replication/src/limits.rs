//! Every limit of the cluster metadata, in one place (the shared wire
//! limits, such as partitions per topic, are corelog_protocol::limits).

/// Smallest segment a topic may ask for (a few batches).
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

// A segment holds at least a few default-size index intervals and is never
// larger than the u32 positions of its index allow.
const _: () = assert!(MIN_SEGMENT_BYTES >= 4 * corelog_storage::limits::INDEX_INTERVAL_BYTES);
const _: () = assert!(MIN_SEGMENT_BYTES <= corelog_storage::limits::MAX_SEGMENT_BYTES);
