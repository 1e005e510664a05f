//! Committed offsets against a real broker: commit and fetch, the checks a
//! commit passes, durability across a restart (replay of
//! `__consumer_offsets`), and that clients may read the internal topic but
//! not write or reshape it.

mod support;

use corelog_coordinator::{coordinator_partition, OffsetsRecord, RecordKey, OFFSETS_TOPIC};
use corelog_protocol::*;
use support::*;

#[test]
fn commit_and_fetch_offsets_survive_a_restart() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let mut c = coordinator_client(broker.endpoints()[0], "g");
    let joined = join(&mut c, "g", "", 10_000);
    let (generation, member) = (joined.generation_id, joined.member_id.clone());
    assert_eq!(sync(&mut c, "g", generation, &member, vec![]).error, ErrorCode::None);

    let r = commit(&mut c, "g", generation, &member, &[("t", 0, 5), ("t", 1, 7), ("u", 0, 1)]);
    assert_eq!(r.error, ErrorCode::None, "{r:?}");
    assert!(r.topics.iter().flat_map(|t| &t.partitions).all(|p| p.error == ErrorCode::None));
    let want = vec![("t".to_string(), 0, Some(5)), ("t".to_string(), 1, Some(7)), ("u".to_string(), 0, Some(1))];
    assert_eq!(committed(&mut c, "g"), want);

    // Named partitions, one never committed.
    let request = Request::OffsetFetch(OffsetFetchRequest {
        group_id: "g".into(),
        topics: Some(vec![OffsetFetchTopic { name: "t".into(), partitions: vec![1, 2] }]),
    });
    let Response::OffsetFetch(fetched) = c.call(&request) else { panic!() };
    let got: Vec<(u32, Option<u64>, String)> =
        fetched.topics[0].partitions.iter().map(|p| (p.partition, p.offset, p.metadata.clone())).collect();
    assert_eq!(got, vec![(1, Some(7), "at 7".to_string()), (2, None, String::new())]);

    // A stale generation or an unknown member commits nothing.
    let stale = commit(&mut c, "g", generation - 1, &member, &[("t", 0, 99)]);
    assert_eq!(stale.error, ErrorCode::IllegalGeneration);
    assert_eq!(stale.topics[0].partitions[0].error, ErrorCode::IllegalGeneration);
    assert_eq!(commit(&mut c, "g", generation, "ghost", &[("t", 0, 99)]).error, ErrorCode::UnknownMemberId);
    // Standalone commits only go to groups without members.
    assert_eq!(commit(&mut c, "g", -1, "", &[("t", 0, 99)]).error, ErrorCode::UnknownMemberId);
    assert_eq!(committed(&mut c, "g"), want);
    let mut solo_client = coordinator_client(broker.endpoints()[0], "solo");
    assert_eq!(commit(&mut solo_client, "solo", -1, "", &[("t", 2, 42)]).error, ErrorCode::None);

    let broker = broker.restart_tuned();
    let mut c = coordinator_client(broker.endpoints()[0], "g");
    assert_eq!(committed(&mut c, "g"), want, "replayed from {OFFSETS_TOPIC}");
    let mut solo_client = coordinator_client(broker.endpoints()[0], "solo");
    assert_eq!(committed(&mut solo_client, "solo"), vec![("t".to_string(), 2, Some(42))]);
    // The group comes back without members; its old member rejoins as new.
    let described = describe_groups(&mut c, &["g"]).groups.remove(0);
    assert_eq!((described.state, described.generation_id, described.members.len()), (GroupState::Empty, 1, 0));
    assert_eq!(heartbeat(&mut c, "g", generation, &member).error, ErrorCode::UnknownMemberId);
    let again = join(&mut c, "g", "", 10_000);
    assert_eq!((again.error, again.generation_id), (ErrorCode::None, 2), "generations go on");
    assert_ne!(again.member_id, member);
}

