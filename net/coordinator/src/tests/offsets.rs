//! Offset commits and fetches.

use super::*;

#[test]
fn commits_are_answered_once_durable_and_fetched() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let (req, out) = h.commit("g", &ids[1], generation, &[("orders", 0, 10), ("orders", 1, 20), ("pay", 3, 5)]);
    let [Command::Persist(p)] = &out[..] else { panic!("{out:?}") };
    assert_eq!(p.partition, coordinator_partition("g", P));
    let keys: Vec<RecordKey> = p.records.iter().map(|r| RecordKey::decode(&r.key).unwrap()).collect();
    assert_eq!(keys[2], RecordKey::OffsetCommit { group: "g".into(), topic: "pay".into(), partition: 3 });
    let v = crate::records::OffsetCommitValue::decode(&p.records[0].value).unwrap();
    assert_eq!((v.offset, v.metadata.as_str(), v.commit_timestamp_ms), (10, "m10", h.now));
    // Not visible before it is durable.
    assert_eq!(h.committed("g", "orders", 0), None);
    let out = h.handle(Event::Persisted { id: p.id, result: Ok(()) });
    let c = commit_response(&out, req);
    assert_eq!(c.error, ErrorCode::None);
    assert_eq!(c.topics.len(), 2);
    assert!(c.topics.iter().flat_map(|t| &t.partitions).all(|p| p.error == ErrorCode::None));
    assert_eq!(h.committed("g", "orders", 0), Some(10));
    assert_eq!(h.committed("g", "orders", 1), Some(20));
    assert_eq!(h.committed("g", "orders", 2), None);
    // Everything the group committed.
    let all = h.fetch("g", None);
    let flat: Vec<(String, u32, Option<u64>, String)> = all
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.name.clone(), p.partition, p.offset, p.metadata.clone())))
        .collect();
    assert_eq!(
        flat,
        vec![
            ("orders".into(), 0, Some(10), "m10".into()),
            ("orders".into(), 1, Some(20), "m20".into()),
            ("pay".into(), 3, Some(5), "m5".into())
        ]
    );
    // A later commit overwrites.
    assert_eq!(h.commit_now("g", &ids[0], generation, &[("orders", 0, 11)]), ErrorCode::None);
    assert_eq!(h.committed("g", "orders", 0), Some(11));
}

#[test]
fn commit_checks_the_member_and_its_generation() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let o = [("t", 0, 1)];
    assert_eq!(h.commit_now("g", &ids[0], generation - 1, &o), ErrorCode::IllegalGeneration);
    assert_eq!(h.commit_now("g", "stranger", generation, &o), ErrorCode::UnknownMemberId);
    assert_eq!(h.commit_now("g", "", NO_GENERATION, &o), ErrorCode::UnknownMemberId, "the group has members");
    assert_eq!(h.commit_now("nope", "m", 3, &o), ErrorCode::IllegalGeneration);
    assert!(h.c.group("nope").is_none());
    assert_eq!(h.commit_now("", "m", 3, &o), ErrorCode::InvalidRequest);
    // Errors are set per partition too, and nothing is persisted.
    let (req, out) = h.commit("g", &ids[0], generation + 1, &[("t", 0, 1), ("t", 1, 1)]);
    assert!(persists(&out).is_empty());
    let c = commit_response(&out, req);
    assert!(c.topics[0].partitions.iter().all(|p| p.error == ErrorCode::IllegalGeneration));
    assert_eq!(h.committed("g", "t", 0), None);
    // While PreparingRebalance the current generation may still commit.
    h.join("g", &ids[0]);
    assert_eq!(h.commit_now("g", &ids[1], generation, &o), ErrorCode::None);
    // While CompletingRebalance it may not.
    let (_, out) = h.join("g", &ids[1]);
    assert!(!out.is_empty());
    assert_eq!(h.commit_now("g", &ids[1], generation + 1, &o), ErrorCode::RebalanceInProgress);
}

#[test]
fn standalone_commits_need_an_empty_group() {
    let mut h = H::new();
    assert_eq!(h.commit_now("solo", "", NO_GENERATION, &[("t", 0, 42)]), ErrorCode::None);
    assert_eq!(h.committed("solo", "t", 0), Some(42));
    let d = h.describe("solo");
    assert_eq!((d.state, d.protocol_type.as_str(), d.generation_id), (GroupState::Empty, "", 0));
    // An empty commit is answered at once.
    let (req, out) = h.commit("solo", "", NO_GENERATION, &[]);
    assert!(persists(&out).is_empty());
    assert_eq!(commit_response(&out, req).error, ErrorCode::None);
    // A group can form on top of standalone offsets.
    let (ids, generation) = h.stable_group("solo", 1);
    assert_eq!(generation, 1);
    assert_eq!(h.commit_now("solo", "", NO_GENERATION, &[("t", 0, 1)]), ErrorCode::UnknownMemberId);
    assert_eq!(h.commit_now("solo", &ids[0], generation, &[("t", 0, 43)]), ErrorCode::None);
    assert_eq!(h.committed("solo", "t", 0), Some(43));
}

#[test]
fn a_failed_commit_persist_is_an_error_and_changes_nothing() {
    let mut h = H::new();
    let (req, out) = h.commit("g", "", NO_GENERATION, &[("t", 0, 5)]);
    let out = h.ack_with(out, Err(ErrorCode::StorageError));
    assert_eq!(commit_response(&out, req).error, ErrorCode::CoordinatorNotAvailable);
    assert_eq!(h.committed("g", "t", 0), None);
    assert!(h.c.group("g").is_none(), "the group the failed commit created is gone");
    let (req, out) = h.commit("g", "", NO_GENERATION, &[("t", 0, 5)]);
    let out = h.ack_with(out, Err(ErrorCode::NotOwner));
    assert_eq!(commit_response(&out, req).error, ErrorCode::NotCoordinator);
}

#[test]
fn fetch_for_unknown_groups_and_partitions() {
    let mut h = H::new();
    let f = h.fetch("nobody", Some(vec![("t", vec![0, 1])]));
    assert_eq!(f.error, ErrorCode::None);
    assert_eq!(f.topics[0].partitions.len(), 2);
    assert!(f.topics[0].partitions.iter().all(|p| p.offset.is_none() && p.error == ErrorCode::None));
    assert!(h.fetch("nobody", None).topics.is_empty());
    assert_eq!(h.fetch("", None).error, ErrorCode::InvalidRequest);
}
