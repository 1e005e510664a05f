//! Whole responses: encoding (the broker's side) and decoding (a client's
//! side, and tests), plus the reply to an unsupported ApiVersions version.

use bytes::Bytes;

use crate::api_versions_response::ApiVersion;
use crate::{
    error_code, ApiKey, ApiVersionsResponse, DecodeError, EncodeError, EncodedFrame, Reader, ResponseBody,
    ResponseHeader, SUPPORTED_APIS,
};

/// Encodes a response frame for a request of `version` with `correlation_id`.
pub fn encode_response(correlation_id: i32, version: i16, body: &ResponseBody) -> Result<EncodedFrame, EncodeError> {
    let flexible = ResponseHeader::is_flexible(body.api_key(), version);
    EncodedFrame::build(|w| {
        ResponseHeader { correlation_id }.encode(w, flexible);
        body.encode(w, version);
    })
}

/// Decodes a response frame (without the size prefix) to a request of `api`
/// at `version` (a response does not name its api: the client knows it from
/// the correlation id).
pub fn decode_response(frame: Bytes, api: ApiKey, version: i16) -> Result<(ResponseHeader, ResponseBody), DecodeError> {
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, ResponseHeader::is_flexible(api, version))?;
    let body = ResponseBody::decode(api, &mut r, version)?;
    r.expect_end()?;
    Ok((header, body))
}

/// The [`SUPPORTED_APIS`] table as ApiVersions entries.
pub fn supported_api_versions() -> Vec<ApiVersion> {
    SUPPORTED_APIS
        .iter()
        .map(|&(api, min_version, max_version)| ApiVersion { api_key: api.as_i16(), min_version, max_version })
        .collect()
}

/// The reply to an ApiVersions request of a version this crate does not
/// support: ApiVersions v0 format (what every client can read) with
/// `UNSUPPORTED_VERSION` and the supported table, so the client retries with
/// a version it has in common with us.
pub fn unsupported_version_response(correlation_id: i32) -> Result<EncodedFrame, EncodeError> {
    let body = ApiVersionsResponse {
        error_code: error_code::UNSUPPORTED_VERSION,
        api_keys: supported_api_versions(),
        ..ApiVersionsResponse::default()
    };
    encode_response(correlation_id, 0, &ResponseBody::ApiVersions(body))
}
