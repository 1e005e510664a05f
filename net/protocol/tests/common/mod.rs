//! Sample messages covering every request and response type and most field
//! shapes (empty and non-empty lists, `Some`/`None`, chunked records).

#![allow(dead_code)]

use bytes::Bytes;
use corelog_protocol::*;

/// A fake record batch: `len` bytes of a recognizable pattern.
pub fn batch(seed: u8, len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| seed.wrapping_add(i as u8)).collect::<Vec<u8>>())
}

pub fn endpoint(node: u32, core: u16) -> Endpoint {
    Endpoint { node_id: node, core_id: core, host: format!("broker-{node}.example"), port: 9100 + core }
}

pub fn sample_requests() -> Vec<Request> {
    let mut requests = vec![
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
                    FetchPartition {
                        partition: 0,
                        fetch_offset: 0,
                        partition_max_bytes: 1 << 20,
                        current_leader_epoch: None,
                        last_fetched_epoch: None,
                        durable_end: None,
                    },
                    FetchPartition {
                        partition: 1,
                        fetch_offset: u64::MAX,
                        partition_max_bytes: 0,
                        current_leader_epoch: Some(7),
                        last_fetched_epoch: Some(6),
                        durable_end: Some(u64::MAX - 1),
                    },
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
    ];
    requests.extend(sample_group_requests());
    requests
}

/// A consumer subscription, encoded as a member puts it in JoinGroup.
pub fn subscription(topics: &[&str]) -> Vec<u8> {
    consumer_protocol::Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        user_data: vec![],
        owned_partitions: vec![consumer_protocol::TopicPartitions::new("orders", [0, 2])],
    }
    .encode()
}

/// A consumer assignment, encoded as the leader sends it in SyncGroup.
pub fn assignment(partitions: &[u32]) -> Vec<u8> {
    consumer_protocol::Assignment {
        partitions: vec![consumer_protocol::TopicPartitions::new("orders", partitions.iter().copied())],
        user_data: b"gen-7".to_vec(),
    }
    .encode()
}

