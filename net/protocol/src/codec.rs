//! Encoding [`Request`]s and [`Response`]s into frames, and decoding frames
//! back. Pure functions over bytes: no I/O, never panic on any input.
//!
//! Decoding a frame's body is, in order: direction and api/version check;
//! rkyv validation (`rkyv::access`, bytecheck — never unchecked) of the body,
//! copied to an aligned buffer first if needed; limit checks on the archive
//! ([`super::limits`]) before anything is allocated; deserialization; and
//! resolution of data-section references (bounds, ascending, disjoint) into
//! zero-copy slices.

use std::io::IoSlice;

use bytes::BytesMut;
use rkyv::api::high::HighValidator;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::{Error as RkyvError, Strategy};
use rkyv::{Archive, Portable};
use zerocopy::IntoBytes;

use super::api::ApiKey;
use super::body::{deserialize, serialize_into, with_archived, BodySerializer};
use super::check::{Budget, Check};
use super::error::{EncodeError, ProtocolError};
use super::fetch::FetchResponseWire;
use super::frame::{pad_to_alignment, Frame, FrameHeader, FLAG_ERROR_BODY, FLAG_RESPONSE, FRAME_HEADER_LEN};
use super::limits::MAX_FRAME_BYTES_CEILING;
use super::message::{ErrorBody, ErrorResponse, Request, Response};
use super::produce::ProduceRequestWire;
use super::records::{Chunk, DataSectionReader, DataSectionWriter};

/// An encoded frame, ready to write piece by piece (or in one vectored write
/// where the transport has one): `head` is the header and
/// the (padded) body; `data` is the data section as a list of slices, which
/// are the caller's record-batch [`Bytes`](bytes::Bytes) themselves (plus static padding),
/// never copies.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// Header and padded body.
    pub head: BytesMut,
    /// The data section, in order.
    pub data: Vec<Chunk>,
}

impl EncodedFrame {
    /// Total frame length in bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.data.iter().map(|c| c.len()).sum::<usize>()
    }

    /// Always `false`: a frame has at least a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The frame header.
    pub fn header(&self) -> FrameHeader {
        // `head` always starts with a header written by the encoder.
        FrameHeader::parse(&self.head).unwrap_or_else(|| FrameHeader::new(0, 0, 0, 0))
    }

    /// The frame's pieces for `write_vectored`, in order.
    pub fn io_slices(&self) -> Vec<IoSlice<'_>> {
        std::iter::once(&self.head[..]).chain(self.data.iter().map(|b| &b[..])).map(IoSlice::new).collect()
    }

    /// The whole frame in one buffer (copies the data section; for tests and
    /// for transports without vectored writes).
    pub fn to_contiguous(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(self.len());
        out.extend_from_slice(&self.head);
        for chunk in &self.data {
            out.extend_from_slice(chunk);
        }
        out
    }
}

/// Encodes `request` as a request frame with the api's current version.
pub fn encode_request(correlation_id: u32, request: &Request) -> Result<EncodedFrame, EncodeError> {
    let api = request.api_key();
    let header = FrameHeader::new(api.code(), api.max_version(), correlation_id, 0);
    let none = DataSectionWriter::default;
    match request {
        Request::Produce(r) => {
            let mut data = DataSectionWriter::default();
            let wire = r.to_wire(&mut data)?;
            build(header, &wire, data)
        }
        Request::Fetch(r) => build(header, r, none()),
        Request::ListOffsets(r) => build(header, r, none()),
        Request::Metadata(r) => build(header, r, none()),
        Request::ApiVersions(r) => build(header, r, none()),
        Request::CreateTopics(r) => build(header, r, none()),
        Request::DeleteTopics(r) => build(header, r, none()),
        Request::CreatePartitions(r) => build(header, r, none()),
        Request::DescribeConfigs(r) => build(header, r, none()),
        Request::AlterConfigs(r) => build(header, r, none()),
        Request::FindCoordinator(r) => build(header, r, none()),
        Request::JoinGroup(r) => build(header, r, none()),
        Request::SyncGroup(r) => build(header, r, none()),
        Request::Heartbeat(r) => build(header, r, none()),
        Request::LeaveGroup(r) => build(header, r, none()),
        Request::OffsetCommit(r) => build(header, r, none()),
        Request::OffsetFetch(r) => build(header, r, none()),
        Request::ListGroups(r) => build(header, r, none()),
        Request::DescribeGroups(r) => build(header, r, none()),
        Request::DeleteGroups(r) => build(header, r, none()),
        Request::ControllerWrite(r) => build(header, r, none()),
        Request::BrokerHeartbeat(r) => build(header, r, none()),
        Request::MetadataUpdate(r) => build(header, r, none()),
        Request::RaftMessage(r) => build(header, r, none()),
        Request::DescribeCluster(r) => build(header, r, none()),
        Request::ElectLeaders(r) => build(header, r, none()),
        Request::InitProducerId(r) => build(header, r, none()),
    }
}

