//! Errors of decoding and encoding message bodies and headers.

/// Why a header or body could not be decoded. Every variant is the answer to
/// untrusted input; none is a bug of ours.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before a value did.
    #[error("truncated: {needed} bytes needed, {left} left")]
    Truncated { needed: usize, left: usize },
    /// A length other than -1 (null) was negative.
    #[error("negative length {0}")]
    NegativeLength(i64),
    /// A length or count exceeds its limit in `limits.rs`.
    #[error("{what} of {len} exceeds the limit of {limit}")]
    TooLong { what: &'static str, len: usize, limit: usize },
    /// An array count promises more elements than the bytes left can hold.
    #[error("array of {count} elements cannot fit in {left} bytes")]
    ArrayPastEnd { count: usize, left: usize },
    /// A string is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// Null for a field that is not nullable at this version.
    #[error("null for a non-nullable field")]
    UnexpectedNull,
    /// An unsigned varint longer than 5 bytes or above `u32::MAX`.
    #[error("malformed varint")]
    BadVarint,
    /// A known tagged field whose value did not fill its announced size.
    #[error("tagged field {tag}: {left} bytes left over")]
    TaggedFieldSize { tag: u32, left: usize },
    /// The version is outside what the message schema defines.
    #[error("api {api_key} has no version {version}")]
    UnsupportedVersion { api_key: i16, version: i16 },
    /// Bytes after the end of the message.
    #[error("{0} bytes after the end of the message")]
    TrailingBytes(usize),
}

/// Why a value could not be encoded (our own values, so a bug of the caller).
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The version is outside what the message schema defines.
    #[error("api {api_key} has no version {version}")]
    UnsupportedVersion { api_key: i16, version: i16 },
    /// `None` for a field that is not nullable at this version.
    #[error("null for a non-nullable field")]
    NullNotAllowed,
    /// A value longer than the wire format (or Kafka) allows.
    #[error("{what} of {len} exceeds the limit of {limit}")]
    TooLong { what: &'static str, len: usize, limit: usize },
    /// The header names another api than the body.
    #[error("header api key {header} does not match body api key {body}")]
    ApiKeyMismatch { header: i16, body: i16 },
}
