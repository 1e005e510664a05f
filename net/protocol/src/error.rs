//! Errors of the codec: [`ProtocolError`] (decoding a frame's body) and
//! [`EncodeError`] (building a frame).

use super::api::ApiKey;
use super::error_code::ErrorCode;

/// Why a complete, well-framed frame could not be decoded into a request or
/// response. Framing is intact, so a broker answers these with an error
/// response (see [`ProtocolError::error_code`]) and keeps the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The header's api key is not one this build knows.
    #[error("unsupported api key {0}")]
    UnsupportedApi(u16),
    /// The api is known but not at this version.
    #[error("unsupported version {version} of api {api}")]
    UnsupportedVersion {
        /// The api.
        api: ApiKey,
        /// The version asked for.
        version: u16,
    },
    /// A response frame was given to `decode_request`, or the reverse.
    #[error("expected a {expected} frame")]
    WrongDirection {
        /// `"request"` or `"response"`.
        expected: &'static str,
    },
    /// The body failed rkyv validation (bytecheck): not a valid archive of the
    /// api's body type.
    #[error("malformed body for api key {api_key}: {reason}")]
    MalformedBody {
        /// The raw api key of the frame.
        api_key: u16,
        /// rkyv's description of the problem.
        reason: String,
    },
    /// A count or string length in the body exceeds a protocol limit.
    #[error("{what} is {len}, over the limit of {max}")]
    LimitExceeded {
        /// What was counted or measured.
        what: &'static str,
        /// Its value.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A data-section reference is out of bounds, or overlaps or precedes the
    /// previous one (references must be ascending and disjoint, so one frame's
    /// payload cannot be appended twice).
    #[error("bad data reference ({offset}, {len}) into a data section of {data_len} bytes")]
    BadDataRef {
        /// Reference offset.
        offset: u32,
        /// Reference length.
        len: u32,
        /// Length of the data section.
        data_len: usize,
    },
    /// The frame has a data section although its api never references one.
    #[error("unexpected data section of {0} bytes")]
    UnexpectedData(usize),
}

impl ProtocolError {
    /// The error code to answer this with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ProtocolError::UnsupportedApi(_) => ErrorCode::UnsupportedApi,
            ProtocolError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            ProtocolError::WrongDirection { .. }
            | ProtocolError::MalformedBody { .. }
            | ProtocolError::LimitExceeded { .. }
            | ProtocolError::BadDataRef { .. }
            | ProtocolError::UnexpectedData(_) => ErrorCode::InvalidRequest,
        }
    }
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The frame would exceed what a `u32` length (or a data reference) can
    /// describe, or [`MAX_FRAME_BYTES_CEILING`](super::limits::MAX_FRAME_BYTES_CEILING).
    #[error("frame of {0} bytes is too large to encode")]
    TooLarge(usize),
    /// rkyv failed to serialize the body.
    #[error("could not serialize body: {0}")]
    Serialize(String),
}
