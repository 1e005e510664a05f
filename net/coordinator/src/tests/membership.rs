//! Joining, syncing, timeouts and leaving.

use super::*;

#[test]
fn lone_member_forms_a_generation_at_once() {
    let mut h = H::new();
    let (req, out) = h.join("g", "");
    let j = join_response(&out, req);
    assert_eq!(j.error, ErrorCode::None);
    assert_eq!(j.generation_id, 1);
    assert_eq!(j.member_id, "client-ab-1");
    assert!(j.is_leader());
    assert_eq!(j.protocol_name, "range");
    assert_eq!(j.members.len(), 1);
    assert_eq!(j.members[0].metadata, b"range:meta");
    assert!(persists(&out).is_empty());
    assert_eq!(h.describe("g").state, GroupState::CompletingRebalance);
}

#[test]
fn three_members_join_one_generation_and_get_their_assignments() {
    let mut h = H::with(CoordinatorConfig { initial_rebalance_delay_ms: 3_000, ..config() });
    let (a, out_a) = h.join("g", "");
    h.advance(1_000);
    let (b, out_b) = h.join("g", "");
    h.advance(1_000);
    let (c, out_c) = h.join("g", "");
    assert!(out_a.is_empty() && out_b.is_empty() && out_c.is_empty(), "joins are held during the initial delay");
    assert_eq!(h.describe("g").state, GroupState::PreparingRebalance);
    // The delay was extended by the last member: nothing before 3 s after it.
    h.advance(2_999);
    assert!(h.tick().is_empty());
    assert_eq!(h.c.next_deadline(), Some(h.now + 1));
    h.advance(1);
    let out = h.tick();
    let (ja, jb, jc) = (join_response(&out, a), join_response(&out, b), join_response(&out, c));
    assert_eq!(answered(&out), BTreeSet::from([a, b, c]));
    for j in [&ja, &jb, &jc] {
        assert_eq!(j.error, ErrorCode::None);
        assert_eq!(j.generation_id, 1);
        assert_eq!(j.leader_id, ja.member_id, "the first member leads");
        assert_eq!(j.protocol_name, "range");
    }
    assert_eq!(ja.members.len(), 3, "the leader gets every member's metadata");
    assert!(jb.members.is_empty() && jc.members.is_empty());
    let ids: BTreeSet<&str> = [&ja, &jb, &jc].iter().map(|j| j.member_id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    for m in &ja.members {
        assert_eq!(m.metadata, b"range:meta", "metadata of the chosen protocol");
    }

    // Followers' syncs wait for the leader's.
    let (sb, out) = h.sync("g", &jb.member_id, 1, &[]);
    assert!(out.is_empty());
    let (sc, out) = h.sync("g", &jc.member_id, 1, &[]);
    assert!(out.is_empty());
    let assignments: [(&str, &[u8]); 3] = [(&ja.member_id, b"A"), (&jb.member_id, b"B"), (&jc.member_id, b"C")];
    let (sa, out) = h.sync("g", &ja.member_id, 1, &assignments);
    // Nothing is answered until the assignment is durable.
    let [Command::Persist(p)] = &out[..] else { panic!("{out:?}") };
    assert_eq!(p.partition, coordinator_partition("g", P));
    assert_eq!(p.records.len(), 1);
    let key = RecordKey::decode(&p.records[0].key).unwrap();
    assert_eq!(key, RecordKey::GroupMetadata { group: "g".into() });
    let value = crate::records::GroupMetadataValue::decode(&p.records[0].value).unwrap();
    assert_eq!(value.generation, 1);
    assert_eq!(value.leader, ja.member_id);
    assert_eq!(value.protocol, "range");
    assert_eq!(value.members.len(), 3);
    assert!(value.members.iter().any(|m| m.member_id == jb.member_id && m.assignment == b"B"));
    assert_eq!(h.describe("g").state, GroupState::CompletingRebalance);

    let out = h.handle(Event::Persisted { id: p.id, result: Ok(()) });
    let syncs: BTreeMap<RequestId, Vec<u8>> =
        sync_responses(&out).into_iter().map(|(r, s)| (r, s.assignment)).collect();
    assert_eq!(syncs, BTreeMap::from([(sa, b"A".to_vec()), (sb, b"B".to_vec()), (sc, b"C".to_vec())]));
    let d = h.describe("g");
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.generation_id, 1);
    assert_eq!(d.protocol, "range");
    assert_eq!(d.protocol_type, "consumer");
    assert!(d.members.iter().all(|m| m.host == "10.0.0.1:5000" && m.client_id == "client"));
    assert!(d.members.iter().any(|m| m.member_id == jc.member_id && m.assignment == b"C"));
    // A late sync in the Stable generation is answered at once.
    let (late, out) = h.sync("g", &jb.member_id, 1, &[]);
    assert_eq!(
        sync_responses(&out),
        vec![(late, SyncGroupResponse { assignment: b"B".to_vec(), ..Default::default() })]
    );
    for j in [&ja, &jb, &jc] {
        assert_eq!(h.heartbeat("g", &j.member_id, 1), ErrorCode::None);
    }
}

