//! Loading, replay, snapshots and partition moves.

use super::*;

#[test]
fn replay_restores_offsets_and_groups_come_back_empty() {
    let mut h = H::new();
    let mut log: BTreeMap<u32, Vec<OffsetsRecord>> = BTreeMap::new();
    let mut record = |out: &[Command]| {
        for p in persists(out) {
            log.entry(p.partition).or_default().extend(p.records.iter().cloned());
        }
    };
    let (ids, generation) = h.stable_group("g", 2);
    let (_, out) = h.commit("g", &ids[0], generation, &[("orders", 0, 100), ("orders", 1, 200)]);
    record(&h.ack_all(out));
    let (_, out) = h.commit("g", &ids[1], generation, &[("orders", 1, 250)]);
    record(&h.ack_all(out));
    let (_, out) = h.commit("solo", "", NO_GENERATION, &[("pay", 0, 7)]);
    record(&h.ack_all(out));
    let (_, out) = h.commit("gone", "", NO_GENERATION, &[("pay", 0, 1)]);
    record(&h.ack_all(out));
    let (_, out) = h.delete(&["gone"]);
    record(&h.ack_all(out));
    // The stable group's metadata was persisted by its sync (not recorded
    // above): take it from a snapshot.
    let meta_key = RecordKey::GroupMetadata { group: "g".into() }.encode();
    let meta = h.c.snapshot(h.c.partition_of("g"), h.now).into_iter().find(|r| r.key == meta_key).unwrap();
    log.entry(h.c.partition_of("g")).or_default().insert(0, meta);

    // A new coordinator (a restart): loading, replay, loaded.
    let mut c = GroupCoordinator::new(CoordinatorConfig { incarnation: 0xcd, ..config() });
    for (partition, records) in &log {
        assert!(c.handle(0, Event::Loading { partition: *partition }).is_empty());
        // Requests during loading are told to retry.
        let out = c.handle(
            0,
            Event::Heartbeat {
                req: RequestId(1),
                request: HeartbeatRequest { group_id: "g".into(), generation_id: 1, member_id: "m".into() },
            },
        );
        if *partition == c.partition_of("g") {
            let [Command::Respond { response: Response::Heartbeat(hb), .. }] = &out[..] else { panic!() };
            assert_eq!(hb.error, ErrorCode::CoordinatorNotAvailable);
        }
        for r in records {
            c.replay(&r.key, &r.value).unwrap();
        }
        assert!(c.handle(0, Event::Loaded { partition: *partition }).is_empty());
    }
    for p in 0..P {
        c.handle(0, Event::Loaded { partition: p });
    }
    let mut h2 = H { c, now: h.now + 1, next_req: 1_000 };
    assert_eq!(h2.committed("g", "orders", 0), Some(100));
    assert_eq!(h2.committed("g", "orders", 1), Some(250));
    assert_eq!(h2.committed("solo", "pay", 0), Some(7));
    assert!(h2.c.group("gone").is_none());
    let d = h2.describe("g");
    assert_eq!((d.state, d.generation_id, d.protocol_type.as_str()), (GroupState::Empty, generation, "consumer"));
    assert!(d.members.is_empty());
    // Old members must rejoin; the generation carries on.
    assert_eq!(h2.heartbeat("g", &ids[0], generation), ErrorCode::UnknownMemberId);
    assert_eq!(h2.commit_now("g", &ids[0], generation, &[("orders", 0, 1)]), ErrorCode::UnknownMemberId);
    let (req, out) = h2.join("g", "");
    let j = join_response(&out, req);
    assert_eq!(j.generation_id, generation + 1);
    assert_eq!(j.member_id, "client-cd-1");
    // Replaying garbage is an error, not a panic.
    assert!(h2.c.replay(&[9, 9], &[]).is_err());
    assert!(h2.c.replay(&RecordKey::GroupMetadata { group: "x".into() }.encode(), &[1]).is_err());
}