/// Encodes `response` as the response frame to the request with
/// `correlation_id`. A [`Response::Error`] echoes the failed request's api key
/// and version and sets the `ERROR_BODY` flag.
pub fn encode_response(correlation_id: u32, response: &Response) -> Result<EncodedFrame, EncodeError> {
    let api = response.api_key_raw();
    let header = |version| FrameHeader::new(api, version, correlation_id, FLAG_RESPONSE);
    // Typed responses are only built for known apis, so `ApiKey` exists.
    let v0 = || header(ApiKey::from_u16(api).map_or(0, ApiKey::max_version));
    let none = DataSectionWriter::default;
    match response {
        Response::Produce(r) => build(v0(), r, none()),
        Response::Fetch(r) => {
            let mut data = DataSectionWriter::default();
            let wire = r.to_wire(&mut data)?;
            build(v0(), &wire, data)
        }
        Response::ListOffsets(r) => build(v0(), r, none()),
        Response::Metadata(r) => build(v0(), r, none()),
        Response::ApiVersions(r) => build(v0(), r, none()),
        Response::CreateTopics(r) => build(v0(), r, none()),
        Response::DeleteTopics(r) => build(v0(), r, none()),
        Response::CreatePartitions(r) => build(v0(), r, none()),
        Response::DescribeConfigs(r) => build(v0(), r, none()),
        Response::AlterConfigs(r) => build(v0(), r, none()),
        Response::FindCoordinator(r) => build(v0(), r, none()),
        Response::JoinGroup(r) => build(v0(), r, none()),
        Response::SyncGroup(r) => build(v0(), r, none()),
        Response::Heartbeat(r) => build(v0(), r, none()),
        Response::LeaveGroup(r) => build(v0(), r, none()),
        Response::OffsetCommit(r) => build(v0(), r, none()),
        Response::OffsetFetch(r) => build(v0(), r, none()),
        Response::ListGroups(r) => build(v0(), r, none()),
        Response::DescribeGroups(r) => build(v0(), r, none()),
        Response::DeleteGroups(r) => build(v0(), r, none()),
        Response::ControllerWrite(r) => build(v0(), r, none()),
        Response::BrokerHeartbeat(r) => build(v0(), r, none()),
        Response::MetadataUpdate(r) => build(v0(), r, none()),
        Response::RaftMessage(r) => build(v0(), r, none()),
        Response::DescribeCluster(r) => build(v0(), r, none()),
        Response::ElectLeaders(r) => build(v0(), r, none()),
        Response::InitProducerId(r) => build(v0(), r, none()),
        Response::Error(e) => {
            let body = ErrorBody { error: e.error, message: e.message.clone() };
            let header = FrameHeader::new(e.api_key, e.api_version, correlation_id, FLAG_RESPONSE | FLAG_ERROR_BODY);
            build(header, &body, none())
        }
    }
}

/// Lays out header | body | padding, then fills in the lengths.
fn build<T>(mut header: FrameHeader, body: &T, data: DataSectionWriter) -> Result<EncodedFrame, EncodeError>
where
    T: for<'a> rkyv::Serialize<BodySerializer<'a>>,
{
    let mut head = BytesMut::with_capacity(256);
    head.resize(FRAME_HEADER_LEN, 0);
    let (mut head, body_len) = serialize_into(head, body)?;
    head.resize(FRAME_HEADER_LEN + pad_to_alignment(body_len), 0);
    let frame_len = head.len() + data.len();
    if frame_len > MAX_FRAME_BYTES_CEILING {
        return Err(EncodeError::TooLarge(frame_len));
    }
    // Both below the 1 GiB ceiling, so they fit in u32.
    header.frame_len = (frame_len as u32).into();
    header.body_len = (body_len as u32).into();
    head[..FRAME_HEADER_LEN].copy_from_slice(header.as_bytes());
    Ok(EncodedFrame { head, data: data.into_slices() })
}