#[test]
fn protocol_is_the_common_one_with_most_votes() {
    let mut h = H::with(CoordinatorConfig { initial_rebalance_delay_ms: 100, ..config() });
    let (a, _) = h.join_with("g", "", &["range", "roundrobin", "sticky"]);
    let (b, _) = h.join_with("g", "", &["sticky", "roundrobin"]);
    let (c, _) = h.join_with("g", "", &["sticky", "roundrobin"]);
    h.advance(100);
    let out = h.tick();
    for req in [a, b, c] {
        assert_eq!(join_response(&out, req).protocol_name, "sticky");
    }
    // A member sharing no protocol with the group is refused.
    let (d, out) = h.join_with("g", "", &["range"]);
    assert_eq!(join_response(&out, d).error, ErrorCode::InconsistentGroupProtocol);
}

#[test]
fn a_new_member_makes_everyone_rejoin() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let (c, out) = h.join("g", "");
    assert!(out.is_empty(), "held until the others rejoin");
    assert_eq!(h.describe("g").state, GroupState::PreparingRebalance);
    assert!(h.describe("g").members.iter().all(|m| m.assignment.is_empty()));
    assert_eq!(h.heartbeat("g", &ids[0], generation), ErrorCode::RebalanceInProgress);
    assert_eq!(h.heartbeat("g", &ids[1], generation), ErrorCode::RebalanceInProgress);
    let (a, out) = h.join("g", &ids[0]);
    assert!(out.is_empty());
    let (b, out) = h.join("g", &ids[1]);
    assert_eq!(answered(&out), BTreeSet::from([a, b, c]));
    let ja = join_response(&out, a);
    assert_eq!(ja.generation_id, generation + 1);
    assert_eq!(ja.leader_id, ids[0], "the leader stays the leader");
    assert_eq!(ja.members.len(), 3);
    assert_eq!(join_response(&out, c).leader_id, ids[0]);
    // The old generation is gone.
    assert_eq!(h.heartbeat("g", &ids[1], generation), ErrorCode::IllegalGeneration);
    assert_eq!(h.heartbeat("g", &ids[1], generation + 1), ErrorCode::None);
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    h.advance(1_000);
    let (c, _) = h.join("g", "");
    let (a, out) = h.join("g", &ids[0]);
    assert!(out.is_empty());
    // ids[1] keeps heartbeating (so its session lives) but never rejoins.
    h.advance(u64::from(REBALANCE) - 1);
    assert_eq!(h.heartbeat("g", &ids[1], generation), ErrorCode::RebalanceInProgress);
    assert!(h.tick().is_empty());
    h.advance(1);
    let out = h.tick();
    assert_eq!(answered(&out), BTreeSet::from([a, c]));
    let ja = join_response(&out, a);
    assert_eq!(ja.generation_id, generation + 1);
    assert_eq!(ja.members.len(), 2);
    assert!(ja.members.iter().all(|m| m.member_id != ids[1]));
    assert_eq!(h.heartbeat("g", &ids[1], generation + 1), ErrorCode::UnknownMemberId);
}

#[test]
fn a_member_that_misses_its_session_is_removed_and_the_group_rebalances() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let (leader, follower) = (&ids[0], &ids[1]);
    // The leader heartbeats; the follower dies.
    for _ in 0..3 {
        h.advance(u64::from(SESSION) / 3);
        assert_eq!(h.heartbeat("g", leader, generation), ErrorCode::None);
        h.tick();
    }
    assert_eq!(h.describe("g").state, GroupState::Stable);
    h.advance(u64::from(SESSION) / 3);
    h.tick();
    let d = h.describe("g");
    assert_eq!(d.state, GroupState::PreparingRebalance);
    assert_eq!(d.members.len(), 1);
    assert_eq!(h.heartbeat("g", follower, generation), ErrorCode::UnknownMemberId);
    assert_eq!(h.heartbeat("g", leader, generation), ErrorCode::RebalanceInProgress);
    let (a, out) = h.join("g", leader);
    let j = join_response(&out, a);
    assert_eq!((j.generation_id, j.members.len()), (generation + 1, 1));
}

#[test]
fn the_session_of_the_dead_leader_ends_and_a_follower_leads() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 3);
    for _ in 0..4 {
        h.advance(u64::from(SESSION) / 3);
        assert_eq!(h.heartbeat("g", &ids[1], generation), ErrorCode::None);
        assert_eq!(h.heartbeat("g", &ids[2], generation), ErrorCode::None);
        h.tick();
    }
    assert!(!h.c.group("g").unwrap().has_member(&ids[0]));
    let (b, _) = h.join("g", &ids[1]);
    let (c, out) = h.join("g", &ids[2]);
    let jb = join_response(&out, b);
    assert_eq!(jb.leader_id, ids[1], "the earliest-joined remaining member leads");
    assert_eq!(jb.members.len(), 2);
    assert_eq!(join_response(&out, c).leader_id, ids[1]);
}

