//! [`Request`] and [`Response`]: every message of the protocol, one variant
//! per api, plus [`ErrorResponse`] for requests that could not be decoded.

use rkyv::{Archive, Deserialize, Serialize};

use super::api::ApiKey;
use super::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use super::check::{self, Budget, Check};
use super::configs::{AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::fetch::{FetchRequest, FetchResponse};
use super::frame::FrameHeader;
use super::limits::MAX_ERROR_MESSAGE_LEN;
use super::list_offsets::{ListOffsetsRequest, ListOffsetsResponse};
use super::metadata::{MetadataRequest, MetadataResponse};
use super::produce::{ProduceRequest, ProduceResponse};
use super::topics::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse,
};

/// A request: what a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// See [`ProduceRequest`].
    Produce(ProduceRequest),
    /// See [`FetchRequest`].
    Fetch(FetchRequest),
    /// See [`ListOffsetsRequest`].
    ListOffsets(ListOffsetsRequest),
    /// See [`MetadataRequest`].
    Metadata(MetadataRequest),
    /// See [`ApiVersionsRequest`].
    ApiVersions(ApiVersionsRequest),
    /// See [`CreateTopicsRequest`].
    CreateTopics(CreateTopicsRequest),
    /// See [`DeleteTopicsRequest`].
    DeleteTopics(DeleteTopicsRequest),
    /// See [`CreatePartitionsRequest`].
    CreatePartitions(CreatePartitionsRequest),
    /// See [`DescribeConfigsRequest`].
    DescribeConfigs(DescribeConfigsRequest),
    /// See [`AlterConfigsRequest`].
    AlterConfigs(AlterConfigsRequest),
}

impl Request {
    /// The api this request belongs to.
    pub fn api_key(&self) -> ApiKey {
        match self {
            Request::Produce(_) => ApiKey::Produce,
            Request::Fetch(_) => ApiKey::Fetch,
            Request::ListOffsets(_) => ApiKey::ListOffsets,
            Request::Metadata(_) => ApiKey::Metadata,
            Request::ApiVersions(_) => ApiKey::ApiVersions,
            Request::CreateTopics(_) => ApiKey::CreateTopics,
            Request::DeleteTopics(_) => ApiKey::DeleteTopics,
            Request::CreatePartitions(_) => ApiKey::CreatePartitions,
            Request::DescribeConfigs(_) => ApiKey::DescribeConfigs,
            Request::AlterConfigs(_) => ApiKey::AlterConfigs,
        }
    }

    /// Whether the broker answers this request. Only a produce request with
    /// [`Acks::None`](super::Acks::None) goes unanswered.
    pub fn expects_response(&self) -> bool {
        !matches!(self, Request::Produce(p) if p.acks == super::produce::Acks::None)
    }
}

/// A response: what a broker sends back, with the request's correlation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// See [`ProduceResponse`].
    Produce(ProduceResponse),
    /// See [`FetchResponse`].
    Fetch(FetchResponse),
    /// See [`ListOffsetsResponse`].
    ListOffsets(ListOffsetsResponse),
    /// See [`MetadataResponse`].
    Metadata(MetadataResponse),
    /// See [`ApiVersionsResponse`].
    ApiVersions(ApiVersionsResponse),
    /// See [`CreateTopicsResponse`].
    CreateTopics(CreateTopicsResponse),
    /// See [`DeleteTopicsResponse`].
    DeleteTopics(DeleteTopicsResponse),
    /// See [`CreatePartitionsResponse`].
    CreatePartitions(CreatePartitionsResponse),
    /// See [`DescribeConfigsResponse`].
    DescribeConfigs(DescribeConfigsResponse),
    /// See [`AlterConfigsResponse`].
    AlterConfigs(AlterConfigsResponse),
    /// The request could not be decoded (unknown api, unsupported version,
    /// invalid body); sent with the `ERROR_BODY` frame flag.
    Error(ErrorResponse),
}

impl Response {
    /// The raw api key the response frame carries (for [`Response::Error`],
    /// the failed request's, which may be unknown to this build).
    pub fn api_key_raw(&self) -> u16 {
        match self {
            Response::Produce(_) => ApiKey::Produce.code(),
            Response::Fetch(_) => ApiKey::Fetch.code(),
            Response::ListOffsets(_) => ApiKey::ListOffsets.code(),
            Response::Metadata(_) => ApiKey::Metadata.code(),
            Response::ApiVersions(_) => ApiKey::ApiVersions.code(),
            Response::CreateTopics(_) => ApiKey::CreateTopics.code(),
            Response::DeleteTopics(_) => ApiKey::DeleteTopics.code(),
            Response::CreatePartitions(_) => ApiKey::CreatePartitions.code(),
            Response::DescribeConfigs(_) => ApiKey::DescribeConfigs.code(),
            Response::AlterConfigs(_) => ApiKey::AlterConfigs.code(),
            Response::Error(e) => e.api_key,
        }
    }

    /// The request-level error code, whatever the variant.
    pub fn error(&self) -> ErrorCode {
        match self {
            Response::Produce(r) => r.error,
            Response::Fetch(r) => r.error,
            Response::ListOffsets(r) => r.error,
            Response::Metadata(r) => r.error,
            Response::ApiVersions(r) => r.error,
            Response::CreateTopics(r) => r.error,
            Response::DeleteTopics(r) => r.error,
            Response::CreatePartitions(r) => r.error,
            Response::DescribeConfigs(r) => r.error,
            Response::AlterConfigs(r) => r.error,
            Response::Error(r) => r.error,
        }
    }
}

/// The answer to a request that could not be decoded. It has no api-specific
/// body, so it can answer any api key and version, even unknown ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The failed request's raw api key (echoed in the frame header).
    pub api_key: u16,
    /// The failed request's api version (echoed in the frame header).
    pub api_version: u16,
    /// Why it failed.
    pub error: ErrorCode,
    /// Detail.
    pub message: Option<String>,
}

impl ErrorResponse {
    /// The answer to the request with `header` that failed to decode with `err`.
    pub fn for_request(header: &FrameHeader, err: &ProtocolError) -> Self {
        ErrorResponse {
            api_key: header.api_key_raw(),
            api_version: header.api_version(),
            error: err.error_code(),
            message: Some(truncate_message(err.to_string())),
        }
    }
}

/// Cuts `message` to at most [`MAX_ERROR_MESSAGE_LEN`] bytes (on a character
/// boundary), so a response carrying it is never rejected by the peer.
pub fn truncate_message(mut message: String) -> String {
    if message.len() > MAX_ERROR_MESSAGE_LEN {
        let mut end = MAX_ERROR_MESSAGE_LEN;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

/// The body of an [`ErrorResponse`] frame (api key and version are in the header).
#[derive(Archive, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorCode,
    pub message: Option<String>,
}

impl Check for ArchivedErrorBody {
    fn check(&self, _budget: &mut Budget) -> Result<(), ProtocolError> {
        check::error_message(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundary() {
        let long = "é".repeat(MAX_ERROR_MESSAGE_LEN);
        let cut = truncate_message(long);
        assert!(cut.len() <= MAX_ERROR_MESSAGE_LEN);
        assert!(cut.len() >= MAX_ERROR_MESSAGE_LEN - 1);
        assert_eq!(truncate_message("short".into()), "short");
    }
}
