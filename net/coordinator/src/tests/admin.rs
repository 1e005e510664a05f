//! Listing, describing, deleting and expiring groups.

use super::*;

#[test]
fn list_and_describe() {
    let mut h = H::new();
    h.stable_group("a", 2);
    h.commit_now("b", "", NO_GENERATION, &[("t", 0, 1)]);
    h.join("c", "");
    let req = h.req();
    let out = h.handle(Event::ListGroups { req, request: ListGroupsRequest::default() });
    let [Command::Respond { response: Response::ListGroups(l), .. }] = &out[..] else { panic!() };
    let listed: Vec<(&str, GroupState, &str)> =
        l.groups.iter().map(|g| (g.group_id.as_str(), g.state, g.protocol_type.as_str())).collect();
    assert_eq!(
        listed,
        [
            ("a", GroupState::Stable, "consumer"),
            ("b", GroupState::Empty, ""),
            ("c", GroupState::CompletingRebalance, "consumer")
        ]
    );
    let req = h.req();
    let request = ListGroupsRequest { states_filter: vec![GroupState::Empty, GroupState::Stable] };
    let out = h.handle(Event::ListGroups { req, request });
    let [Command::Respond { response: Response::ListGroups(l), .. }] = &out[..] else { panic!() };
    assert_eq!(l.groups.len(), 2);

    let req = h.req();
    let request = DescribeGroupsRequest { group_ids: vec!["a".into(), "zzz".into(), "".into()] };
    let out = h.handle(Event::DescribeGroups { req, request });
    let [Command::Respond { response: Response::DescribeGroups(d), .. }] = &out[..] else { panic!() };
    assert_eq!(d.groups[0].members.len(), 2);
    assert!(d.groups[0].members.iter().all(|m| !m.assignment.is_empty() && m.metadata.starts_with(b"range:")));
    assert_eq!((d.groups[1].error, d.groups[1].state), (ErrorCode::UnknownGroup, GroupState::Dead));
    assert_eq!(d.groups[2].error, ErrorCode::InvalidRequest);
    assert_eq!(h.c.stats(), CoordinatorStats { groups: 3, members: 3, rebalancing_groups: 1, pending_persists: 0 });
}

#[test]
fn delete_groups() {
    let mut h = H::new();
    h.stable_group("busy", 1);
    h.commit_now("idle", "", NO_GENERATION, &[("t", 0, 1), ("u", 2, 3)]);
    h.commit_now("idle2", "", NO_GENERATION, &[("t", 0, 9)]);
    let (req, out) = h.delete(&["busy", "missing", "idle", "idle2", "idle"]);
    assert!(responses(&out).is_empty(), "answered once the tombstones are durable");
    assert!(h.c.group("idle").is_none(), "forgotten at once");
    let tombstones: Vec<RecordKey> = persists(&out)
        .iter()
        .flat_map(|p| &p.records)
        .inspect(|r| assert!(r.is_tombstone()))
        .map(|r| RecordKey::decode(&r.key).unwrap())
        .collect();
    assert!(tombstones.contains(&RecordKey::OffsetCommit { group: "idle".into(), topic: "u".into(), partition: 2 }));
    assert!(tombstones.contains(&RecordKey::GroupMetadata { group: "idle".into() }));
    assert!(tombstones.contains(&RecordKey::GroupMetadata { group: "idle2".into() }));
    // Offsets before metadata, per group.
    let idle: Vec<&RecordKey> = tombstones.iter().filter(|k| k.group() == "idle").collect();
    assert!(matches!(idle.last(), Some(RecordKey::GroupMetadata { .. })));
    let out = h.ack_all(out);
    let [(r, Response::DeleteGroups(d))] = &responses(&out)[..] else { panic!("{out:?}") };
    assert_eq!(*r, req);
    let errors: Vec<ErrorCode> = d.results.iter().map(|r| r.error).collect();
    assert_eq!(
        errors,
        [ErrorCode::GroupNotEmpty, ErrorCode::UnknownGroup, ErrorCode::None, ErrorCode::None, ErrorCode::UnknownGroup]
    );
    assert_eq!(h.committed("idle", "t", 0), None);
    assert_eq!(h.describe("idle").error, ErrorCode::UnknownGroup);
    assert_eq!(h.describe("busy").state, GroupState::Stable);
    // Nothing to delete: answered at once.
    let (req, out) = h.delete(&["busy"]);
    assert_eq!(answered(&out), BTreeSet::from([req]));
}

#[test]
fn empty_groups_expire_after_the_retention() {
    let retention = 7 * 24 * 3600 * 1000;
    let mut h = H::new();
    assert_eq!(h.c.config().offsets_retention_ms, retention);
    let t0 = h.now;
    h.commit_now("old", "", NO_GENERATION, &[("t", 0, 1)]);
    h.commit_now("old", "", NO_GENERATION, &[("t", 1, 1)]);
    h.advance(1_000);
    h.commit_now("newer", "", NO_GENERATION, &[("t", 0, 1)]);
    assert_eq!(h.c.next_deadline(), Some(t0 + retention));
    h.advance(retention - 1_001);
    let out = h.tick();
    assert!(out.is_empty(), "not yet: {out:?}");
    h.advance(1);
    let out = h.tick();
    let [p] = &persists(&out)[..] else { panic!("{out:?}") };
    assert_eq!(p.partition, coordinator_partition("old", P));
    let keys: Vec<RecordKey> = p.records.iter().map(|r| RecordKey::decode(&r.key).unwrap()).collect();
    assert_eq!(
        keys,
        [
            RecordKey::OffsetCommit { group: "old".into(), topic: "t".into(), partition: 0 },
            RecordKey::OffsetCommit { group: "old".into(), topic: "t".into(), partition: 1 },
            RecordKey::GroupMetadata { group: "old".into() },
        ]
    );
    assert!(p.records.iter().all(OffsetsRecord::is_tombstone));
    assert!(h.c.group("old").is_none());
    assert_eq!(h.committed("old", "t", 0), None);
    assert_eq!(h.committed("newer", "t", 0), Some(1), "committed later, kept");
    assert!(h.ack_all(out).len() == 1);
    h.advance(1_000);
    assert_eq!(persists(&h.tick()).len(), 1);
    assert!(h.c.groups().next().is_none());
}

#[test]
fn groups_with_members_never_expire_and_emptiness_restarts_the_clock() {
    let retention = 1_000_000;
    let mut h = H::with(CoordinatorConfig { offsets_retention_ms: retention, ..config() });
    let (ids, generation) = h.stable_group("g", 1);
    h.commit_now("g", &ids[0], generation, &[("t", 0, 1)]);
    for _ in 0..(2 * retention / 3_000) {
        h.advance(3_000);
        assert_eq!(h.heartbeat("g", &ids[0], generation), ErrorCode::None);
        assert!(persists(&h.tick()).is_empty());
    }
    let out = h.leave("g", &ids[0]);
    h.ack_all(out);
    h.advance(retention - 1);
    assert!(persists(&h.tick()).is_empty());
    h.advance(1);
    assert_eq!(persists(&h.tick()).len(), 1);
    assert!(h.c.group("g").is_none());
}
