//! Every limit of the wire protocol, in one place.
//!
//! The decoders enforce these on untrusted input *before* anything is allocated
//! for it, so a hostile or corrupt frame costs at most its own size in memory
//! and linear time to reject. Changing a limit here changes it everywhere.
//!
//! Two kinds of limit:
//! - **framing** limits ([`DEFAULT_MAX_FRAME_BYTES`], [`MAX_FRAME_BYTES_CEILING`]):
//!   violating them is a framing error and the connection is closed;
//! - **body** limits (counts and string lengths): violating them makes the
//!   request invalid ([`crate::ErrorCode::InvalidRequest`]) but the
//!   connection stays usable, since framing is intact.
//!
//! Semantic checks that deserve a per-item answer (topic-name characters,
//! config values, partition counts) are *not* done by the decoder: the
//! broker's metadata state machine (`corelog_replication::metadata`) owns those
//! rules and the handler answers with a per-item error code.

/// Default largest frame (header + body + data section) a [`FrameDecoder`]
/// accepts. Large enough for a 1 MiB batch to each of many partitions, small
/// enough that a hostile length prefix cannot make a core buffer gigabytes.
///
/// [`FrameDecoder`]: crate::FrameDecoder
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Largest value a configured maximum frame size may take. The frame length is
/// a `u32`; one gibibyte keeps every offset arithmetic far from overflow.
pub const MAX_FRAME_BYTES_CEILING: usize = 1 << 30;

/// Longest topic name, in bytes (names are ASCII, so bytes == chars). Same as
/// Kafka: the name appears in directory names with a suffix.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Most topics one request may name (Metadata, CreateTopics, DeleteTopics,
/// CreatePartitions, DescribeConfigs, AlterConfigs, Produce, Fetch, ListOffsets).
pub const MAX_TOPICS_PER_REQUEST: usize = 10_000;

/// Most partition entries one request may carry, summed over all its topics.
pub const MAX_PARTITIONS_PER_REQUEST: usize = 100_000;

/// Most topics one response may carry. Larger than the request limit because a
/// Metadata request for "all topics" is answered with the whole cluster.
pub const MAX_TOPICS_PER_RESPONSE: usize = 1_000_000;

/// Most partition entries one response may carry, summed over all its topics.
pub const MAX_PARTITIONS_PER_RESPONSE: usize = 4_000_000;

/// Most partitions one topic may have: the metadata state machine refuses a
/// larger CreateTopics or CreatePartitions count (`InvalidPartitions` for that
/// topic). A count is not a memory hazard, so the decoder leaves it to the
/// handler. Defined here, below every crate that needs it, so the wire and the
/// metadata agree on one value.
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 10_000;

/// Longest client id in an ApiVersions handshake, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 255;

/// Longest host name in an endpoint, in bytes (a DNS name is at most 253).
pub const MAX_HOST_LEN: usize = 255;

/// Most brokers a Metadata response may list.
pub const MAX_BROKERS: usize = 10_000;

/// Most per-core endpoints one broker may list.
pub const MAX_ENDPOINTS_PER_BROKER: usize = 4_096;

/// Most (api key, version range) entries in an ApiVersions response.
pub const MAX_API_VERSION_RANGES: usize = 1_024;

/// Most config entries (or alter operations) per topic in one request or response.
pub const MAX_CONFIG_ENTRIES: usize = 256;

/// Longest config key, in bytes.
pub const MAX_CONFIG_KEY_LEN: usize = 255;

/// Longest config value, in bytes.
pub const MAX_CONFIG_VALUE_LEN: usize = 4_096;

/// Longest error message carried in a response, in bytes.
pub const MAX_ERROR_MESSAGE_LEN: usize = 4_096;

/// Longest consumer-group id, in bytes. Group ids appear in the keys of the
/// `__consumer_offsets` records (a `u16` length there).
pub const MAX_GROUP_ID_LEN: usize = 255;

/// Longest group member id, in bytes. The coordinator generates ids as
/// `{client_id}-{incarnation:x}-{counter}`, well within this.
pub const MAX_MEMBER_ID_LEN: usize = 512;

/// Longest group protocol type (`"consumer"`) or protocol (assignor) name, in bytes.
pub const MAX_GROUP_PROTOCOL_NAME_LEN: usize = 255;

/// Most protocols (assignors) one JoinGroup may offer.
pub const MAX_GROUP_PROTOCOLS: usize = 64;

