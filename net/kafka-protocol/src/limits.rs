//! Every limit of the Kafka codec, in one place.
//!
//! Decoding enforces these on untrusted input *before* allocating, on top of
//! the always-applied bound "a length or count cannot promise more bytes than
//! are left in the frame". So a hostile frame costs at most its own size in
//! memory (plus the in-memory size of the values it really contains).

/// Default largest frame (header + body, without the 4-byte size prefix) the
/// frame splitter accepts: room for a 1 MiB batch to each of several
/// partitions, small enough that a size prefix cannot make a core buffer a lot.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Largest value a configured maximum frame size may take (the size prefix is
/// an `i32`; one gibibyte keeps all offset arithmetic far from overflow).
pub const MAX_FRAME_BYTES_CEILING: usize = 1 << 30;

/// Smallest request frame: request header v1 with a null client id
/// (api_key 2 + api_version 2 + correlation_id 4 + client_id length 2).
pub const MIN_REQUEST_FRAME_BYTES: usize = 10;

/// Smallest response frame: response header v0 (correlation_id 4).
pub const MIN_RESPONSE_FRAME_BYTES: usize = 4;

/// Longest string, in bytes. Kafka's own limit (Java rejects longer strings,
/// compact or not), and what a non-compact `i16` length can express.
pub const MAX_STRING_LEN: usize = i16::MAX as usize;

/// Longest `bytes` or `records` value.
pub const MAX_BYTES_LEN: usize = MAX_FRAME_BYTES_CEILING;

/// Most elements of one array.
pub const MAX_ARRAY_LEN: usize = 1 << 22;

/// Most tagged fields in one tagged-field section (known or unknown).
pub const MAX_TAGGED_FIELDS: usize = 256;

/// Most elements reserved up front when an array is decoded; larger arrays
/// grow only as their elements actually decode.
pub const PREALLOC_ELEMS: usize = 1024;

const _: () = assert!(MIN_RESPONSE_FRAME_BYTES <= MIN_REQUEST_FRAME_BYTES);
const _: () = assert!(MIN_REQUEST_FRAME_BYTES <= DEFAULT_MAX_FRAME_BYTES);
const _: () = assert!(DEFAULT_MAX_FRAME_BYTES <= MAX_FRAME_BYTES_CEILING);
const _: () = assert!(MAX_FRAME_BYTES_CEILING <= i32::MAX as usize);
const _: () = assert!(MAX_BYTES_LEN <= i32::MAX as usize);
const _: () = assert!(MAX_STRING_LEN <= i16::MAX as usize);
const _: () = assert!(MAX_ARRAY_LEN <= i32::MAX as usize);
const _: () = assert!(PREALLOC_ELEMS <= MAX_ARRAY_LEN);
