//! Codec round trips and the decoder's behaviour on framing and body errors.

mod common;

use bytes::{Bytes, BytesMut};
use common::{batch, sample_requests, sample_responses};
use corelog_protocol::frame::{FRAME_ALIGNMENT, FRAME_MAGIC};
use corelog_protocol::limits::*;
use corelog_protocol::*;
use std::collections::BTreeSet;

fn one_frame(bytes: &[u8]) -> Frame {
    let mut d = FrameDecoder::new();
    d.feed(bytes);
    let frame = d.next_frame().unwrap().expect("a whole frame");
    assert_eq!(d.next_frame(), Ok(None));
    assert_eq!(d.buffered_len(), 0);
    frame
}

/// Rewrites the frame length field after a test changed the frame's size.
fn fix_len(frame: &mut [u8]) {
    let len = frame.len() as u32;
    frame[..4].copy_from_slice(&len.to_le_bytes());
}

#[test]
fn every_request_round_trips() {
    let mut apis = BTreeSet::new();
    for (i, request) in sample_requests().into_iter().enumerate() {
        let encoded = encode_request(1000 + i as u32, &request).unwrap();
        assert_eq!(encoded.len(), encoded.to_contiguous().len());
        assert_eq!(encoded.header().frame_len(), encoded.len());
        let frame = one_frame(&encoded.to_contiguous());
        assert_eq!(frame.header.correlation_id(), 1000 + i as u32);
        assert_eq!(frame.header.api_key(), Some(request.api_key()));
        assert!(!frame.header.is_response());
        assert_eq!(decode_request(&frame).unwrap(), request);
        apis.insert(request.api_key());
    }
    assert_eq!(apis.len(), ApiKey::ALL.len(), "a request of every api");
}

#[test]
fn every_response_round_trips() {
    let mut apis = BTreeSet::new();
    for (i, response) in sample_responses().into_iter().enumerate() {
        let encoded = encode_response(i as u32, &response).unwrap();
        let frame = one_frame(&encoded.to_contiguous());
        assert_eq!(frame.header.correlation_id(), i as u32);
        assert!(frame.header.is_response());
        assert_eq!(frame.header.api_key_raw(), response.api_key_raw());
        assert_eq!(decode_response(&frame).unwrap(), response);
        apis.insert(response.api_key_raw());
    }
    assert_eq!(apis.len(), ApiKey::ALL.len() + 1, "every api plus an error");
}

#[test]
fn produce_batches_are_zero_copy_slices_of_the_frame() {
    let request = &sample_requests()[8];
    assert_eq!(request.api_key(), ApiKey::Produce);
    let frame = one_frame(&encode_request(1, request).unwrap().to_contiguous());
    let data = frame.data.as_ptr_range();
    let Request::Produce(p) = decode_request(&frame).unwrap() else { panic!("not a produce request") };
    for part in p.topics.iter().flat_map(|t| &t.partitions) {
        assert!(part.records.chunks().len() <= 1);
        for chunk in part.records.chunks() {
            assert!(data.contains(&chunk.as_ptr()), "slice of the frame");
        }
    }
}

#[test]
fn fetch_response_encoding_does_not_copy_batches() {
    let batches = [batch(1, 80), batch(2, 37), batch(3, 64)];
    let response = Response::Fetch(FetchResponse {
        topics: vec![FetchTopicResponse {
            name: "t".into(),
            partitions: vec![
                FetchPartitionResponse {
                    partition: 0,
                    records: Records::from_chunks(batches[..2].iter().cloned()),
                    ..Default::default()
                },
                FetchPartitionResponse {
                    partition: 1,
                    records: Records::from_bytes(batches[2].clone()),
                    ..Default::default()
                },
            ],
        }],
        ..Default::default()
    });
    let encoded = encode_response(5, &response).unwrap();
    // The batches themselves are in the slice list (same memory), and each
    // partition's range starts 16-aligned in the data section.
    let mut offset = 0;
    let mut starts = Vec::new();
    for slice in &encoded.data {
        if let Some(b) = batches.iter().position(|b| b.as_ptr() == slice.as_ptr()) {
            starts.push((b, offset));
        }
        offset += slice.len();
    }
    assert_eq!(starts, vec![(0, 0), (1, 80), (2, 128)]);
    assert_eq!(128 % FRAME_ALIGNMENT, 0);
    assert_eq!(encoded.head.len() % FRAME_ALIGNMENT, 0);
    let io_len: usize = encoded.io_slices().iter().map(|s| s.len()).sum();
    assert_eq!(io_len, encoded.len());
}

