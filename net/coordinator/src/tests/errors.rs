//! Requests the coordinator must refuse.

use super::*;

#[test]
fn heartbeat_errors() {
    let mut h = H::new();
    assert_eq!(h.heartbeat("nope", "m", 1), ErrorCode::UnknownMemberId);
    assert_eq!(h.heartbeat("", "m", 1), ErrorCode::InvalidRequest);
    let (ids, generation) = h.stable_group("g", 2);
    assert_eq!(h.heartbeat("g", "stranger", generation), ErrorCode::UnknownMemberId);
    assert_eq!(h.heartbeat("g", &ids[0], generation - 1), ErrorCode::IllegalGeneration);
    assert_eq!(h.heartbeat("g", &ids[0], generation + 1), ErrorCode::IllegalGeneration);
    assert_eq!(h.heartbeat("g", &ids[0], generation), ErrorCode::None);
    // While CompletingRebalance heartbeats are fine (members sync meanwhile).
    h.join("g", &ids[0]);
    assert_eq!(h.heartbeat("g", &ids[1], generation), ErrorCode::RebalanceInProgress);
    h.join("g", &ids[1]);
    assert_eq!(h.describe("g").state, GroupState::CompletingRebalance);
    assert_eq!(h.heartbeat("g", &ids[1], generation + 1), ErrorCode::None);
    assert_eq!(h.heartbeat("g", &ids[1], generation), ErrorCode::IllegalGeneration);
}

#[test]
fn sync_errors_and_a_rebalance_during_sync() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let (req, out) = h.sync("nope", &ids[0], generation, &[]);
    assert_eq!(sync_responses(&out)[0].0, req);
    assert_eq!(sync_responses(&out)[0].1.error, ErrorCode::UnknownMemberId);
    let (_, out) = h.sync("g", "stranger", generation, &[]);
    assert_eq!(sync_responses(&out)[0].1.error, ErrorCode::UnknownMemberId);
    let (_, out) = h.sync("g", &ids[1], generation + 7, &[]);
    assert_eq!(sync_responses(&out)[0].1.error, ErrorCode::IllegalGeneration);
    // PreparingRebalance: rejoin first.
    h.join("g", &ids[0]);
    let (_, out) = h.sync("g", &ids[1], generation, &[]);
    assert_eq!(sync_responses(&out)[0].1.error, ErrorCode::RebalanceInProgress);
    h.join("g", &ids[1]);
    // CompletingRebalance: the follower's sync is held; a new member's join
    // starts another rebalance, which answers it.
    let (held, out) = h.sync("g", &ids[1], generation + 1, &[]);
    assert!(out.is_empty());
    let (_, out) = h.join("g", "");
    assert_eq!(
        sync_responses(&out),
        vec![(held, SyncGroupResponse::error(ErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin"))]
    );
}

#[test]
fn a_failed_assignment_persist_fails_the_syncs_and_rebalances() {
    let mut h = H::new();
    let (_, out_a) = h.join("g", "");
    let a = persists(&out_a).len();
    assert_eq!(a, 0);
    let j = join_response(&out_a, RequestId(1));
    let (s, out) = h.sync("g", &j.member_id, j.generation_id, &[(&j.member_id, b"x")]);
    let out = h.ack_with(out, Err(ErrorCode::StorageError));
    let syncs = sync_responses(&out);
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0].0, s);
    assert_eq!(syncs[0].1.error, ErrorCode::CoordinatorNotAvailable);
    assert_eq!(h.describe("g").state, GroupState::PreparingRebalance);
    assert_eq!(h.heartbeat("g", &j.member_id, j.generation_id), ErrorCode::RebalanceInProgress);
}

#[test]
fn unknown_assignor_and_inconsistent_protocols() {
    let mut h = H::new();
    let (req, out) = h.join_with("g", "", &["fancy"]);
    let j = join_response(&out, req);
    assert_eq!(j.error, ErrorCode::InconsistentGroupProtocol);
    assert!(j.error_message.unwrap().contains("fancy"));
    assert!(h.c.group("g").is_none(), "a refused join leaves nothing behind");
    let (req, out) = h.join_with("g", "", &[]);
    assert_eq!(join_response(&out, req).error, ErrorCode::InconsistentGroupProtocol);
    // A known assignor among others is enough (the others may be the
    // client's own assignors: the lone member's first choice wins).
    let (req, out) = h.join_with("g", "", &["fancy", "sticky"]);
    let j = join_response(&out, req);
    assert_eq!((j.error, j.protocol_name.as_str()), (ErrorCode::None, "fancy"));
    // Another protocol type, or no common protocol with the group: refused.
    let req2 = h.req();
    let mut request = JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: 0,
        member_id: String::new(),
        client_id: "c".into(),
        protocol_type: "connect".into(),
        protocols: vec![JoinGroupProtocol { name: "sticky".into(), metadata: vec![] }],
    };
    let out = h.handle(Event::Join { req: req2, client_host: "h".into(), request: request.clone() });
    assert_eq!(join_response(&out, req2).error, ErrorCode::InconsistentGroupProtocol);
    let (req, out) = h.join_with("g", "", &["range"]);
    assert_eq!(join_response(&out, req).error, ErrorCode::InconsistentGroupProtocol);
    // Other protocol types are not checked against the consumer assignors.
    request.group_id = "connect-group".into();
    request.protocols[0].name = "v1".into();
    let req3 = h.req();
    let out = h.handle(Event::Join { req: req3, client_host: "h".into(), request });
    let j = join_response(&out, req3);
    assert_eq!((j.error, j.protocol_name.as_str()), (ErrorCode::None, "v1"));
    // The group's state did not change through the refusals.
    assert_eq!(h.describe("g").members.len(), 1);
}

#[test]
fn join_argument_errors() {
    let mut h = H::new();
    let join = |h: &mut H, f: &dyn Fn(&mut JoinGroupRequest)| {
        let req = h.req();
        let mut request = JoinGroupRequest {
            group_id: "g".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: 0,
            member_id: String::new(),
            client_id: "c".into(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupProtocol { name: "range".into(), metadata: vec![] }],
        };
        f(&mut request);
        let out = h.handle(Event::Join { req, client_host: "h".into(), request });
        join_response(&out, req)
    };
    assert_eq!(join(&mut h, &|r| r.session_timeout_ms = 999).error, ErrorCode::InvalidRequest);
    assert_eq!(join(&mut h, &|r| r.session_timeout_ms = 30 * 60 * 1000 + 1).error, ErrorCode::InvalidRequest);
    assert_eq!(join(&mut h, &|r| r.group_id.clear()).error, ErrorCode::InvalidRequest);
    assert_eq!(join(&mut h, &|r| r.protocol_type.clear()).error, ErrorCode::InconsistentGroupProtocol);
    let j = join(&mut h, &|r| r.member_id = "ghost".into());
    assert_eq!((j.error, j.member_id.as_str()), (ErrorCode::UnknownMemberId, "ghost"));
    assert!(h.c.groups().next().is_none());
    // A full group.
    let mut h = H::with(CoordinatorConfig { max_group_size: 1, ..config() });
    assert_eq!(join(&mut h, &|_| {}).error, ErrorCode::None);
    assert_eq!(join(&mut h, &|_| {}).error, ErrorCode::InvalidRequest);
}
