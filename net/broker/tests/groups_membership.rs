//! Consumer-group membership against a real broker, over the raw protocol:
//! find the coordinator, join (held joins complete together), sync
//! (assignments distributed), heartbeats, session expiry and rebalance, and
//! the errors bad input gets.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use corelog_protocol::consumer_protocol::{Assignment, TopicPartitions};
use corelog_protocol::*;
use support::*;

fn assignment_of(partition: u32) -> Vec<u8> {
    Assignment { partitions: vec![TopicPartitions::new("t", [partition])], user_data: vec![] }.encode()
}

#[test]
fn three_members_join_sync_and_heartbeat() {
    // A short initial delay lets the three joins form one generation.
    let broker = TestBroker::start_tuned(1, |c| {
        group_test_config(c);
        c.group_initial_rebalance_delay_ms = 500;
    });
    let any = broker.endpoints()[0];
    let found = find_coordinator(&mut WireClient::connect(any), "g");
    assert_eq!(found.error, ErrorCode::None);
    assert_eq!(found.coordinator.as_ref().map(|e| e.port), Some(any.port()));

    let joiners: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(move || {
                let mut c = coordinator_client(any, "g");
                let joined = join(&mut c, "g", "", 10_000);
                (c, joined, Instant::now())
            })
        })
        .collect();
    let mut members: Vec<(WireClient, JoinGroupResponse, Instant)> =
        joiners.into_iter().map(|j| j.join().unwrap()).collect();
    for (_, joined, _) in &members {
        assert_eq!(joined.error, ErrorCode::None, "{joined:?}");
        assert_eq!((joined.generation_id, joined.protocol_name.as_str()), (1, "range"));
    }
    let first = members.iter().map(|m| m.2).min().unwrap();
    let last = members.iter().map(|m| m.2).max().unwrap();
    assert!(last - first < Duration::from_millis(400), "the held joins are answered together");
    let leader_id = members[0].1.leader_id.clone();
    assert!(members.iter().all(|m| m.1.leader_id == leader_id), "one leader for everyone");
    let leaders: Vec<&JoinGroupResponse> = members.iter().map(|m| &m.1).filter(|j| j.is_leader()).collect();
    assert_eq!(leaders.len(), 1);
    let mut known: Vec<String> = leaders[0].members.iter().map(|m| m.member_id.clone()).collect();
    known.sort();
    let mut ids: Vec<String> = members.iter().map(|m| m.1.member_id.clone()).collect();
    ids.sort();
    assert_eq!(known, ids, "the leader gets every member");
    assert!(members.iter().filter(|m| !m.1.is_leader()).all(|m| m.1.members.is_empty()));

    // Followers' syncs wait for the leader's assignment.
    members.sort_by_key(|m| !m.1.is_leader());
    let mut rest = members.split_off(1);
    let (mut leader_client, leader_join, _) = members.pop().unwrap();
    let followers: Vec<_> = rest
        .drain(..)
        .map(|(mut c, joined, _)| {
            thread::spawn(move || {
                let synced = sync(&mut c, "g", 1, &joined.member_id, vec![]);
                (c, joined, synced)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let assignments: Vec<SyncGroupAssignment> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| SyncGroupAssignment { member_id: id.clone(), assignment: assignment_of(i as u32) })
        .collect();
    let mine = sync(&mut leader_client, "g", 1, &leader_join.member_id, assignments.clone());
    assert_eq!(mine.error, ErrorCode::None);
    let expected = |id: &str| assignments.iter().find(|a| a.member_id == id).unwrap().assignment.clone();
    assert_eq!(mine.assignment, expected(&leader_join.member_id));
    let mut everyone = vec![(leader_client, leader_join)];
    for f in followers {
        let (c, joined, synced) = f.join().unwrap();
        assert_eq!(synced.error, ErrorCode::None);
        assert_eq!(synced.assignment, expected(&joined.member_id), "each member gets its own assignment");
        everyone.push((c, joined));
    }

    for (c, joined) in &mut everyone {
        assert_eq!(heartbeat(c, "g", 1, &joined.member_id).error, ErrorCode::None);
    }
    let c = &mut everyone[0].0;
    let described = describe_groups(c, &["g"]).groups.remove(0);
    assert_eq!((described.error, described.state, described.generation_id), (ErrorCode::None, GroupState::Stable, 1));
    assert_eq!(described.protocol, "range");
    assert_eq!(described.members.len(), 3);
    for m in &described.members {
        assert_eq!(m.host, "127.0.0.1");
        assert_eq!(m.assignment, expected(&m.member_id));
    }
    let listed = list_groups(c);
    assert_eq!(listed.error, ErrorCode::None);
    assert!(listed.groups.iter().any(|g| g.group_id == "g" && g.state == GroupState::Stable));
}

#[test]
fn a_silent_member_is_removed_and_the_others_rebalance() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let any = broker.endpoints()[0];
    let mut a = coordinator_client(any, "g");
    let joined_a = join(&mut a, "g", "", 10_000);
    assert_eq!((joined_a.error, joined_a.generation_id), (ErrorCode::None, 1), "a lone member forms a generation");
    assert!(joined_a.is_leader());
    let id_a = joined_a.member_id.clone();
    assert_eq!(sync(&mut a, "g", 1, &id_a, vec![]).error, ErrorCode::None);

    // B joins with a short session; its join waits until A rejoins.
    let b = thread::spawn(move || {
        let mut b = coordinator_client(any, "g");
        let joined = join(&mut b, "g", "", 600);
        (b, joined)
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let beat = heartbeat(&mut a, "g", 1, &id_a);
        if beat.error == ErrorCode::RebalanceInProgress {
            break;
        }
        assert_eq!(beat.error, ErrorCode::None);
        assert!(Instant::now() < deadline, "A never heard of the rebalance");
        thread::sleep(Duration::from_millis(50));
    }
    let rejoined_a = join(&mut a, "g", &id_a, 10_000);
    let (mut b, joined_b) = b.join().unwrap();
    assert_eq!((rejoined_a.error, joined_b.error), (ErrorCode::None, ErrorCode::None));
    assert_eq!((rejoined_a.generation_id, joined_b.generation_id), (2, 2));
    assert_eq!(rejoined_a.members.len(), 2, "A still leads and sees both");
    let id_b = joined_b.member_id.clone();
    let follower = thread::spawn(move || sync(&mut b, "g", 2, &id_b, vec![]).error);
    assert_eq!(sync(&mut a, "g", 2, &id_a, vec![]).error, ErrorCode::None);
    assert_eq!(follower.join().unwrap(), ErrorCode::None);

    // B goes silent: after its 600 ms session A is told to rejoin, alone.
    let silent_since = Instant::now();
    loop {
        let beat = heartbeat(&mut a, "g", 2, &id_a);
        if beat.error == ErrorCode::RebalanceInProgress {
            break;
        }
        assert_eq!(beat.error, ErrorCode::None);
        assert!(Instant::now() < silent_since + Duration::from_secs(10), "B's session never expired");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(silent_since.elapsed() >= Duration::from_millis(500), "not before the session timeout");
    let alone = join(&mut a, "g", &id_a, 10_000);
    assert_eq!((alone.error, alone.generation_id, alone.members.len()), (ErrorCode::None, 3, 1));
    let mut late = coordinator_client(any, "g");
    assert_eq!(heartbeat(&mut late, "g", 2, &joined_b.member_id).error, ErrorCode::UnknownMemberId);
}

#[test]
fn bad_input_gets_the_matching_error() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let mut c = coordinator_client(broker.endpoints()[0], "g");

    // Heartbeats from members nobody knows, in a group that does not exist and one that does.
    assert_eq!(heartbeat(&mut c, "g", 1, "ghost").error, ErrorCode::UnknownMemberId);
    let joined = join(&mut c, "g", "", 10_000);
    assert_eq!(joined.error, ErrorCode::None);
    assert_eq!(heartbeat(&mut c, "g", joined.generation_id, "ghost").error, ErrorCode::UnknownMemberId);
    assert_eq!(heartbeat(&mut c, "g", joined.generation_id + 1, &joined.member_id).error, ErrorCode::IllegalGeneration);

    // No known assignor; protocols the group's members don't share.
    let r = expect_join(&mut c, join_request("other", "", 10_000, &["magic"]));
    assert_eq!(r.error, ErrorCode::InconsistentGroupProtocol, "{r:?}");
    let r = expect_join(&mut c, join_request("g", "", 10_000, &["roundrobin"]));
    assert_eq!(r.error, ErrorCode::InconsistentGroupProtocol, "{r:?}");

    // Session timeouts outside the broker's bounds.
    let r = expect_join(&mut c, join_request("g", "", 50, &["range"]));
    assert_eq!(r.error, ErrorCode::InvalidRequest, "{r:?}");

    // None of that disturbed the member.
    assert_eq!(heartbeat(&mut c, "g", joined.generation_id, &joined.member_id).error, ErrorCode::None);
    let described = describe_groups(&mut c, &["g"]).groups.remove(0);
    assert_eq!(described.members.len(), 1);
}

fn expect_join(c: &mut WireClient, request: Request) -> JoinGroupResponse {
    match c.call(&request) {
        Response::JoinGroup(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}