#[test]
fn pipelined_frames_split_at_every_byte_boundary() {
    let requests = sample_requests();
    let picks = [&requests[8], &requests[1], &requests[3]]; // produce, metadata, create
    let mut stream = Vec::new();
    for (i, r) in picks.iter().enumerate() {
        stream.extend_from_slice(&encode_request(i as u32, r).unwrap().to_contiguous());
    }
    for split in 0..=stream.len() {
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for piece in [&stream[..split], &stream[split..]] {
            d.feed(piece);
            while let Some(frame) = d.next_frame().unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(got.len(), 3, "split at {split}");
        for (i, frame) in got.iter().enumerate() {
            assert_eq!(frame.header.correlation_id(), i as u32);
            assert_eq!(&decode_request(frame).unwrap(), picks[i]);
        }
        assert_eq!(d.buffered_len(), 0);
    }
    // And one byte at a time.
    let mut d = FrameDecoder::new();
    let mut n = 0;
    for byte in &stream {
        d.feed(std::slice::from_ref(byte));
        while let Some(frame) = d.next_frame().unwrap() {
            assert_eq!(&decode_request(&frame).unwrap(), picks[n]);
            n += 1;
        }
    }
    assert_eq!(n, 3);
}

#[test]
fn oversize_frame_rejected() {
    let big = Request::Produce(ProduceRequest {
        topics: vec![ProduceTopic {
            name: "t".into(),
            partitions: vec![ProducePartition { partition: 0, records: Records::from_bytes(vec![0u8; 2 << 20]) }],
        }],
        ..Default::default()
    });
    let bytes = encode_request(1, &big).unwrap().to_contiguous();
    let mut d = FrameDecoder::with_max_frame_len(1 << 20);
    d.feed(&bytes[..4]); // rejected from the length prefix alone
    assert!(matches!(
        d.next_frame(),
        Err(FrameError::TooLarge { max, .. }) if max == 1 << 20
    ));
    // Default limit: one byte over 16 MiB.
    let mut d = FrameDecoder::new();
    d.feed(&((DEFAULT_MAX_FRAME_BYTES + 1) as u32).to_le_bytes());
    assert!(matches!(d.next_frame(), Err(FrameError::TooLarge { .. })));
    // The same frame is fine under the default limit.
    assert!(matches!(decode_request(&one_frame(&bytes)), Ok(Request::Produce(_))));
}

#[test]
fn misaligned_body_is_copied_and_decoded() {
    for request in sample_requests() {
        let bytes = encode_request(3, &request).unwrap().to_contiguous();
        let mut shifted = BytesMut::with_capacity(bytes.len() + 1);
        shifted.extend_from_slice(&[0]);
        shifted.extend_from_slice(&bytes);
        let shifted = shifted.freeze().slice(1..);
        let frame = Frame::from_bytes(shifted, DEFAULT_MAX_FRAME_BYTES).unwrap();
        assert_ne!(frame.body.as_ptr() as usize % FRAME_ALIGNMENT, 0);
        assert_eq!(decode_request(&frame).unwrap(), request);
    }
}

#[test]
fn unknown_api_and_version_get_error_responses() {
    let mut bytes = encode_request(77, &sample_requests()[0]).unwrap().to_contiguous().to_vec();
    bytes[4..6].copy_from_slice(&999u16.to_le_bytes());
    let frame = one_frame(&bytes);
    let err = decode_request(&frame).unwrap_err();
    assert_eq!(err, ProtocolError::UnsupportedApi(999));
    assert_eq!(err.error_code(), ErrorCode::UnsupportedApi);

    let answer = Response::Error(ErrorResponse::for_request(&frame.header, &err));
    let reply = one_frame(&encode_response(77, &answer).unwrap().to_contiguous());
    assert_eq!(reply.header.api_key_raw(), 999);
    assert!(reply.header.is_error_body());
    assert_eq!(decode_response(&reply).unwrap(), answer);

    bytes[4..6].copy_from_slice(&ApiKey::Metadata.code().to_le_bytes());
    bytes[6..8].copy_from_slice(&5u16.to_le_bytes());
    let err = decode_request(&one_frame(&bytes)).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::UnsupportedVersion);
}

#[test]
fn wrong_direction_rejected() {
    let req = one_frame(&encode_request(1, &sample_requests()[1]).unwrap().to_contiguous());
    assert!(matches!(decode_response(&req), Err(ProtocolError::WrongDirection { .. })));
    let resp = one_frame(&encode_response(1, &sample_responses()[1]).unwrap().to_contiguous());
    assert!(matches!(decode_request(&resp), Err(ProtocolError::WrongDirection { .. })));
}

