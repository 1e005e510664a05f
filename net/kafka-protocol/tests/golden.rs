//! Golden bytes from an independent implementation: every constant below is a
//! whole frame (size | header | body) printed by `tests/golden_kafka_python.py`
//! with kafka-python 3.0.12 (`pip install kafka-python==3.0.12`, used offline):
//! its hand-written protocol classes (`kafka.protocol.old.*`) where they have
//! the version, its JSON-schema-driven classes for Metadata v12, Produce v9
//! and Fetch v12. Each frame is decoded and compared with the value, and the
//! value is encoded and compared with the frame, byte for byte.

use bytes::Bytes;
use corelog_kafka_protocol::{
    api_versions_response, decode_request, decode_response, encode_request, encode_response, fetch_request,
    fetch_response, join_group_request, metadata_request, metadata_response, offset_commit_request, produce_request,
    produce_response, unsupported_version_response, ApiKey, ApiVersionsRequest, ApiVersionsResponse, FetchRequest,
    FetchResponse, FrameSplitter, JoinGroupRequest, MetadataRequest, MetadataResponse, OffsetCommitRequest,
    ProduceRequest, ProduceResponse, RecordsData, Request, RequestBody, RequestHeader, ResponseBody, Uuid,
};

const API_VERSIONS_V3: &str = "0000001e0012000300000007000772646b61666b6100056b63617406312e372e3000";
const METADATA_V1: &str = "0000001d0003000100000002000c6b61666b612d707974686f6e00000001000174";
const METADATA_V12: &str = "000000290003000c00000008000772646b61666b61000200000000000000000000000000000000027400000100";
const PRODUCE_V3: &str =
    "0000002d0000000300000003000170ffffffff000005dc000000010001740000000100000000000000075245434f524453";
const PRODUCE_V9: &str = "000000280000000900000009000170000374780001000075300202740200000001085245434f524453000000";
const FETCH_V4: &str = "000000370001000400000004000163ffffffff000001f4000000010010000001000000010001740000000100000000000000000000002a00010000";
const FETCH_V12: &str = "0000004e0001000c0000000a00016300ffffffff000001f400000001032000000000000000ffffffff020274020000000000000005000000000000002affffffffffffffffffffffff001000000000010100";
const JOIN_GROUP_V5: &str = "00000035000b00050000000500016300016700002710000075300000ffff0008636f6e73756d657200000001000572616e6765000000020001";
const OFFSET_COMMIT_V7: &str =
    "0000003a00080007000000060001630001670000000300036d2d31ffff0000000100017400000001000000000000000000000064ffffffff00046d657461";
/// ApiVersions v3 response (header v0), with tagged field 1 (FinalizedFeaturesEpoch = 5) and an unknown tag 9.
const API_VERSIONS_RESPONSE_V3: &str =
    "000000270000000700000300000000000900001200000003000000000002010800000000000000050901ab";
/// ApiVersions v0 response with UNSUPPORTED_VERSION and corelog's SUPPORTED_APIS table.
const UNSUPPORTED_VERSION_REPLY: &str = "000000940000000b00230000001700000000000900010004000c00020001000700030000000c000800020007000900010007000a00000003000b00000005000c00000003000d00000003000e00000003000f00000005001000000004001200000003001300020005001400010005001600000004001700020004002000010002002500000003002a00000002002c00000001003c00000001";

/// Responses: Metadata v1 (hand-written class), Metadata v12, Produce v9 and
/// Fetch v12 (JSON-schema-driven classes; kafka-python cannot encode those
/// with a header, so the script frames them with response header v1).
const METADATA_RESPONSE_V1: &str = "0000004100000002000000010000000100016800002384ffff0000000100000001000000017400000000010000000000000000000100000001000000010000000100000001";
const METADATA_RESPONSE_V12: &str = "000000530000000800000000000200000001026800002384000002630000000102000002740000000000000000000000000000000000020000000000000000000100000003020000000102000000010100800000000000";
const PRODUCE_RESPONSE_V9: &str =
    "000000300000000900020274020000000000000000000000000005ffffffffffffffff0000000000000000010000000000000000";
const FETCH_RESPONSE_V12: &str = "0000004d0000000a000000000000000000000002027402000000000000000000000000000a000000000000000a000000000000000000ffffffff055245435301000d000000020000000000000007000000";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The frame without its size prefix, cut by the frame splitter.
fn split(hex: &str) -> Bytes {
    let mut s = FrameSplitter::for_requests(1 << 20);
    s.feed(&unhex(hex));
    let frame = s.next_frame().unwrap().expect("one whole frame");
    assert_eq!(s.buffered(), 0);
    frame
}

fn header(api: ApiKey, version: i16, correlation_id: i32, client_id: &str) -> RequestHeader {
    RequestHeader { api_key: api.as_i16(), api_version: version, correlation_id, client_id: Some(client_id.into()) }
}

