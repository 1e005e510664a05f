//! [`Request`] and [`Response`]: every message of the protocol, one variant
//! per api, plus [`ErrorResponse`] for requests that could not be decoded.

use rkyv::{Archive, Deserialize, Serialize};

use super::api::ApiKey;
use super::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use super::check::{self, Budget, Check};
use super::cluster_admin::{
    DescribeClusterRequest, DescribeClusterResponse, ElectLeadersRequest, ElectLeadersResponse,
};
use super::configs::{AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse};
use super::controller_rpc::{
    BrokerHeartbeatRequest, BrokerHeartbeatResponse, ControllerWriteRequest, ControllerWriteResponse,
    MetadataUpdateRequest, MetadataUpdateResponse, RaftMessageRequest, RaftMessageResponse,
};
use super::error::ProtocolError;
use super::error_code::ErrorCode;
use super::fetch::{FetchRequest, FetchResponse};
use super::find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse};
use super::frame::FrameHeader;
use super::group_admin::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup,
    GroupResult, ListGroupsRequest, ListGroupsResponse,
};
use super::group_membership::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use super::group_offsets::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchPartitionResponse, OffsetFetchRequest, OffsetFetchResponse,
    OffsetFetchTopicResponse,
};
use super::limits::MAX_ERROR_MESSAGE_LEN;
use super::list_offsets::{ListOffsetsRequest, ListOffsetsResponse};
use super::metadata::{MetadataRequest, MetadataResponse};
use super::produce::{ProduceRequest, ProduceResponse};
use super::producer_id::{InitProducerIdRequest, InitProducerIdResponse};
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
    /// See [`FindCoordinatorRequest`].
    FindCoordinator(FindCoordinatorRequest),
    /// See [`JoinGroupRequest`].
    JoinGroup(JoinGroupRequest),
    /// See [`SyncGroupRequest`].
    SyncGroup(SyncGroupRequest),
    /// See [`HeartbeatRequest`].
    Heartbeat(HeartbeatRequest),
    /// See [`LeaveGroupRequest`].
    LeaveGroup(LeaveGroupRequest),
    /// See [`OffsetCommitRequest`].
    OffsetCommit(OffsetCommitRequest),
    /// See [`OffsetFetchRequest`].
    OffsetFetch(OffsetFetchRequest),
    /// See [`ListGroupsRequest`].
    ListGroups(ListGroupsRequest),
    /// See [`DescribeGroupsRequest`].
    DescribeGroups(DescribeGroupsRequest),
    /// See [`DeleteGroupsRequest`].
    DeleteGroups(DeleteGroupsRequest),
    /// See [`ControllerWriteRequest`].
    ControllerWrite(ControllerWriteRequest),
    /// See [`BrokerHeartbeatRequest`].
    BrokerHeartbeat(BrokerHeartbeatRequest),
    /// See [`MetadataUpdateRequest`].
    MetadataUpdate(MetadataUpdateRequest),
    /// See [`RaftMessageRequest`].
    RaftMessage(RaftMessageRequest),
    /// See [`DescribeClusterRequest`].
    DescribeCluster(DescribeClusterRequest),
    /// See [`ElectLeadersRequest`].
    ElectLeaders(ElectLeadersRequest),
    /// See [`InitProducerIdRequest`].
    InitProducerId(InitProducerIdRequest),
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
            Request::FindCoordinator(_) => ApiKey::FindCoordinator,
            Request::JoinGroup(_) => ApiKey::JoinGroup,
            Request::SyncGroup(_) => ApiKey::SyncGroup,
            Request::Heartbeat(_) => ApiKey::Heartbeat,
            Request::LeaveGroup(_) => ApiKey::LeaveGroup,
            Request::OffsetCommit(_) => ApiKey::OffsetCommit,
            Request::OffsetFetch(_) => ApiKey::OffsetFetch,
            Request::ListGroups(_) => ApiKey::ListGroups,
            Request::DescribeGroups(_) => ApiKey::DescribeGroups,
            Request::DeleteGroups(_) => ApiKey::DeleteGroups,
            Request::ControllerWrite(_) => ApiKey::ControllerWrite,
            Request::BrokerHeartbeat(_) => ApiKey::BrokerHeartbeat,
            Request::MetadataUpdate(_) => ApiKey::MetadataUpdate,
            Request::RaftMessage(_) => ApiKey::RaftMessage,
            Request::DescribeCluster(_) => ApiKey::DescribeCluster,
            Request::ElectLeaders(_) => ApiKey::ElectLeaders,
            Request::InitProducerId(_) => ApiKey::InitProducerId,
        }
    }

    /// The typed response of this request's api reporting `error` for the
    /// whole request, e.g. [`ErrorCode::NotCoordinator`] for a group request
    /// sent to the wrong core. Per-item lists echo the request's items with
    /// the same error where the api answers per item (OffsetCommit,
    /// OffsetFetch, DescribeGroups, DeleteGroups); other apis' lists are empty.
    pub fn error_response(&self, error: ErrorCode, message: impl Into<String>) -> Response {
        let message = Some(truncate_message(message.into()));
        macro_rules! plain {
            ($variant:ident, $ty:ident) => {
                Response::$variant($ty { error, error_message: message, ..Default::default() })
            };
        }
        match self {
            Request::Produce(_) => plain!(Produce, ProduceResponse),
            Request::Fetch(_) => plain!(Fetch, FetchResponse),
            Request::ListOffsets(_) => plain!(ListOffsets, ListOffsetsResponse),
            Request::Metadata(_) => plain!(Metadata, MetadataResponse),
            Request::ApiVersions(_) => plain!(ApiVersions, ApiVersionsResponse),
            Request::CreateTopics(_) => plain!(CreateTopics, CreateTopicsResponse),
            Request::DeleteTopics(_) => plain!(DeleteTopics, DeleteTopicsResponse),
            Request::CreatePartitions(_) => plain!(CreatePartitions, CreatePartitionsResponse),
            Request::DescribeConfigs(_) => plain!(DescribeConfigs, DescribeConfigsResponse),
            Request::AlterConfigs(_) => plain!(AlterConfigs, AlterConfigsResponse),
            Request::FindCoordinator(_) => plain!(FindCoordinator, FindCoordinatorResponse),
            Request::JoinGroup(r) => Response::JoinGroup(JoinGroupResponse {
                error,
                error_message: message,
                generation_id: -1,
                member_id: r.member_id.clone(),
                ..Default::default()
            }),
            Request::SyncGroup(_) => plain!(SyncGroup, SyncGroupResponse),
            Request::Heartbeat(_) => Response::Heartbeat(HeartbeatResponse { error, error_message: message }),
            Request::LeaveGroup(_) => Response::LeaveGroup(LeaveGroupResponse { error, error_message: message }),
            Request::OffsetCommit(r) => Response::OffsetCommit(OffsetCommitResponse::uniform(r, error, message)),
            Request::OffsetFetch(r) => Response::OffsetFetch(OffsetFetchResponse {
                error,
                error_message: message,
                topics: r
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| OffsetFetchTopicResponse {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|&partition| OffsetFetchPartitionResponse {
                                partition,
                                offset: None,
                                metadata: String::new(),
                                error,
                            })
                            .collect(),
                    })
                    .collect(),
            }),
            Request::ListGroups(_) => plain!(ListGroups, ListGroupsResponse),
            Request::DescribeGroups(r) => Response::DescribeGroups(DescribeGroupsResponse {
                error,
                error_message: message,
                groups: r.group_ids.iter().map(|g| DescribedGroup::error(g.clone(), error)).collect(),
            }),
            Request::DeleteGroups(r) => Response::DeleteGroups(DeleteGroupsResponse {
                error,
                error_message: message,
                results: r.group_ids.iter().map(|g| GroupResult { group_id: g.clone(), error }).collect(),
            }),
            Request::ControllerWrite(_) => plain!(ControllerWrite, ControllerWriteResponse),
            Request::BrokerHeartbeat(_) => plain!(BrokerHeartbeat, BrokerHeartbeatResponse),
            Request::MetadataUpdate(_) => plain!(MetadataUpdate, MetadataUpdateResponse),
            Request::RaftMessage(_) => Response::RaftMessage(RaftMessageResponse { error, error_message: message }),
            Request::DescribeCluster(_) => plain!(DescribeCluster, DescribeClusterResponse),
            Request::ElectLeaders(_) => plain!(ElectLeaders, ElectLeadersResponse),
            Request::InitProducerId(_) => plain!(InitProducerId, InitProducerIdResponse),
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
    /// See [`FindCoordinatorResponse`].
    FindCoordinator(FindCoordinatorResponse),
    /// See [`JoinGroupResponse`].
    JoinGroup(JoinGroupResponse),
    /// See [`SyncGroupResponse`].
    SyncGroup(SyncGroupResponse),
    /// See [`HeartbeatResponse`].
    Heartbeat(HeartbeatResponse),
    /// See [`LeaveGroupResponse`].
    LeaveGroup(LeaveGroupResponse),
    /// See [`OffsetCommitResponse`].
    OffsetCommit(OffsetCommitResponse),
    /// See [`OffsetFetchResponse`].
    OffsetFetch(OffsetFetchResponse),
    /// See [`ListGroupsResponse`].
    ListGroups(ListGroupsResponse),
    /// See [`DescribeGroupsResponse`].
    DescribeGroups(DescribeGroupsResponse),
    /// See [`DeleteGroupsResponse`].
    DeleteGroups(DeleteGroupsResponse),
    /// See [`ControllerWriteResponse`].
    ControllerWrite(ControllerWriteResponse),
    /// See [`BrokerHeartbeatResponse`].
    BrokerHeartbeat(BrokerHeartbeatResponse),
    /// See [`MetadataUpdateResponse`].
    MetadataUpdate(MetadataUpdateResponse),
    /// See [`RaftMessageResponse`].
    RaftMessage(RaftMessageResponse),
    /// See [`DescribeClusterResponse`].
    DescribeCluster(DescribeClusterResponse),
    /// See [`ElectLeadersResponse`].
    ElectLeaders(ElectLeadersResponse),
    /// See [`InitProducerIdResponse`].
    InitProducerId(InitProducerIdResponse),
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
            Response::FindCoordinator(_) => ApiKey::FindCoordinator.code(),
            Response::JoinGroup(_) => ApiKey::JoinGroup.code(),
            Response::SyncGroup(_) => ApiKey::SyncGroup.code(),
            Response::Heartbeat(_) => ApiKey::Heartbeat.code(),
            Response::LeaveGroup(_) => ApiKey::LeaveGroup.code(),
            Response::OffsetCommit(_) => ApiKey::OffsetCommit.code(),
            Response::OffsetFetch(_) => ApiKey::OffsetFetch.code(),
            Response::ListGroups(_) => ApiKey::ListGroups.code(),
            Response::DescribeGroups(_) => ApiKey::DescribeGroups.code(),
            Response::DeleteGroups(_) => ApiKey::DeleteGroups.code(),
            Response::ControllerWrite(_) => ApiKey::ControllerWrite.code(),
            Response::BrokerHeartbeat(_) => ApiKey::BrokerHeartbeat.code(),
            Response::MetadataUpdate(_) => ApiKey::MetadataUpdate.code(),
            Response::RaftMessage(_) => ApiKey::RaftMessage.code(),
            Response::DescribeCluster(_) => ApiKey::DescribeCluster.code(),
            Response::ElectLeaders(_) => ApiKey::ElectLeaders.code(),
            Response::InitProducerId(_) => ApiKey::InitProducerId.code(),
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
            Response::FindCoordinator(r) => r.error,
            Response::JoinGroup(r) => r.error,
            Response::SyncGroup(r) => r.error,
            Response::Heartbeat(r) => r.error,
            Response::LeaveGroup(r) => r.error,
            Response::OffsetCommit(r) => r.error,
            Response::OffsetFetch(r) => r.error,
            Response::ListGroups(r) => r.error,
            Response::DescribeGroups(r) => r.error,
            Response::DeleteGroups(r) => r.error,
            Response::ControllerWrite(r) => r.error,
            Response::BrokerHeartbeat(r) => r.error,
            Response::MetadataUpdate(r) => r.error,
            Response::RaftMessage(r) => r.error,
            Response::DescribeCluster(r) => r.error,
            Response::ElectLeaders(r) => r.error,
            Response::InitProducerId(r) => r.error,
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