#[test]
fn snapshot_replays_to_the_same_state() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 1);
    h.commit_now("g", &ids[0], generation, &[("t", 0, 3), ("u", 1, 4)]);
    h.commit_now("solo", "", NO_GENERATION, &[("t", 0, 8)]);
    let mut c = GroupCoordinator::new(config());
    for p in 0..P {
        c.handle(0, Event::Loading { partition: p });
        for r in h.c.snapshot(p, h.now) {
            c.replay(&r.key, &r.value).unwrap();
        }
        c.handle(0, Event::Loaded { partition: p });
    }
    for id in ["g", "solo"] {
        let (a, b) = (h.c.group(id).unwrap(), c.group(id).unwrap());
        assert_eq!(a.offsets, b.offsets);
        assert_eq!(a.generation, b.generation);
        assert_eq!(a.protocol_type, b.protocol_type);
    }
}

#[test]
fn groups_of_partitions_not_owned_or_moving_away() {
    let mut c = GroupCoordinator::new(config());
    let p = c.partition_of("g");
    let join = |req| Event::Join {
        req: RequestId(req),
        client_host: "h".into(),
        request: JoinGroupRequest {
            group_id: "g".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            member_id: String::new(),
            client_id: "c".into(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupProtocol { name: "range".into(), metadata: vec![] }],
        },
    };
    let out = c.handle(0, join(1));
    assert_eq!(join_response(&out, RequestId(1)).error, ErrorCode::NotCoordinator);
    c.handle(0, Event::Loading { partition: p });
    let out = c.handle(0, join(2));
    assert_eq!(join_response(&out, RequestId(2)).error, ErrorCode::CoordinatorNotAvailable);
    let out = c.handle(0, Event::ListGroups { req: RequestId(3), request: ListGroupsRequest::default() });
    let [Command::Respond { response: Response::ListGroups(l), .. }] = &out[..] else { panic!() };
    assert_eq!(l.error, ErrorCode::CoordinatorNotAvailable);
    c.handle(0, Event::Loaded { partition: p });
    let out = c.handle(0, join(4));
    let j = join_response(&out, RequestId(4));
    assert_eq!(j.error, ErrorCode::None);
    // A second member's join is held; unloading answers it.
    let out = c.handle(1, join(5));
    assert!(out.is_empty());
    let out = c.handle(2, Event::Unloaded { partition: p });
    assert_eq!(join_response(&out, RequestId(5)).error, ErrorCode::NotCoordinator);
    assert!(c.group("g").is_none());
    let out = c.handle(
        3,
        Event::Heartbeat {
            req: RequestId(6),
            request: HeartbeatRequest { group_id: "g".into(), generation_id: 1, member_id: j.member_id },
        },
    );
    let [Command::Respond { response: Response::Heartbeat(hb), .. }] = &out[..] else { panic!() };
    assert_eq!(hb.error, ErrorCode::NotCoordinator);
}

#[test]
fn events_from_requests() {
    let request = Request::Heartbeat(HeartbeatRequest::default());
    assert!(matches!(Event::from_request(RequestId(1), request, "h"), Ok(Event::Heartbeat { .. })));
    let join = Request::JoinGroup(JoinGroupRequest::default());
    let Ok(Event::Join { client_host, .. }) = Event::from_request(RequestId(1), join, "10.1.1.1:9") else { panic!() };
    assert_eq!(client_host, "10.1.1.1:9");
    let find = Request::FindCoordinator(FindCoordinatorRequest { group_id: "g".into() });
    assert_eq!(Event::from_request(RequestId(1), find.clone(), "h"), Err(find));
    for api in ApiKey::ALL {
        let _ = api.is_coordinator_api();
    }
}

#[test]
fn coordinator_partition_is_kafkas() {
    // toPositive(murmur2("foobar")) = 1357151166.
    assert_eq!(coordinator_partition("foobar", 50), 1_357_151_166 % 50);
    assert_eq!(coordinator_partition("foobar", 16), 1_357_151_166 % 16);
    assert_eq!(coordinator_partition("g", 0), 0);
    let c = GroupCoordinator::new(CoordinatorConfig { offsets_topic_partitions: 50, ..config() });
    assert_eq!(c.partition_of("foobar"), 16);
}