fn check_request(hex: &str, header: RequestHeader, body: RequestBody) {
    let decoded = decode_request(split(hex)).unwrap();
    assert_eq!(decoded, Request { header: header.clone(), body: body.clone() });
    let encoded = encode_request(&header, &body).unwrap();
    assert_eq!(encoded.len(), hex.len() / 2);
    assert_eq!(encoded.to_vec(), unhex(hex), "encoding of {:?} v{}", body.api_key(), header.api_version);
}

#[test]
fn api_versions_v3() {
    let body = ApiVersionsRequest { client_software_name: "kcat".into(), client_software_version: "1.7.0".into() };
    check_request(API_VERSIONS_V3, header(ApiKey::ApiVersions, 3, 7, "rdkafka"), RequestBody::ApiVersions(body));
}

#[test]
fn metadata_v1_and_v12() {
    let topic = |name: &str| metadata_request::MetadataRequestTopic { topic_id: Uuid::ZERO, name: Some(name.into()) };
    let v1 = MetadataRequest { topics: Some(vec![topic("t")]), ..MetadataRequest::default() };
    check_request(METADATA_V1, header(ApiKey::Metadata, 1, 2, "kafka-python"), RequestBody::Metadata(v1));
    let v12 = MetadataRequest {
        topics: Some(vec![topic("t")]),
        allow_auto_topic_creation: false,
        include_topic_authorized_operations: true,
        ..MetadataRequest::default()
    };
    check_request(METADATA_V12, header(ApiKey::Metadata, 12, 8, "rdkafka"), RequestBody::Metadata(v12));
}

fn produce(transactional_id: Option<&str>, acks: i16, timeout_ms: i32, partition: i32) -> ProduceRequest {
    ProduceRequest {
        transactional_id: transactional_id.map(String::from),
        acks,
        timeout_ms,
        topic_data: vec![produce_request::TopicProduceData {
            name: "t".into(),
            partition_data: vec![produce_request::PartitionProduceData {
                index: partition,
                records: Some(RecordsData::from(Bytes::from_static(b"RECORDS"))),
            }],
        }],
    }
}

#[test]
fn produce_v3_and_v9() {
    check_request(PRODUCE_V3, header(ApiKey::Produce, 3, 3, "p"), RequestBody::Produce(produce(None, -1, 1500, 0)));
    check_request(
        PRODUCE_V9,
        header(ApiKey::Produce, 9, 9, "p"),
        RequestBody::Produce(produce(Some("tx"), 1, 30000, 1)),
    );
}

#[test]
fn produce_records_are_slices_of_the_frame() {
    let frame = split(PRODUCE_V9);
    let request = decode_request(frame.clone()).unwrap();
    let RequestBody::Produce(p) = request.body else { panic!("not produce") };
    let records = p.topic_data[0].partition_data[0].records.as_ref().unwrap();
    let piece = &records.pieces()[0];
    let start = frame.len() - 3 - 7;
    assert_eq!(piece.as_ptr(), frame[start..].as_ptr(), "records must point into the frame");
}

#[test]
fn fetch_v4_and_v12() {
    let partition = |epoch: i32, max: i32| fetch_request::FetchPartition {
        partition: 0,
        current_leader_epoch: epoch,
        fetch_offset: 42,
        last_fetched_epoch: -1,
        log_start_offset: -1,
        partition_max_bytes: max,
    };
    let topic = |p| fetch_request::FetchTopic { topic: "t".into(), topic_id: Uuid::ZERO, partitions: vec![p] };
    let v4 = FetchRequest {
        replica_id: -1,
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 1,
        topics: vec![topic(partition(-1, 65536))],
        ..FetchRequest::default()
    };
    check_request(FETCH_V4, header(ApiKey::Fetch, 4, 4, "c"), RequestBody::Fetch(v4));
    let v12 = FetchRequest {
        replica_id: -1,
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 52_428_800,
        isolation_level: 0,
        session_id: 0,
        session_epoch: -1,
        topics: vec![topic(partition(5, 1 << 20))],
        ..FetchRequest::default()
    };
    check_request(FETCH_V12, header(ApiKey::Fetch, 12, 10, "c"), RequestBody::Fetch(v12));
}

#[test]
fn join_group_v5() {
    let body = JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        member_id: String::new(),
        group_instance_id: None,
        protocol_type: "consumer".into(),
        protocols: vec![join_group_request::JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(&[0, 1]),
        }],
        ..JoinGroupRequest::default()
    };
    check_request(JOIN_GROUP_V5, header(ApiKey::JoinGroup, 5, 5, "c"), RequestBody::JoinGroup(body));
}

