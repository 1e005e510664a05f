//! Sample messages covering every request and response type and most field
//! shapes (empty and non-empty lists, `Some`/`None`, chunked records).

#![allow(dead_code)]

use bytes::Bytes;
use corelog_net::protocol::*;

/// A fake record batch: `len` bytes of a recognizable pattern.
pub fn batch(seed: u8, len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| seed.wrapping_add(i as u8)).collect::<Vec<u8>>())
}

pub fn endpoint(node: u32, core: u16) -> Endpoint {
    Endpoint { node_id: node, core_id: core, host: format!("broker-{node}.example"), port: 9100 + core }
}

pub fn sample_requests() -> Vec<Request> {
    vec![
        Request::ApiVersions(ApiVersionsRequest { client_id: "corelog-perf/0.1".into() }),
        Request::Metadata(MetadataRequest { topics: None }),
        Request::Metadata(MetadataRequest { topics: Some(vec!["orders".into(), "payments".into()]) }),
        Request::CreateTopics(CreateTopicsRequest {
            topics: vec![
                CreatableTopic {
                    name: "orders".into(),
                    partitions: 12,
                    replication_factor: 1,
                    configs: vec![
                        ConfigEntry::new("retention.ms", "86400000"),
                        ConfigEntry::new("flush.policy", "always"),
                    ],
                },
                CreatableTopic { name: "empty-config".into(), partitions: 1, replication_factor: 3, configs: vec![] },
            ],
            timeout_ms: 5_000,
            validate_only: true,
        }),
        Request::DeleteTopics(DeleteTopicsRequest { topics: vec!["old".into(), "older".into()], timeout_ms: 1_000 }),
        Request::CreatePartitions(CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic { name: "orders".into(), new_total: 24 }],
            timeout_ms: 2_000,
            validate_only: false,
        }),
        Request::DescribeConfigs(DescribeConfigsRequest { topics: vec!["orders".into()] }),
        Request::AlterConfigs(AlterConfigsRequest {
            topics: vec![AlterTopicConfigs {
                name: "orders".into(),
                ops: vec![
                    AlterConfigOp { key: "segment.bytes".into(), value: Some("1073741824".into()) },
                    AlterConfigOp { key: "retention.bytes".into(), value: None },
                ],
            }],
            validate_only: false,
        }),
        Request::Produce(ProduceRequest {
            acks: Acks::All,
            timeout_ms: 30_000,
            topics: vec![
                ProduceTopic {
                    name: "orders".into(),
                    partitions: vec![
                        ProducePartition { partition: 0, records: Records::from_bytes(batch(1, 96)) },
                        ProducePartition {
                            partition: 3,
                            // Two batches, one of an odd length, sent back to back.
                            records: Records::from_chunks([batch(2, 80), batch(3, 37)]),
                        },
                        ProducePartition { partition: 4, records: Records::new() },
                    ],
                },
                ProduceTopic {
                    name: "payments".into(),
                    partitions: vec![ProducePartition { partition: 7, records: Records::from_bytes(batch(4, 5)) }],
                },
            ],
        }),
        Request::Produce(ProduceRequest { acks: Acks::None, timeout_ms: 0, topics: vec![] }),
        Request::Fetch(FetchRequest {
            replica_id: None,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 50 << 20,
            topics: vec![FetchTopic {
                name: "orders".into(),
                partitions: vec![
                    FetchPartition { partition: 0, fetch_offset: 0, partition_max_bytes: 1 << 20 },
                    FetchPartition { partition: 1, fetch_offset: u64::MAX, partition_max_bytes: 0 },
                ],
            }],
        }),
        Request::Fetch(FetchRequest { replica_id: Some(2), ..Default::default() }),
        Request::ListOffsets(ListOffsetsRequest {
            topics: vec![ListOffsetsTopic {
                name: "orders".into(),
                partitions: vec![
                    ListOffsetsPartition { partition: 0, spec: OffsetSpec::Earliest },
                    ListOffsetsPartition { partition: 1, spec: OffsetSpec::Latest },
                    ListOffsetsPartition { partition: 2, spec: OffsetSpec::Timestamp(-42) },
                ],
            }],
        }),
    ]
}

