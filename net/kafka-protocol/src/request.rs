//! Whole requests: decoding a frame into header + typed body (the broker's
//! side) and encoding one (a client's side, and tests).

use bytes::Bytes;

use crate::{ApiKey, DecodeError, EncodeError, EncodedFrame, Reader, RequestBody, RequestHeader};

/// A decoded request.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub header: RequestHeader,
    pub body: RequestBody,
}

/// Why a request frame could not be decoded, and what the broker should do.
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// An api this crate does not know: close the connection.
    #[error("unknown api key {api_key}")]
    UnknownApi { api_key: i16, correlation_id: i32 },
    /// A known api at a version outside [`crate::SUPPORTED_APIS`]. For
    /// ApiVersions answer with [`crate::unsupported_version_response`];
    /// for other apis close the connection.
    #[error("{} version {version} is not supported", api_key.name())]
    UnsupportedVersion { api_key: ApiKey, version: i16, correlation_id: i32 },
    /// The header or body is malformed (`header` is set when the header
    /// decoded): close the connection.
    #[error("malformed request: {error}")]
    Malformed { header: Option<RequestHeader>, error: DecodeError },
}

/// Decodes a request frame (header + body, without the size prefix, as
/// [`crate::FrameSplitter`] returns it). `records` values are slices of `frame`.
pub fn decode_request(frame: Bytes) -> Result<Request, RequestError> {
    let malformed = |header: Option<RequestHeader>| move |error| RequestError::Malformed { header, error };
    // api_key, api_version and correlation_id sit at the same place in every
    // header version: read them first to pick the header version.
    let mut peek = Reader::new(frame.clone());
    let api_key = peek.i16().map_err(malformed(None))?;
    let version = peek.i16().map_err(malformed(None))?;
    let correlation_id = peek.i32().map_err(malformed(None))?;
    let Some(api) = ApiKey::from_i16(api_key) else {
        return Err(RequestError::UnknownApi { api_key, correlation_id });
    };
    let (lo, hi) = api.supported_versions();
    if !(lo..=hi).contains(&version) {
        return Err(RequestError::UnsupportedVersion { api_key: api, version, correlation_id });
    }
    let mut r = Reader::new(frame);
    let header = RequestHeader::decode(&mut r, api.request_is_flexible(version)).map_err(malformed(None))?;
    let body = RequestBody::decode(api, &mut r, version).map_err(malformed(Some(header.clone())))?;
    r.expect_end().map_err(malformed(Some(header.clone())))?;
    Ok(Request { header, body })
}

/// Encodes a request frame. `header.api_key` must be the body's api.
pub fn encode_request(header: &RequestHeader, body: &RequestBody) -> Result<EncodedFrame, EncodeError> {
    let api = body.api_key();
    if header.api_key != api.as_i16() {
        return Err(EncodeError::ApiKeyMismatch { header: header.api_key, body: api.as_i16() });
    }
    let version = header.api_version;
    EncodedFrame::build(|w| {
        header.encode(w, api.request_is_flexible(version));
        body.encode(w, version);
    })
}