#[test]
fn held_requests_keep_a_member_alive() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let (_, _) = h.join("g", "");
    let (a, _) = h.join("g", &ids[0]);
    // ids[0] waits in its join longer than its session: it is not expired.
    h.advance(u64::from(SESSION) * 2);
    assert_eq!(h.heartbeat("g", &ids[1], generation), ErrorCode::RebalanceInProgress);
    let out = h.tick();
    assert!(responses(&out).is_empty(), "{out:?}");
    assert!(h.c.group("g").unwrap().has_member(&ids[0]));
    let (_, out) = h.join("g", &ids[1]);
    assert_eq!(join_response(&out, a).error, ErrorCode::None);
}

#[test]
fn leave_removes_the_member_and_rebalances() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 3);
    h.leave("g", &ids[0]); // the leader leaves
    assert_eq!(h.describe("g").state, GroupState::PreparingRebalance);
    assert_eq!(h.heartbeat("g", &ids[0], generation), ErrorCode::UnknownMemberId);
    let (b, _) = h.join("g", &ids[1]);
    let (_, out) = h.join("g", &ids[2]);
    let jb = join_response(&out, b);
    assert_eq!((jb.generation_id, jb.leader_id.as_str(), jb.members.len()), (generation + 1, ids[1].as_str(), 2));
    // Leaving with an unknown id is an error and changes nothing.
    let req = h.req();
    let out =
        h.handle(Event::Leave { req, request: LeaveGroupRequest { group_id: "g".into(), member_id: "x".into() } });
    let [Command::Respond { response: Response::LeaveGroup(l), .. }] = &out[..] else { panic!() };
    assert_eq!(l.error, ErrorCode::UnknownMemberId);
}

#[test]
fn a_member_leaving_while_others_rejoin_completes_the_join() {
    let mut h = H::new();
    let (ids, _) = h.stable_group("g", 2);
    let (a, out) = h.join("g", &ids[0]); // the leader rejoins: rebalance
    assert!(out.is_empty());
    let out = h.leave("g", &ids[1]);
    let j = join_response(&out, a);
    assert_eq!(j.members.len(), 1);
}

#[test]
fn the_last_member_leaving_empties_the_group() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 1);
    let out = h.leave("g", &ids[0]);
    let d = h.describe("g");
    assert_eq!(d.state, GroupState::Empty);
    assert_eq!(d.generation_id, generation + 1);
    assert!(d.members.is_empty());
    // The empty generation is persisted (nothing waits on it).
    let [p] = &persists(&out)[..] else { panic!("{out:?}") };
    let v = crate::records::GroupMetadataValue::decode(&p.records[0].value).unwrap();
    assert_eq!((v.generation, v.members.len(), v.protocol_type.as_str()), (generation + 1, 0, "consumer"));
    assert!(h.handle(Event::Persisted { id: p.id, result: Ok(()) }).is_empty());
}

#[test]
fn a_leaving_member_s_held_join_is_answered() {
    let mut h = H::new();
    let (ids, _) = h.stable_group("g", 2);
    let (a, _) = h.join("g", &ids[0]);
    let (b, _) = h.join("g", "");
    let out = h.leave("g", &ids[0]);
    assert_eq!(join_response(&out, a).error, ErrorCode::UnknownMemberId);
    // The new member now forms the generation with ids[1] once it rejoins.
    let (c, out) = h.join("g", &ids[1]);
    assert_eq!(answered(&out), BTreeSet::from([b, c]));
}

#[test]
fn follower_rejoining_a_stable_group_gets_the_same_generation() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let (b, out) = h.join("g", &ids[1]);
    let jb = join_response(&out, b);
    assert_eq!((jb.generation_id, jb.leader_id.as_str()), (generation, ids[0].as_str()));
    assert!(jb.members.is_empty());
    assert_eq!(h.describe("g").state, GroupState::Stable);
    // With new protocols it is a rebalance.
    let (_, out) = h.join_with("g", &ids[1], &["roundrobin"]);
    assert!(out.is_empty());
    assert_eq!(h.describe("g").state, GroupState::PreparingRebalance);
}

#[test]
fn a_superseded_join_is_answered() {
    let mut h = H::new();
    let (ids, _) = h.stable_group("g", 2);
    let (first, _) = h.join("g", &ids[0]);
    let (second, out) = h.join("g", &ids[0]);
    assert_eq!(join_response(&out, first).error, ErrorCode::RebalanceInProgress);
    let (_, out) = h.join("g", &ids[1]);
    assert_eq!(join_response(&out, second).error, ErrorCode::None);
}