pub fn sample_responses() -> Vec<Response> {
    vec![
        Response::ApiVersions(ApiVersionsResponse {
            error: ErrorCode::None,
            error_message: None,
            node_id: 1,
            api_versions: supported_api_versions(),
        }),
        Response::Metadata(MetadataResponse {
            error: ErrorCode::None,
            error_message: None,
            brokers: vec![BrokerMetadata {
                node_id: 1,
                host: "broker-1.example".into(),
                endpoints: vec![CoreEndpoint { core_id: 0, port: 9100 }, CoreEndpoint { core_id: 1, port: 9101 }],
            }],
            topics: vec![
                TopicMetadata {
                    name: "orders".into(),
                    error: ErrorCode::None,
                    partitions: vec![
                        PartitionMetadata {
                            partition: 0,
                            error: ErrorCode::None,
                            owner: Some(endpoint(1, 0)),
                            log_start_offset: Some(0),
                            log_end_offset: Some(1234),
                        },
                        PartitionMetadata {
                            partition: 1,
                            error: ErrorCode::NotOwner,
                            owner: None,
                            log_start_offset: None,
                            log_end_offset: None,
                        },
                    ],
                },
                TopicMetadata { name: "missing".into(), error: ErrorCode::UnknownTopic, partitions: vec![] },
            ],
        }),
        Response::CreateTopics(CreateTopicsResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![
                TopicResult::ok("orders"),
                TopicResult::err("bad/name", ErrorCode::InvalidTopicName, "'/' not allowed"),
            ],
        }),
        Response::DeleteTopics(DeleteTopicsResponse {
            error: ErrorCode::RequestTimedOut,
            error_message: Some("controller busy".into()),
            topics: vec![],
        }),
        Response::CreatePartitions(CreatePartitionsResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![TopicResult::err("orders", ErrorCode::InvalidPartitions, "24 < 30")],
        }),
        Response::DescribeConfigs(DescribeConfigsResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![TopicConfigs {
                name: "orders".into(),
                error: ErrorCode::None,
                error_message: None,
                configs: vec![
                    DescribedConfig { key: "retention.ms".into(), value: "-1".into(), is_default: true },
                    DescribedConfig { key: "flush.policy".into(), value: "100".into(), is_default: false },
                ],
            }],
        }),
        Response::AlterConfigs(AlterConfigsResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![TopicResult::err("orders", ErrorCode::InvalidConfig, "unknown key")],
        }),
        Response::Produce(ProduceResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![ProduceTopicResponse {
                name: "orders".into(),
                partitions: vec![
                    ProducePartitionResponse {
                        partition: 0,
                        error: ErrorCode::None,
                        error_message: None,
                        base_offset: 1000,
                        log_append_time: Some(1_700_000_000_000),
                        log_start_offset: 0,
                        current_owner: None,
                    },
                    ProducePartitionResponse {
                        partition: 1,
                        error: ErrorCode::NotOwner,
                        error_message: Some("moved".into()),
                        base_offset: 0,
                        log_append_time: None,
                        log_start_offset: 0,
                        current_owner: Some(endpoint(2, 3)),
                    },
                ],
            }],
        }),
        Response::Fetch(FetchResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![FetchTopicResponse {
                name: "orders".into(),
                partitions: vec![
                    FetchPartitionResponse {
                        partition: 0,
                        error: ErrorCode::None,
                        error_message: None,
                        high_watermark: 200,
                        log_start_offset: 0,
                        log_end_offset: 200,
                        current_owner: None,
                        records: Records::from_chunks([batch(9, 112), batch(10, 64), batch(11, 3)]),
                    },
                    FetchPartitionResponse {
                        partition: 1,
                        error: ErrorCode::OffsetOutOfRange,
                        error_message: Some("offset 999 > 200".into()),
                        high_watermark: 200,
                        log_start_offset: 0,
                        log_end_offset: 200,
                        current_owner: Some(endpoint(1, 1)),
                        records: Records::new(),
                    },
                    FetchPartitionResponse {
                        partition: 2,
                        records: Records::from_bytes(batch(12, 48)),
                        ..Default::default()
                    },
                ],
            }],
        }),
        Response::ListOffsets(ListOffsetsResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![ListOffsetsTopicResponse {
                name: "orders".into(),
                partitions: vec![
                    ListOffsetsPartitionResponse {
                        partition: 0,
                        error: ErrorCode::None,
                        offset: Some(17),
                        timestamp: Some(1_700_000_000_123),
                        current_owner: None,
                    },
                    ListOffsetsPartitionResponse {
                        partition: 1,
                        error: ErrorCode::None,
                        offset: None,
                        timestamp: None,
                        current_owner: None,
                    },
                ],
            }],
        }),
        Response::Error(ErrorResponse {
            api_key: 999,
            api_version: 7,
            error: ErrorCode::UnsupportedApi,
            message: Some("unsupported api key 999".into()),
        }),
    ]
}

/// Encodes every sample request and response as contiguous frames.
pub fn sample_frames() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for (i, r) in sample_requests().iter().enumerate() {
        frames.push(encode_request(i as u32, r).unwrap().to_contiguous().to_vec());
    }
    for (i, r) in sample_responses().iter().enumerate() {
        frames.push(encode_response(i as u32, r).unwrap().to_contiguous().to_vec());
    }
    frames
}