/// One or more requests of every consumer-group api.
pub fn sample_group_requests() -> Vec<Request> {
    vec![
        Request::FindCoordinator(FindCoordinatorRequest { group_id: "billing".into() }),
        Request::JoinGroup(JoinGroupRequest {
            group_id: "billing".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 60_000,
            member_id: String::new(),
            client_id: "billing-worker".into(),
            protocol_type: "consumer".into(),
            protocols: vec![
                JoinGroupProtocol { name: "sticky".into(), metadata: subscription(&["orders", "payments"]) },
                JoinGroupProtocol { name: "range".into(), metadata: vec![] },
            ],
        }),
        Request::SyncGroup(SyncGroupRequest {
            group_id: "billing".into(),
            generation_id: 7,
            member_id: "billing-worker-1".into(),
            assignments: vec![
                SyncGroupAssignment { member_id: "billing-worker-1".into(), assignment: assignment(&[0, 1]) },
                SyncGroupAssignment { member_id: "billing-worker-2".into(), assignment: vec![] },
            ],
        }),
        Request::SyncGroup(SyncGroupRequest {
            group_id: "billing".into(),
            generation_id: 7,
            member_id: "billing-worker-2".into(),
            assignments: vec![],
        }),
        Request::Heartbeat(HeartbeatRequest {
            group_id: "billing".into(),
            generation_id: 7,
            member_id: "billing-worker-2".into(),
        }),
        Request::LeaveGroup(LeaveGroupRequest { group_id: "billing".into(), member_id: "billing-worker-2".into() }),
        Request::OffsetCommit(OffsetCommitRequest {
            group_id: "billing".into(),
            generation_id: 7,
            member_id: "billing-worker-1".into(),
            topics: vec![OffsetCommitTopic {
                name: "orders".into(),
                partitions: vec![
                    OffsetCommitPartition { partition: 0, offset: 1234, metadata: String::new() },
                    OffsetCommitPartition { partition: 1, offset: u64::MAX, metadata: "host=a,ts=17".into() },
                ],
            }],
        }),
        Request::OffsetCommit(OffsetCommitRequest {
            group_id: "standalone".into(),
            generation_id: NO_GENERATION,
            member_id: String::new(),
            topics: vec![],
        }),
        Request::OffsetFetch(OffsetFetchRequest {
            group_id: "billing".into(),
            topics: Some(vec![OffsetFetchTopic { name: "orders".into(), partitions: vec![0, 1, 5] }]),
        }),
        Request::OffsetFetch(OffsetFetchRequest { group_id: "billing".into(), topics: None }),
        Request::ListGroups(ListGroupsRequest { states_filter: vec![] }),
        Request::ListGroups(ListGroupsRequest { states_filter: vec![GroupState::Stable, GroupState::Empty] }),
        Request::DescribeGroups(DescribeGroupsRequest { group_ids: vec!["billing".into(), "missing".into()] }),
        Request::DeleteGroups(DeleteGroupsRequest { group_ids: vec!["old".into()] }),
        Request::ControllerWrite(ControllerWriteRequest { command: br#"{"DeleteTopic":{"name":"x"}}"#.to_vec() }),
        Request::BrokerHeartbeat(BrokerHeartbeatRequest { node_id: 2, broker_epoch: 17, applied_version: 40 }),
        Request::MetadataUpdate(MetadataUpdateRequest { node_id: 2, have_version: 40, max_wait_ms: 2000 }),
        Request::RaftMessage(RaftMessageRequest { message: vec![8, 1, 16, 2] }),
        Request::DescribeCluster(DescribeClusterRequest {}),
        Request::ElectLeaders(ElectLeadersRequest { kind: ElectionKind::Preferred, topics: None }),
        Request::ElectLeaders(ElectLeadersRequest {
            kind: ElectionKind::Unclean,
            topics: Some(vec![ElectTopic { name: "orders".into(), partitions: vec![0, 3] }]),
        }),
        Request::InitProducerId(InitProducerIdRequest {}),
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
                            leader_epoch: 3,
                            replicas: vec![1, 2, 3],
                            isr: vec![1, 3],
                            log_start_offset: Some(0),
                            log_end_offset: Some(1234),
                        },
                        PartitionMetadata {
                            partition: 1,
                            error: ErrorCode::LeaderNotAvailable,
                            owner: None,
                            leader_epoch: 0,
                            replicas: vec![],
                            isr: vec![],
                            log_start_offset: None,
                            log_end_offset: None,
                        },
                    ],
                },
                TopicMetadata { name: "missing".into(), error: ErrorCode::UnknownTopic, partitions: vec![] },
            ],
            controller_id: Some(2),
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
                        leader_epoch: Some(4),
                        diverging_epoch: None,
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
                        leader_epoch: None,
                        diverging_epoch: Some(EpochEndOffset { epoch: 3, end_offset: 150 }),
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
        Response::FindCoordinator(FindCoordinatorResponse {
            error: ErrorCode::None,
            error_message: None,
            coordinator: Some(endpoint(1, 3)),
        }),
        Response::FindCoordinator(FindCoordinatorResponse {
            error: ErrorCode::CoordinatorNotAvailable,
            error_message: Some("__consumer_offsets/7 has no owner".into()),
            coordinator: None,
        }),
        Response::JoinGroup(JoinGroupResponse {
            error: ErrorCode::None,
            error_message: None,
            generation_id: 7,
            protocol_name: "sticky".into(),
            leader_id: "billing-worker-1".into(),
            member_id: "billing-worker-1".into(),
            members: vec![
                JoinGroupMember {
                    member_id: "billing-worker-1".into(),
                    client_id: "billing-worker".into(),
                    metadata: subscription(&["orders"]),
                },
                JoinGroupMember {
                    member_id: "billing-worker-2".into(),
                    client_id: "billing-worker".into(),
                    metadata: vec![],
                },
            ],
        }),
        Response::JoinGroup(JoinGroupResponse::error(
            ErrorCode::InconsistentGroupProtocol,
            "no known assignor",
            "billing-worker-3",
        )),
        Response::SyncGroup(SyncGroupResponse {
            error: ErrorCode::None,
            error_message: None,
            assignment: assignment(&[2, 3]),
        }),
        Response::SyncGroup(SyncGroupResponse::error(ErrorCode::RebalanceInProgress, "rejoin")),
        Response::Heartbeat(HeartbeatResponse { error: ErrorCode::IllegalGeneration, error_message: None }),
        Response::LeaveGroup(LeaveGroupResponse { error: ErrorCode::None, error_message: None }),
        Response::OffsetCommit(OffsetCommitResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![OffsetCommitTopicResponse {
                name: "orders".into(),
                partitions: vec![
                    OffsetCommitPartitionResponse { partition: 0, error: ErrorCode::None },
                    OffsetCommitPartitionResponse { partition: 1, error: ErrorCode::UnknownMemberId },
                ],
            }],
        }),
        Response::OffsetFetch(OffsetFetchResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![OffsetFetchTopicResponse {
                name: "orders".into(),
                partitions: vec![
                    OffsetFetchPartitionResponse {
                        partition: 0,
                        offset: Some(1234),
                        metadata: "host=a".into(),
                        error: ErrorCode::None,
                    },
                    OffsetFetchPartitionResponse {
                        partition: 5,
                        offset: None,
                        metadata: String::new(),
                        error: ErrorCode::None,
                    },
                ],
            }],
        }),
        Response::ListGroups(ListGroupsResponse {
            error: ErrorCode::None,
            error_message: None,
            groups: vec![
                ListedGroup { group_id: "billing".into(), state: GroupState::Stable, protocol_type: "consumer".into() },
                ListedGroup { group_id: "standalone".into(), state: GroupState::Empty, protocol_type: String::new() },
            ],
        }),
        Response::DescribeGroups(DescribeGroupsResponse {
            error: ErrorCode::None,
            error_message: None,
            groups: vec![
                DescribedGroup {
                    group_id: "billing".into(),
                    error: ErrorCode::None,
                    state: GroupState::Stable,
                    protocol_type: "consumer".into(),
                    protocol: "range".into(),
                    generation_id: 7,
                    members: vec![DescribedGroupMember {
                        member_id: "billing-worker-1".into(),
                        client_id: "billing-worker".into(),
                        host: "10.0.0.7:51234".into(),
                        metadata: subscription(&["orders"]),
                        assignment: assignment(&[0, 1, 2]),
                    }],
                },
                DescribedGroup::error("missing", ErrorCode::UnknownGroup),
            ],
        }),
        Response::DeleteGroups(DeleteGroupsResponse {
            error: ErrorCode::None,
            error_message: None,
            results: vec![
                GroupResult { group_id: "old".into(), error: ErrorCode::None },
                GroupResult { group_id: "busy".into(), error: ErrorCode::GroupNotEmpty },
            ],
        }),
        Response::ControllerWrite(ControllerWriteResponse {
            error: ErrorCode::NotController,
            error_message: Some("node 1 is not the controller leader".into()),
            version: 0,
            leader: Some(3),
        }),
        Response::BrokerHeartbeat(BrokerHeartbeatResponse {
            error: ErrorCode::None,
            error_message: None,
            fenced: false,
            leader: None,
        }),
        Response::MetadataUpdate(MetadataUpdateResponse {
            error: ErrorCode::None,
            error_message: None,
            version: 41,
            image: br#"{"format_version":2}"#.to_vec(),
            leader: None,
        }),
        Response::RaftMessage(RaftMessageResponse { error: ErrorCode::None, error_message: None }),
        Response::DescribeCluster(DescribeClusterResponse {
            error: ErrorCode::None,
            error_message: None,
            controller_leader: Some(1),
            controllers: vec![1, 2, 3],
            metadata_version: 41,
            brokers: vec![ClusterBroker {
                node_id: 1,
                host: "broker-1.example".into(),
                base_port: 9100,
                cores: 2,
                fenced: false,
                broker_epoch: 12,
            }],
        }),
        Response::ElectLeaders(ElectLeadersResponse {
            error: ErrorCode::None,
            error_message: None,
            topics: vec![ElectTopicResult {
                name: "orders".into(),
                partitions: vec![ElectPartitionResult {
                    partition: 0,
                    error: ErrorCode::None,
                    error_message: None,
                    leader: Some(1),
                }],
            }],
        }),
        Response::InitProducerId(InitProducerIdResponse {
            error: ErrorCode::None,
            error_message: None,
            assigned: Some(ProducerIdAndEpoch { producer_id: (2 << 44) | 17, epoch: 0 }),
        }),
        Response::InitProducerId(InitProducerIdResponse {
            error: ErrorCode::StorageError,
            error_message: Some("cannot reserve producer ids".into()),
            assigned: None,
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
