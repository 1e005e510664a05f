//! Writes the seed corpus of the `decode_group_data` fuzz target
//! (`net/fuzz/seeds/decode_group_data/`). Run with `--ignored` after changing
//! the `__consumer_offsets` record format or the consumer protocol.

use corelog_coordinator::records::{GroupMetadataValue, MemberMetadataValue, OffsetCommitValue, RecordKey};
use corelog_protocol::consumer_protocol::{Assignment, Subscription, TopicPartitions};

/// A consumer subscription, encoded as a member puts it in JoinGroup.
fn subscription(topics: &[&str]) -> Vec<u8> {
    Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        user_data: vec![],
        owned_partitions: vec![TopicPartitions::new("orders", [0, 2])],
    }
    .encode()
}

/// A consumer assignment, encoded as the leader sends it in SyncGroup.
fn assignment(partitions: &[u32]) -> Vec<u8> {
    Assignment {
        partitions: vec![TopicPartitions::new("orders", partitions.iter().copied())],
        user_data: b"gen-7".to_vec(),
    }
    .encode()
}

#[test]
#[ignore]
fn write_fuzz_seed_corpus() {
    // Byte 0 picks the decoder (see the target).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/decode_group_data");
    std::fs::create_dir_all(&dir).unwrap();
    let offset_key = RecordKey::OffsetCommit { group: "billing".into(), topic: "orders".into(), partition: 3 }.encode();
    let group_key = RecordKey::GroupMetadata { group: "billing".into() }.encode();
    let offset_value =
        OffsetCommitValue { offset: 1234, metadata: "m".into(), commit_timestamp_ms: 1_700_000_000_000 }.encode();
    let group_value = GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 7,
        protocol: "range".into(),
        leader: "c-1".into(),
        timestamp_ms: 1_700_000_000_000,
        members: vec![MemberMetadataValue {
            member_id: "c-1".into(),
            client_id: "c".into(),
            host: "10.0.0.1:5000".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            subscription: subscription(&["orders"]),
            assignment: assignment(&[0, 1]),
        }],
    }
    .encode();
    let mut replay = Vec::new();
    for (k, v) in
        [(&offset_key, &offset_value), (&group_key, &group_value), (&offset_key, &vec![]), (&group_key, &vec![])]
    {
        if k.len() < 256 && v.len() < 256 {
            replay.push(k.len() as u8);
            replay.extend_from_slice(k);
            replay.push(v.len() as u8);
            replay.extend_from_slice(v);
        }
    }
    let seeds: [(&str, u8, &[u8]); 6] = [
        ("subscription", 0, &subscription(&["orders", "payments"])),
        ("assignment", 1, &assignment(&[0, 2, 4])),
        ("offset-key", 2, &offset_key),
        ("offset-value", 3, &offset_value),
        ("group-value", 4, &group_value),
        ("replay", 5, &replay),
    ];
    for (name, which, bytes) in seeds {
        let input: Vec<u8> = std::iter::once(which).chain(bytes.iter().copied()).collect();
        std::fs::write(dir.join(name), input).unwrap();
    }
}