#[test]
fn body_limits_enforced() {
    let too_many = Request::Metadata(MetadataRequest { topics: Some(vec!["t".into(); MAX_TOPICS_PER_REQUEST + 1]) });
    let long_name =
        Request::DeleteTopics(DeleteTopicsRequest { topics: vec!["x".repeat(MAX_TOPIC_NAME_LEN + 1)], timeout_ms: 0 });
    let long_client = Request::ApiVersions(ApiVersionsRequest { client_id: "c".repeat(MAX_CLIENT_ID_LEN + 1) });
    let many_partitions = Request::Fetch(FetchRequest {
        topics: (0..2)
            .map(|t| FetchTopic {
                name: format!("t{t}"),
                partitions: vec![FetchPartition::new(0, 0, 0); MAX_PARTITIONS_PER_REQUEST / 2 + 1],
            })
            .collect(),
        ..Default::default()
    });
    for request in [too_many, long_name, long_client, many_partitions] {
        let frame = one_frame(&encode_request(1, &request).unwrap().to_contiguous());
        let err = decode_request(&frame).unwrap_err();
        assert!(matches!(err, ProtocolError::LimitExceeded { .. }), "{err}");
        assert_eq!(err.error_code(), ErrorCode::InvalidRequest);
    }
    // At the limit is fine.
    let at_limit =
        Request::DeleteTopics(DeleteTopicsRequest { topics: vec!["x".repeat(MAX_TOPIC_NAME_LEN)], timeout_ms: 0 });
    let frame = one_frame(&encode_request(1, &at_limit).unwrap().to_contiguous());
    assert_eq!(decode_request(&frame).unwrap(), at_limit);
}

#[test]
fn data_references_checked_against_the_data_section() {
    let produce = &sample_requests()[8];
    let mut bytes = encode_request(1, produce).unwrap().to_contiguous().to_vec();
    bytes.truncate(bytes.len() - 1); // the last batch now runs past the end
    fix_len(&mut bytes);
    let err = decode_request(&one_frame(&bytes)).unwrap_err();
    assert!(matches!(err, ProtocolError::BadDataRef { .. }), "{err}");

    // An api without data references must not carry a data section.
    let mut bytes = encode_request(1, &sample_requests()[1]).unwrap().to_contiguous().to_vec();
    bytes.extend_from_slice(&[1, 2, 3]);
    fix_len(&mut bytes);
    let err = decode_request(&one_frame(&bytes)).unwrap_err();
    assert_eq!(err, ProtocolError::UnexpectedData(3));
}

#[test]
fn corrupt_body_is_a_protocol_error_not_a_framing_error() {
    let mut bytes = encode_request(1, &sample_requests()[3]).unwrap().to_contiguous().to_vec();
    let body_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    // Point the root's relative pointers somewhere wild.
    for b in &mut bytes[FRAME_HEADER_LEN + body_len - 16..FRAME_HEADER_LEN + body_len] {
        *b = 0xff;
    }
    let frame = one_frame(&bytes);
    let err = decode_request(&frame).unwrap_err();
    assert!(matches!(err, ProtocolError::MalformedBody { .. }), "{err}");
}

#[test]
fn foreign_bytes_are_a_framing_error() {
    let mut d = FrameDecoder::new();
    d.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(d.next_frame().is_err());
    // A frame with the wrong magic.
    let mut bytes = encode_request(1, &sample_requests()[1]).unwrap().to_contiguous().to_vec();
    bytes[18] ^= 0xff;
    let mut d = FrameDecoder::new();
    d.feed(&bytes);
    assert_eq!(d.next_frame(), Err(FrameError::BadMagic(FRAME_MAGIC ^ 0xff)));
}

#[test]
fn acks_none_expects_no_response() {
    let requests = sample_requests();
    assert!(requests[8].expects_response());
    assert!(!requests[9].expects_response());
    assert!(requests[0].expects_response());
}

#[test]
fn records_slices_survive_the_decoder_buffer() {
    // Batches handed out by decode stay valid after the decoder moves on.
    let mut d = FrameDecoder::new();
    d.feed(&encode_request(1, &sample_requests()[8]).unwrap().to_contiguous());
    let frame = d.next_frame().unwrap().unwrap();
    let Request::Produce(p) = decode_request(&frame).unwrap() else { unreachable!() };
    drop(frame);
    d.feed(&[0xAA; 4096]);
    let first: Bytes = p.topics[0].partitions[0].records.to_bytes();
    assert_eq!(first, batch(1, 96));
}