/// Validates, limit-checks and deserializes the body of `frame` as a `T`.
fn decode_body<T>(frame: &Frame, mut budget: Budget) -> Result<T, ProtocolError>
where
    T: Archive,
    T::Archived: Portable
        + for<'a> CheckBytes<HighValidator<'a, RkyvError>>
        + Check
        + rkyv::Deserialize<T, Strategy<rkyv::de::Pool, RkyvError>>,
{
    let api_key = frame.header.api_key_raw();
    with_archived::<T::Archived, T>(api_key, &frame.body, |archived| {
        archived.check(&mut budget)?;
        deserialize(api_key, archived)
    })
}

/// [`decode_body`] for apis that never reference the data section.
fn decode_plain<T>(frame: &Frame, budget: Budget) -> Result<T, ProtocolError>
where
    T: Archive,
    T::Archived: Portable
        + for<'a> CheckBytes<HighValidator<'a, RkyvError>>
        + Check
        + rkyv::Deserialize<T, Strategy<rkyv::de::Pool, RkyvError>>,
{
    if !frame.data.is_empty() {
        return Err(ProtocolError::UnexpectedData(frame.data.len()));
    }
    decode_body(frame, budget)
}

/// The api of `frame`, if this build speaks its api key and version.
fn api_of(frame: &Frame) -> Result<ApiKey, ProtocolError> {
    let h = &frame.header;
    let api = h.api_key().ok_or(ProtocolError::UnsupportedApi(h.api_key_raw()))?;
    if !api.supports(h.api_version()) {
        return Err(ProtocolError::UnsupportedVersion { api, version: h.api_version() });
    }
    Ok(api)
}

/// Decodes a request frame.
///
/// Produce batches come out as zero-copy slices of `frame.data`. On error the
/// frame is still in sync: answer with
/// [`ErrorResponse::for_request`](super::ErrorResponse::for_request).
pub fn decode_request(frame: &Frame) -> Result<Request, ProtocolError> {
    if frame.header.is_response() {
        return Err(ProtocolError::WrongDirection { expected: "request" });
    }
    let api = api_of(frame)?;
    let b = Budget::request;
    Ok(match api {
        ApiKey::Produce => {
            let wire: ProduceRequestWire = decode_body(frame, b())?;
            Request::Produce(wire.resolve(&mut DataSectionReader::new(&frame.data))?)
        }
        ApiKey::Fetch => Request::Fetch(decode_plain(frame, b())?),
        ApiKey::ListOffsets => Request::ListOffsets(decode_plain(frame, b())?),
        ApiKey::Metadata => Request::Metadata(decode_plain(frame, b())?),
        ApiKey::ApiVersions => Request::ApiVersions(decode_plain(frame, b())?),
        ApiKey::CreateTopics => Request::CreateTopics(decode_plain(frame, b())?),
        ApiKey::DeleteTopics => Request::DeleteTopics(decode_plain(frame, b())?),
        ApiKey::CreatePartitions => Request::CreatePartitions(decode_plain(frame, b())?),
        ApiKey::DescribeConfigs => Request::DescribeConfigs(decode_plain(frame, b())?),
        ApiKey::AlterConfigs => Request::AlterConfigs(decode_plain(frame, b())?),
        ApiKey::FindCoordinator => Request::FindCoordinator(decode_plain(frame, b())?),
        ApiKey::JoinGroup => Request::JoinGroup(decode_plain(frame, b())?),
        ApiKey::SyncGroup => Request::SyncGroup(decode_plain(frame, b())?),
        ApiKey::Heartbeat => Request::Heartbeat(decode_plain(frame, b())?),
        ApiKey::LeaveGroup => Request::LeaveGroup(decode_plain(frame, b())?),
        ApiKey::OffsetCommit => Request::OffsetCommit(decode_plain(frame, b())?),
        ApiKey::OffsetFetch => Request::OffsetFetch(decode_plain(frame, b())?),
        ApiKey::ListGroups => Request::ListGroups(decode_plain(frame, b())?),
        ApiKey::DescribeGroups => Request::DescribeGroups(decode_plain(frame, b())?),
        ApiKey::DeleteGroups => Request::DeleteGroups(decode_plain(frame, b())?),
        ApiKey::ControllerWrite => Request::ControllerWrite(decode_plain(frame, b())?),
        ApiKey::BrokerHeartbeat => Request::BrokerHeartbeat(decode_plain(frame, b())?),
        ApiKey::MetadataUpdate => Request::MetadataUpdate(decode_plain(frame, b())?),
        ApiKey::RaftMessage => Request::RaftMessage(decode_plain(frame, b())?),
        ApiKey::DescribeCluster => Request::DescribeCluster(decode_plain(frame, b())?),
        ApiKey::ElectLeaders => Request::ElectLeaders(decode_plain(frame, b())?),
        ApiKey::InitProducerId => Request::InitProducerId(decode_plain(frame, b())?),
    })
}

