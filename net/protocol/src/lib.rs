//! The broker's native wire protocol: frames, request/response types and
//! their codec. I/O-free and fuzzable: everything here is a pure function of
//! bytes, bounds-checked, and never panics on input.
//!
//! # Overview
//!
//! - A **frame** ([`frame`]) is a fixed 32-byte little-endian header (read in
//!   place with `zerocopy`), an rkyv-archived **body**, and a raw **data
//!   section** carrying record batches unchanged. The byte layout is drawn at
//!   the top of [`frame`].
//! - [`FrameDecoder`] cuts frames out of the received byte stream (any
//!   fragmentation, any number of pipelined frames); a [`FrameError`] means
//!   the stream is out of sync: close the connection.
//! - [`decode_request`] / [`decode_response`] turn a [`Frame`] into a
//!   [`Request`] / [`Response`]: the body is validated with `rkyv::access`
//!   (bytecheck), every count and length is checked against [`limits`], and
//!   every data-section reference against the data section. Record batches
//!   come out as zero-copy [`bytes::Bytes`] slices of the frame. A
//!   [`ProtocolError`] leaves the stream in sync: answer it with
//!   [`Response::Error`] ([`ErrorResponse::for_request`]).
//! - [`encode_request`] / [`encode_response`] build an [`EncodedFrame`]: the
//!   header and body in one buffer plus the data section as the caller's own
//!   batch buffers, written in order without copying payloads.
//!
//! Every response carries a request-level [`ErrorCode`] and message, and
//! per-topic or per-partition codes; partition-level `NotOwner` errors carry
//! the current owner's [`Endpoint`].
//!
//! # Api groups
//!
//! One file per group of apis: [`produce`], [`fetch`], [`list_offsets`],
//! [`metadata`], [`api_versions`], [`topics`] (create/delete topics, create
//! partitions), [`configs`], with [`topic_result`] the per-topic outcome both
//! of the last two answer with; and the consumer-group apis (keys 10–19):
//! [`find_coordinator`], [`group_membership`] (join, sync, heartbeat, leave),
//! [`group_offsets`] (offset commit/fetch) and [`group_admin`]
//! (list/describe/delete groups). [`consumer_protocol`] encodes what
//! consumers put in the group apis' opaque metadata and assignment bytes.
//! The cluster's: [`controller_rpc`] (keys 20–23, spoken only on a
//! controller's controller port) and [`cluster_admin`] (describe cluster,
//! elect leaders).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use corelog_protocol::*;
//!
//! // Client: a produce request whose batch is sent without being copied.
//! let batch = Bytes::from(vec![0u8; 96]); // an encoded record batch
//! let request = Request::Produce(ProduceRequest {
//!     acks: Acks::All,
//!     timeout_ms: 30_000,
//!     topics: vec![ProduceTopic {
//!         name: "orders".into(),
//!         partitions: vec![ProducePartition { partition: 0, records: batch.clone().into() }],
//!     }],
//! });
//! let encoded = encode_request(42, &request).unwrap();
//!
//! // Broker: frames come out of the byte stream, then requests out of frames.
//! let mut decoder = FrameDecoder::new();
//! decoder.feed(&encoded.to_contiguous());
//! let frame = decoder.next_frame().unwrap().unwrap();
//! let Request::Produce(produce) = decode_request(&frame).unwrap() else { unreachable!() };
//! assert_eq!(produce.topics[0].partitions[0].records.to_bytes(), batch);
//! ```

#![warn(missing_docs)]

pub mod api;
pub mod api_versions;
mod body;
mod check;
pub mod cluster_admin;
pub mod codec;
pub mod configs;
pub mod consumer_protocol;
pub mod controller_rpc;
pub mod decoder;
pub mod error;
pub mod error_code;
pub mod fetch;
pub mod find_coordinator;
pub mod frame;
pub mod group_admin;
pub mod group_membership;
pub mod group_offsets;
pub mod hash;
pub mod limits;
pub mod list_offsets;
pub mod message;
pub mod metadata;
pub mod produce;
pub mod producer_id;
pub mod records;
pub mod topic_result;
pub mod topics;

pub use api::ApiKey;
pub use api_versions::{supported_api_versions, ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse};
pub use cluster_admin::{
    ClusterBroker, DescribeClusterRequest, DescribeClusterResponse, ElectLeadersRequest, ElectLeadersResponse,
    ElectPartitionResult, ElectTopic, ElectTopicResult, ElectionKind,
};
pub use codec::{decode_request, decode_response, encode_request, encode_response, EncodedFrame};
pub use configs::{
    AlterConfigOp, AlterConfigsRequest, AlterConfigsResponse, AlterTopicConfigs, ConfigEntry, DescribeConfigsRequest,
    DescribeConfigsResponse, DescribedConfig, TopicConfigs,
};
pub use controller_rpc::{
    BrokerHeartbeatRequest, BrokerHeartbeatResponse, ControllerWriteRequest, ControllerWriteResponse,
    MetadataUpdateRequest, MetadataUpdateResponse, RaftMessageRequest, RaftMessageResponse,
};
pub use decoder::FrameDecoder;
pub use error::{EncodeError, ProtocolError};
pub use error_code::ErrorCode;
pub use fetch::{
    EpochEndOffset, FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse, FetchTopic, FetchTopicResponse,
};
pub use find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse, OFFSETS_TOPIC};
pub use frame::{Frame, FrameError, FrameHeader, FRAME_HEADER_LEN};
pub use group_admin::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup,
    DescribedGroupMember, GroupResult, GroupState, ListGroupsRequest, ListGroupsResponse, ListedGroup,
};
pub use group_membership::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupMember, JoinGroupProtocol, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, LeaveGroupResponse, SyncGroupAssignment, SyncGroupRequest, SyncGroupResponse,
};
pub use group_offsets::{
    OffsetCommitPartition, OffsetCommitPartitionResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetCommitTopic,
    OffsetCommitTopicResponse, OffsetFetchPartitionResponse, OffsetFetchRequest, OffsetFetchResponse, OffsetFetchTopic,
    OffsetFetchTopicResponse, NO_GENERATION,
};
pub use list_offsets::{
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopic,
    ListOffsetsTopicResponse, OffsetSpec,
};
pub use message::{truncate_message, ErrorResponse, Request, Response};
pub use metadata::{
    BrokerMetadata, CoreEndpoint, Endpoint, MetadataRequest, MetadataResponse, PartitionMetadata, TopicMetadata,
};
pub use produce::{
    Acks, ProducePartition, ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopic,
    ProduceTopicResponse,
};
pub use producer_id::{InitProducerIdRequest, InitProducerIdResponse, ProducerIdAndEpoch};
pub use records::{Chunk, Records};
pub use topics::{
    CreatableTopic, CreatePartitionsRequest, CreatePartitionsResponse, CreatePartitionsTopic, CreateTopicsRequest,
    CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, TopicResult,
};