#[test]
fn group_body_limits_enforced() {
    let join = |f: &dyn Fn(&mut JoinGroupRequest)| {
        let mut r = JoinGroupRequest {
            group_id: "g".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id: String::new(),
            client_id: "c".into(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupProtocol { name: "range".into(), metadata: vec![] }],
        };
        f(&mut r);
        Request::JoinGroup(r)
    };
    let too_big = [
        join(&|r| r.group_id = "g".repeat(MAX_GROUP_ID_LEN + 1)),
        join(&|r| r.member_id = "m".repeat(MAX_MEMBER_ID_LEN + 1)),
        join(&|r| r.client_id = "c".repeat(MAX_CLIENT_ID_LEN + 1)),
        join(&|r| r.protocol_type = "t".repeat(MAX_GROUP_PROTOCOL_NAME_LEN + 1)),
        join(&|r| {
            r.protocols = vec![JoinGroupProtocol { name: "p".into(), metadata: vec![] }; MAX_GROUP_PROTOCOLS + 1]
        }),
        join(&|r| r.protocols[0].metadata = vec![0; MAX_MEMBER_METADATA_BYTES + 1]),
        Request::OffsetCommit(OffsetCommitRequest {
            group_id: "g".into(),
            generation_id: 1,
            member_id: "m".into(),
            topics: vec![OffsetCommitTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitPartition {
                    partition: 0,
                    offset: 0,
                    metadata: "x".repeat(MAX_OFFSET_METADATA_LEN + 1),
                }],
            }],
        }),
        Request::OffsetFetch(OffsetFetchRequest {
            group_id: "g".into(),
            topics: Some(vec![OffsetFetchTopic {
                name: "t".into(),
                partitions: vec![0; MAX_PARTITIONS_PER_REQUEST + 1],
            }]),
        }),
        Request::DescribeGroups(DescribeGroupsRequest { group_ids: vec!["g".into(); MAX_GROUPS_PER_REQUEST + 1] }),
        Request::DeleteGroups(DeleteGroupsRequest { group_ids: vec!["g".repeat(MAX_GROUP_ID_LEN + 1)] }),
        Request::ListGroups(ListGroupsRequest { states_filter: vec![GroupState::Empty; MAX_GROUP_STATES_FILTER + 1] }),
    ];
    for request in too_big {
        let frame = one_frame(&encode_request(1, &request).unwrap().to_contiguous());
        let err = decode_request(&frame).unwrap_err();
        assert!(matches!(err, ProtocolError::LimitExceeded { .. }), "{:?}: {err}", request.api_key());
    }
    // At the limits is fine.
    let at_limit = join(&|r| {
        r.group_id = "g".repeat(MAX_GROUP_ID_LEN);
        r.member_id = "m".repeat(MAX_MEMBER_ID_LEN);
        r.protocols[0].metadata = vec![7; MAX_MEMBER_METADATA_BYTES];
    });
    let frame = one_frame(&encode_request(1, &at_limit).unwrap().to_contiguous());
    assert_eq!(decode_request(&frame).unwrap(), at_limit);
}

#[test]
fn error_responses_of_every_request_round_trip() {
    for (i, request) in sample_requests().into_iter().enumerate() {
        let response = request.error_response(ErrorCode::NotCoordinator, "ask core 3");
        assert_eq!(response.api_key_raw(), request.api_key().code());
        assert_eq!(response.error(), ErrorCode::NotCoordinator);
        let frame = one_frame(&encode_response(i as u32, &response).unwrap().to_contiguous());
        assert_eq!(decode_response(&frame).unwrap(), response);
    }
    // Per-item apis echo the items.
    let commit = sample_requests().into_iter().find(|r| matches!(r, Request::OffsetCommit(c) if !c.topics.is_empty()));
    let Response::OffsetCommit(c) = commit.unwrap().error_response(ErrorCode::UnknownMemberId, "") else {
        panic!("not a commit response")
    };
    assert_eq!(c.topics[0].partitions.len(), 2);
    assert!(c.topics[0].partitions.iter().all(|p| p.error == ErrorCode::UnknownMemberId));
}

#[test]
fn consumer_protocol_bytes_survive_the_group_apis() {
    let sub = consumer_protocol::Subscription {
        topics: vec!["orders".into(), "payments".into()],
        user_data: vec![1, 2, 3],
        owned_partitions: vec![consumer_protocol::TopicPartitions::new("orders", [1, 4])],
    };
    let join = Request::JoinGroup(JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 0,
        member_id: String::new(),
        client_id: "c".into(),
        protocol_type: consumer_protocol::CONSUMER_PROTOCOL_TYPE.into(),
        protocols: vec![JoinGroupProtocol { name: consumer_protocol::RANGE_ASSIGNOR.into(), metadata: sub.encode() }],
    });
    let frame = one_frame(&encode_request(1, &join).unwrap().to_contiguous());
    let Request::JoinGroup(decoded) = decode_request(&frame).unwrap() else { panic!("not a join") };
    assert_eq!(consumer_protocol::Subscription::decode(&decoded.protocols[0].metadata).unwrap(), sub);
}