#[test]
fn the_offsets_topic_is_readable_but_not_writable() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let any = broker.endpoints()[0];
    let mut c = coordinator_client(any, "g");
    assert_eq!(commit(&mut c, "g", -1, "", &[("t", 0, 3)]).error, ErrorCode::None);

    // The commit is a record in the group's partition.
    let partitions = 2 * broker.config.cores as u32;
    let partition = coordinator_partition("g", partitions);
    let mut any_client = WireClient::connect(any);
    let f = fetch_result(any_client.call(&fetch(OFFSETS_TOPIC, partition, 0, 0)));
    assert_eq!(f.error, ErrorCode::None);
    let bytes = f.records.to_bytes();
    let mut keys = Vec::new();
    for b in corelog_format::iter_batches(&bytes, 64 << 20) {
        let decoded = corelog_format::DecodedBatch::decode(b.unwrap(), 64 << 20).unwrap();
        for r in decoded.records() {
            keys.push(RecordKey::decode(r.key.expect("coordinator records have keys")).unwrap());
        }
    }
    let commit_key = RecordKey::OffsetCommit { group: "g".into(), topic: "t".into(), partition: 0 };
    assert!(keys.contains(&commit_key), "{keys:?}");

    // Clients may not write it, delete it, grow it or create it.
    let record = OffsetsRecord::tombstone(&commit_key);
    let mut b = corelog_format::BatchBuilder::new(corelog_format::Compression::None);
    b.push(Some(&record.key), &record.value, 0, &[]);
    let forged = b.build().unwrap().freeze();
    let r = produce_result(any_client.call(&produce(OFFSETS_TOPIC, partition, forged, Acks::All)));
    assert_eq!(r.error, ErrorCode::InvalidRequest, "{r:?}");
    assert!(r.error_message.unwrap_or_default().contains("internal topic"));

    let delete = Request::DeleteTopics(DeleteTopicsRequest {
        topics: vec!["x".into(), OFFSETS_TOPIC.into()],
        timeout_ms: 1_000,
    });
    let Response::DeleteTopics(deleted) = any_client.call(&delete) else { panic!() };
    let got: Vec<(&str, ErrorCode)> = deleted.topics.iter().map(|t| (t.name.as_str(), t.error)).collect();
    assert_eq!(got, vec![("x", ErrorCode::UnknownTopic), (OFFSETS_TOPIC, ErrorCode::InvalidRequest)]);
    let grow = Request::CreatePartitions(CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic { name: OFFSETS_TOPIC.into(), new_total: 64 }],
        timeout_ms: 1_000,
        validate_only: false,
    });
    let Response::CreatePartitions(grown) = any_client.call(&grow) else { panic!() };
    assert_eq!(grown.topics[0].error, ErrorCode::InvalidRequest);
    assert_eq!(create_topic(&mut any_client, OFFSETS_TOPIC, 1).topics[0].error, ErrorCode::InvalidRequest);

    // The offset is still committed.
    assert_eq!(committed(&mut c, "g"), vec![("t".to_string(), 0, Some(3))]);
}

#[test]
fn a_long_commit_history_replays_to_the_latest_offsets() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let mut c = coordinator_client(broker.endpoints()[0], "history");
    // About 12 MiB of commits: the replay reads the partition many times.
    let metadata = "m".repeat(4_000);
    for round in 0..30u64 {
        let request = Request::OffsetCommit(OffsetCommitRequest {
            group_id: "history".into(),
            generation_id: -1,
            member_id: String::new(),
            topics: vec![OffsetCommitTopic {
                name: "t".into(),
                partitions: (0..100)
                    .map(|p| OffsetCommitPartition {
                        partition: p,
                        offset: round * 1_000 + u64::from(p),
                        metadata: metadata.clone(),
                    })
                    .collect(),
            }],
        });
        let Response::OffsetCommit(r) = c.call(&request) else { panic!() };
        assert_eq!(r.error, ErrorCode::None);
    }
    let want: Vec<(String, u32, Option<u64>)> =
        (0..100).map(|p| ("t".to_string(), p, Some(29_000 + u64::from(p)))).collect();
    assert_eq!(committed(&mut c, "history"), want);

    let broker = broker.restart_tuned();
    let mut c = coordinator_client(broker.endpoints()[0], "history");
    assert_eq!(committed(&mut c, "history"), want);
}