/// Largest opaque member metadata (a JoinGroup protocol's subscription) or
/// assignment, in bytes.
pub const MAX_MEMBER_METADATA_BYTES: usize = 1 << 20;

/// Most members a group may have (and so the most a JoinGroup, SyncGroup or
/// DescribeGroups message may list for one group).
pub const MAX_GROUP_MEMBERS: usize = 10_000;

/// Most group ids one DescribeGroups or DeleteGroups request may name.
pub const MAX_GROUPS_PER_REQUEST: usize = 10_000;

/// Most groups one ListGroups or DescribeGroups response may carry.
pub const MAX_GROUPS_PER_RESPONSE: usize = 1_000_000;

/// Longest metadata string committed with an offset, in bytes (Kafka's
/// `offset.metadata.max.bytes` default).
pub const MAX_OFFSET_METADATA_LEN: usize = 4_096;

/// Most group states a ListGroups request may filter on.
pub const MAX_GROUP_STATES_FILTER: usize = 16;

/// Most replicas a partition may have (the replication factor's ceiling):
/// every replica list and in-sync list on the wire is bounded by it.
pub const MAX_REPLICATION_FACTOR: usize = 16;

/// Largest serialized metadata command a ControllerWrite may carry (a
/// topic creation with every config entry is a few KiB).
pub const MAX_CONTROLLER_COMMAND_BYTES: usize = 1 << 20;

/// Largest serialized cluster metadata image a MetadataUpdate response may
/// carry (about 120 bytes per partition: 64 MiB is half a million).
pub const MAX_METADATA_IMAGE_BYTES: usize = 64 << 20;

/// Largest encoded Raft message between controllers. Raft's own
/// `max_size_per_msg` keeps appends well below it; a snapshot (the whole
/// metadata image) is the largest message.
pub const MAX_RAFT_MESSAGE_BYTES: usize = MAX_METADATA_IMAGE_BYTES + (1 << 20);

/// Most controllers (Raft voters) a cluster may name.
pub const MAX_CONTROLLERS: usize = 9;

// Relations the codecs rely on, checked at compile time.
const _: () = {
    assert!(DEFAULT_MAX_FRAME_BYTES <= MAX_FRAME_BYTES_CEILING);
    assert!(MAX_FRAME_BYTES_CEILING <= u32::MAX as usize);
    assert!(MAX_TOPICS_PER_REQUEST <= MAX_TOPICS_PER_RESPONSE);
    assert!(MAX_PARTITIONS_PER_REQUEST <= MAX_PARTITIONS_PER_RESPONSE);
    assert!(MAX_GROUPS_PER_REQUEST <= MAX_GROUPS_PER_RESPONSE);
    // A snapshot message carries a whole metadata image, and it must fit in
    // a frame the controllers' connections accept.
    assert!(MAX_METADATA_IMAGE_BYTES < MAX_RAFT_MESSAGE_BYTES);
    assert!(MAX_RAFT_MESSAGE_BYTES < MAX_FRAME_BYTES_CEILING);
    assert!(MAX_CONTROLLER_COMMAND_BYTES < DEFAULT_MAX_FRAME_BYTES);
    assert!(MAX_CONTROLLERS <= MAX_BROKERS);
    assert!(MAX_GROUP_ID_LEN <= u16::MAX as usize);
    assert!(MAX_MEMBER_ID_LEN <= u16::MAX as usize);
    assert!(MAX_MEMBER_METADATA_BYTES < DEFAULT_MAX_FRAME_BYTES);
    // Batches travel in the data section at frame-aligned offsets and are
    // read in place from the receive buffer: the two alignments must agree.
    assert!(crate::frame::FRAME_ALIGNMENT == corelog_format::limits::BATCH_ALIGNMENT);
    // The default batch fits the default frame with its request around it,
    // and the largest batch the log accepts fits the largest frame.
    assert!(corelog_format::limits::DEFAULT_MAX_BATCH_BYTES + crate::frame::FRAME_HEADER_LEN < DEFAULT_MAX_FRAME_BYTES);
    assert!(corelog_format::limits::MAX_BATCH_BYTES_CEILING < MAX_FRAME_BYTES_CEILING);
    // A topic's partitions fit one request.
    assert!(MAX_PARTITIONS_PER_TOPIC as usize <= MAX_PARTITIONS_PER_REQUEST);
};
