//! ApiVersions: the connection handshake.
//!
//! A client sends it first on every connection; the broker answers with the
//! version range of every api it speaks and its node id. A client then uses
//! [`ApiVersionsResponse::negotiate`] per api. (An ApiVersions request of a
//! version the broker does not speak gets an `ErrorResponse` with
//! `UnsupportedVersion`; the client retries with version 0.)

use rkyv::{Archive, Deserialize, Serialize};

use super::api::ApiKey;
use super::check::{self, Budget, Check};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::limits::{MAX_API_VERSION_RANGES, MAX_CLIENT_ID_LEN};

/// ApiVersions request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ApiVersionsRequest {
    /// Free-form client identity for logs and metrics (≤ 255 bytes).
    pub client_id: String,
}

/// The versions of one api a broker supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct ApiVersionRange {
    /// Raw api key (raw so a newer broker's apis decode on an older client).
    pub api_key: u16,
    /// Oldest supported version.
    pub min_version: u16,
    /// Newest supported version.
    pub max_version: u16,
}

impl ApiVersionRange {
    /// The range this build supports for `api`.
    pub fn of(api: ApiKey) -> Self {
        ApiVersionRange { api_key: api.code(), min_version: api.min_version(), max_version: api.max_version() }
    }
}

/// Every api and version range this build supports, for the ApiVersions response.
pub fn supported_api_versions() -> Vec<ApiVersionRange> {
    ApiKey::ALL.iter().map(|&api| ApiVersionRange::of(api)).collect()
}

/// ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Archive, Serialize, Deserialize)]
pub struct ApiVersionsResponse {
    /// Request-level error.
    pub error: ErrorCode,
    /// Detail for a request-level error.
    pub error_message: Option<String>,
    /// The answering broker's node id.
    pub node_id: u32,
    /// Supported apis and version ranges.
    pub api_versions: Vec<ApiVersionRange>,
}

impl ApiVersionsResponse {
    /// The newest version of `api` both this build and the broker speak.
    pub fn negotiate(&self, api: ApiKey) -> Option<u16> {
        let theirs = self.api_versions.iter().find(|r| r.api_key == api.code())?;
        let max = theirs.max_version.min(api.max_version());
        let min = theirs.min_version.max(api.min_version());
        (min <= max).then_some(max)
    }
}

impl Check for ArchivedApiVersionsRequest {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::limit("client id length", self.client_id.len(), MAX_CLIENT_ID_LEN)
    }
}

impl Check for ArchivedApiVersionsResponse {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.error_message)?;
        check::limit("number of api version ranges", self.api_versions.len(), MAX_API_VERSION_RANGES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_picks_common_max() {
        let mut resp = ApiVersionsResponse { api_versions: supported_api_versions(), ..Default::default() };
        assert_eq!(resp.negotiate(ApiKey::Produce), Some(0));
        resp.api_versions[0].min_version = 3;
        resp.api_versions[0].max_version = 5;
        assert_eq!(resp.negotiate(ApiKey::Produce), None);
        resp.api_versions.clear();
        assert_eq!(resp.negotiate(ApiKey::Fetch), None);
    }
}