/// Decodes a response frame. Fetch batches come out as zero-copy slices of
/// `frame.data`. Match it to its request by `frame.header.correlation_id()`.
pub fn decode_response(frame: &Frame) -> Result<Response, ProtocolError> {
    if !frame.header.is_response() {
        return Err(ProtocolError::WrongDirection { expected: "response" });
    }
    if frame.header.is_error_body() {
        // Any api key and version: this body answers requests that failed.
        let body: ErrorBody = decode_plain(frame, Budget::response())?;
        return Ok(Response::Error(ErrorResponse {
            api_key: frame.header.api_key_raw(),
            api_version: frame.header.api_version(),
            error: body.error,
            message: body.message,
        }));
    }
    let api = api_of(frame)?;
    let b = Budget::response;
    Ok(match api {
        ApiKey::Produce => Response::Produce(decode_plain(frame, b())?),
        ApiKey::Fetch => {
            let wire: FetchResponseWire = decode_body(frame, b())?;
            Response::Fetch(wire.resolve(&mut DataSectionReader::new(&frame.data))?)
        }
        ApiKey::ListOffsets => Response::ListOffsets(decode_plain(frame, b())?),
        ApiKey::Metadata => Response::Metadata(decode_plain(frame, b())?),
        ApiKey::ApiVersions => Response::ApiVersions(decode_plain(frame, b())?),
        ApiKey::CreateTopics => Response::CreateTopics(decode_plain(frame, b())?),
        ApiKey::DeleteTopics => Response::DeleteTopics(decode_plain(frame, b())?),
        ApiKey::CreatePartitions => Response::CreatePartitions(decode_plain(frame, b())?),
        ApiKey::DescribeConfigs => Response::DescribeConfigs(decode_plain(frame, b())?),
        ApiKey::AlterConfigs => Response::AlterConfigs(decode_plain(frame, b())?),
        ApiKey::FindCoordinator => Response::FindCoordinator(decode_plain(frame, b())?),
        ApiKey::JoinGroup => Response::JoinGroup(decode_plain(frame, b())?),
        ApiKey::SyncGroup => Response::SyncGroup(decode_plain(frame, b())?),
        ApiKey::Heartbeat => Response::Heartbeat(decode_plain(frame, b())?),
        ApiKey::LeaveGroup => Response::LeaveGroup(decode_plain(frame, b())?),
        ApiKey::OffsetCommit => Response::OffsetCommit(decode_plain(frame, b())?),
        ApiKey::OffsetFetch => Response::OffsetFetch(decode_plain(frame, b())?),
        ApiKey::ListGroups => Response::ListGroups(decode_plain(frame, b())?),
        ApiKey::DescribeGroups => Response::DescribeGroups(decode_plain(frame, b())?),
        ApiKey::DeleteGroups => Response::DeleteGroups(decode_plain(frame, b())?),
        ApiKey::ControllerWrite => Response::ControllerWrite(decode_plain(frame, b())?),
        ApiKey::BrokerHeartbeat => Response::BrokerHeartbeat(decode_plain(frame, b())?),
        ApiKey::MetadataUpdate => Response::MetadataUpdate(decode_plain(frame, b())?),
        ApiKey::RaftMessage => Response::RaftMessage(decode_plain(frame, b())?),
        ApiKey::DescribeCluster => Response::DescribeCluster(decode_plain(frame, b())?),
        ApiKey::ElectLeaders => Response::ElectLeaders(decode_plain(frame, b())?),
        ApiKey::InitProducerId => Response::InitProducerId(decode_plain(frame, b())?),
    })
}