#[test]
fn offset_commit_v7() {
    let body = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: 3,
        member_id: "m-1".into(),
        group_instance_id: None,
        topics: vec![offset_commit_request::OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![offset_commit_request::OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 100,
                committed_leader_epoch: -1,
                committed_metadata: Some("meta".into()),
                ..Default::default()
            }],
        }],
        ..OffsetCommitRequest::default()
    };
    check_request(OFFSET_COMMIT_V7, header(ApiKey::OffsetCommit, 7, 6, "c"), RequestBody::OffsetCommit(body));
}

#[test]
fn api_versions_response_v3_uses_header_v0_and_skips_unknown_tags() {
    let mut s = FrameSplitter::for_responses(1 << 20);
    s.feed(&unhex(API_VERSIONS_RESPONSE_V3));
    let frame = s.next_frame().unwrap().unwrap();
    let (header, body) = decode_response(frame, ApiKey::ApiVersions, 3).unwrap();
    assert_eq!(header.correlation_id, 7);
    let key =
        |api_key, min_version, max_version| api_versions_response::ApiVersion { api_key, min_version, max_version };
    let expected = ApiVersionsResponse {
        error_code: 0,
        api_keys: vec![key(0, 0, 9), key(18, 0, 3)],
        throttle_time_ms: 0,
        finalized_features_epoch: 5,
        ..ApiVersionsResponse::default()
    };
    assert_eq!(body, ResponseBody::ApiVersions(expected.clone()));
    // Re-encoded without the unknown tag: the same bytes minus `09 01 ab`, tag count 1.
    let mut want = unhex(API_VERSIONS_RESPONSE_V3);
    want.truncate(want.len() - 3);
    let tag_count = want.len() - 11;
    want[tag_count] = 1;
    want[3] -= 3;
    assert_eq!(encode_response(7, 3, &ResponseBody::ApiVersions(expected)).unwrap().to_vec(), want);
}

#[test]
fn unsupported_version_reply_matches_kafka_python_v0() {
    assert_eq!(unsupported_version_response(11).unwrap().to_vec(), unhex(UNSUPPORTED_VERSION_REPLY));
}

fn check_response(hex: &str, api: ApiKey, version: i16, correlation_id: i32, body: ResponseBody) {
    let mut s = FrameSplitter::for_responses(1 << 20);
    s.feed(&unhex(hex));
    let frame = s.next_frame().unwrap().expect("one whole frame");
    let (header, decoded) = decode_response(frame, api, version).unwrap();
    assert_eq!(header.correlation_id, correlation_id);
    assert_eq!(decoded, body);
    assert_eq!(
        encode_response(correlation_id, version, &body).unwrap().to_vec(),
        unhex(hex),
        "encoding of {api:?} v{version}"
    );
}

fn metadata_response(version: i16) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![metadata_response::MetadataResponseBroker {
            node_id: 1,
            host: "h".into(),
            port: 9092,
            rack: None,
        }],
        cluster_id: (version >= 2).then(|| "c".into()),
        controller_id: 1,
        topics: vec![metadata_response::MetadataResponseTopic {
            name: Some("t".into()),
            partitions: vec![metadata_response::MetadataResponsePartition {
                partition_index: 0,
                leader_id: 1,
                leader_epoch: if version >= 7 { 3 } else { -1 },
                replica_nodes: vec![1],
                isr_nodes: vec![1],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..MetadataResponse::default()
    }
}

#[test]
fn metadata_responses_v1_and_v12() {
    check_response(METADATA_RESPONSE_V1, ApiKey::Metadata, 1, 2, ResponseBody::Metadata(metadata_response(1)));
    check_response(METADATA_RESPONSE_V12, ApiKey::Metadata, 12, 8, ResponseBody::Metadata(metadata_response(12)));
}

#[test]
fn produce_response_v9() {
    let body = ProduceResponse {
        responses: vec![produce_response::TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![produce_response::PartitionProduceResponse {
                index: 0,
                base_offset: 5,
                log_append_time_ms: -1,
                log_start_offset: 0,
                ..Default::default()
            }],
        }],
        ..ProduceResponse::default()
    };
    check_response(PRODUCE_RESPONSE_V9, ApiKey::Produce, 9, 9, ResponseBody::Produce(body));
}

#[test]
fn fetch_response_v12_with_a_tagged_diverging_epoch() {
    let body = FetchResponse {
        responses: vec![fetch_response::FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![fetch_response::PartitionData {
                high_watermark: 10,
                last_stable_offset: 10,
                log_start_offset: 0,
                diverging_epoch: fetch_response::EpochEndOffset { epoch: 2, end_offset: 7 },
                aborted_transactions: None,
                records: Some(RecordsData::from(Bytes::from_static(b"RECS"))),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..FetchResponse::default()
    };
    check_response(FETCH_RESPONSE_V12, ApiKey::Fetch, 12, 10, ResponseBody::Fetch(body));
}
