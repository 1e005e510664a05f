//! Tests of the group coordinator: events in, commands out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;
use crate::protocol::*;

const P: u32 = 4;
const SESSION: u32 = 10_000;
const REBALANCE: u32 = 30_000;

fn config() -> CoordinatorConfig {
    CoordinatorConfig {
        offsets_topic_partitions: P,
        initial_rebalance_delay_ms: 0,
        min_session_timeout_ms: 1_000,
        incarnation: 0xab,
        ..Default::default()
    }
}

/// A coordinator with every partition loaded, a clock and request ids.
struct H {
    c: GroupCoordinator,
    now: u64,
    next_req: u64,
}

impl H {
    fn new() -> Self {
        Self::with(config())
    }

    fn with(config: CoordinatorConfig) -> Self {
        let mut c = GroupCoordinator::new(config);
        for p in 0..P {
            assert!(c.handle(0, Event::Loading { partition: p }).is_empty());
            assert!(c.handle(0, Event::Loaded { partition: p }).is_empty());
        }
        H { c, now: 1_000_000, next_req: 0 }
    }

    fn handle(&mut self, event: Event) -> Vec<Command> {
        let out = self.c.handle(self.now, event);
        self.c.check_invariants().unwrap();
        out
    }

    fn req(&mut self) -> RequestId {
        self.next_req += 1;
        RequestId(self.next_req)
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    fn tick(&mut self) -> Vec<Command> {
        self.handle(Event::Tick)
    }

    fn join_with(&mut self, group: &str, member_id: &str, protocols: &[&str]) -> (RequestId, Vec<Command>) {
        let req = self.req();
        let request = JoinGroupRequest {
            group_id: group.into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            member_id: member_id.into(),
            client_id: "client".into(),
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|p| JoinGroupProtocol { name: (*p).into(), metadata: format!("{p}:meta").into_bytes() })
                .collect(),
        };
        let out = self.handle(Event::Join { req, client_host: "10.0.0.1:5000".into(), request });
        (req, out)
    }

    fn join(&mut self, group: &str, member_id: &str) -> (RequestId, Vec<Command>) {
        self.join_with(group, member_id, &["range", "roundrobin"])
    }

    fn sync(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        assignments: &[(&str, &[u8])],
    ) -> (RequestId, Vec<Command>) {
        let req = self.req();
        let request = SyncGroupRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member_id.into(),
            assignments: assignments
                .iter()
                .map(|(m, a)| SyncGroupAssignment { member_id: (*m).into(), assignment: a.to_vec() })
                .collect(),
        };
        let out = self.handle(Event::Sync { req, request });
        (req, out)
    }

    fn heartbeat(&mut self, group: &str, member_id: &str, generation: i32) -> ErrorCode {
        let req = self.req();
        let request =
            HeartbeatRequest { group_id: group.into(), generation_id: generation, member_id: member_id.into() };
        let out = self.handle(Event::Heartbeat { req, request });
        let [Command::Respond { req: r, response: Response::Heartbeat(h) }] = &out[..] else {
            panic!("heartbeat answered with {out:?}")
        };
        assert_eq!(*r, req);
        h.error
    }

    fn leave(&mut self, group: &str, member_id: &str) -> Vec<Command> {
        let req = self.req();
        let out = self.handle(Event::Leave {
            req,
            request: LeaveGroupRequest { group_id: group.into(), member_id: member_id.into() },
        });
        assert!(out
            .iter()
            .any(|c| matches!(c, Command::Respond { req: r, response: Response::LeaveGroup(_) } if *r == req)));
        out
    }

    fn commit(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        offsets: &[(&str, u32, u64)],
    ) -> (RequestId, Vec<Command>) {
        let req = self.req();
        let mut topics: BTreeMap<&str, Vec<OffsetCommitPartition>> = BTreeMap::new();
        for (t, p, o) in offsets {
            topics.entry(t).or_default().push(OffsetCommitPartition {
                partition: *p,
                offset: *o,
                metadata: format!("m{o}"),
            });
        }
        let request = OffsetCommitRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member_id.into(),
            topics: topics
                .into_iter()
                .map(|(name, partitions)| OffsetCommitTopic { name: name.into(), partitions })
                .collect(),
        };
        let out = self.handle(Event::CommitOffsets { req, request });
        (req, out)
    }

    /// Commits and acknowledges the persist; returns the response's error.
    fn commit_now(&mut self, group: &str, member_id: &str, generation: i32, offsets: &[(&str, u32, u64)]) -> ErrorCode {
        let (req, out) = self.commit(group, member_id, generation, offsets);
        let out = self.ack_all(out);
        let r = commit_response(&out, req);
        r.error
    }

    fn fetch(&mut self, group: &str, topics: Option<Vec<(&str, Vec<u32>)>>) -> OffsetFetchResponse {
        let req = self.req();
        let request = OffsetFetchRequest {
            group_id: group.into(),
            topics: topics.map(|ts| {
                ts.into_iter().map(|(name, partitions)| OffsetFetchTopic { name: name.into(), partitions }).collect()
            }),
        };
        let out = self.handle(Event::FetchOffsets { req, request });
        let [Command::Respond { response: Response::OffsetFetch(f), .. }] = &out[..] else { panic!("{out:?}") };
        f.clone()
    }

    fn committed(&mut self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        let f = self.fetch(group, Some(vec![(topic, vec![partition])]));
        assert_eq!(f.error, ErrorCode::None);
        f.topics[0].partitions[0].offset
    }

    fn describe(&mut self, group: &str) -> DescribedGroup {
        let req = self.req();
        let out = self
            .handle(Event::DescribeGroups { req, request: DescribeGroupsRequest { group_ids: vec![group.into()] } });
        let [Command::Respond { response: Response::DescribeGroups(d), .. }] = &out[..] else { panic!("{out:?}") };
        d.groups[0].clone()
    }

    fn delete(&mut self, groups: &[&str]) -> (RequestId, Vec<Command>) {
        let req = self.req();
        let request = DeleteGroupsRequest { group_ids: groups.iter().map(|g| g.to_string()).collect() };
        let out = self.handle(Event::DeleteGroups { req, request });
        (req, out)
    }

    /// Acknowledges every persist in `out` (and in what that produces);
    /// returns every command seen.
    fn ack_all(&mut self, out: Vec<Command>) -> Vec<Command> {
        self.ack_with(out, Ok(()))
    }

    fn ack_with(&mut self, out: Vec<Command>, result: Result<(), ErrorCode>) -> Vec<Command> {
        let mut all = Vec::new();
        let mut queue = out;
        while !queue.is_empty() {
            let mut next = Vec::new();
            for c in queue {
                if let Command::Persist(p) = &c {
                    next.extend(self.handle(Event::Persisted { id: p.id, result }));
                }
                all.push(c);
            }
            queue = next;
        }
        all
    }

    /// A Stable group of `n` members (leader first): members join one by
    /// one, the others rejoining each time; then everyone syncs. Returns the
    /// member ids and the generation.
    fn stable_group(&mut self, group: &str, n: usize) -> (Vec<String>, i32) {
        let mut ids: Vec<String> = Vec::new();
        let mut generation = 0;
        for _ in 0..n {
            let (new, mut out) = self.join(group, "");
            let mut reqs = Vec::new();
            for id in ids.clone() {
                let (req, more) = self.join(group, &id);
                reqs.push(req);
                out.extend(more);
            }
            reqs.push(new);
            let joined: Vec<JoinGroupResponse> = reqs.iter().map(|r| join_response(&out, *r)).collect();
            assert!(joined.iter().all(|j| j.error.is_ok() && j.generation_id == joined[0].generation_id));
            ids = joined.iter().map(|j| j.member_id.clone()).collect();
            generation = joined[0].generation_id;
            assert_eq!(joined[0].leader_id, ids[0], "the first member leads");
        }
        let assignments: Vec<(String, Vec<u8>)> =
            ids.iter().map(|id| (id.clone(), format!("a:{id}").into_bytes())).collect();
        let borrowed: Vec<(&str, &[u8])> = assignments.iter().map(|(m, a)| (m.as_str(), a.as_slice())).collect();
        for id in ids.iter().skip(1) {
            let (_, out) = self.sync(group, id, generation, &[]);
            assert!(out.is_empty(), "followers wait for the leader");
        }
        let (_, out) = self.sync(group, &ids[0], generation, &borrowed);
        let out = self.ack_all(out);
        assert_eq!(sync_responses(&out).len(), n);
        assert_eq!(self.describe(group).state, GroupState::Stable);
        (ids, generation)
    }
}

fn responses(out: &[Command]) -> Vec<(RequestId, &Response)> {
    out.iter()
        .filter_map(|c| match c {
            Command::Respond { req, response } => Some((*req, response)),
            _ => None,
        })
        .collect()
}

fn persists(out: &[Command]) -> Vec<&Persist> {
    out.iter()
        .filter_map(|c| match c {
            Command::Persist(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn join_response(out: &[Command], req: RequestId) -> JoinGroupResponse {
    for (r, response) in responses(out) {
        if let (true, Response::JoinGroup(j)) = (r == req, response) {
            return j.clone();
        }
    }
    panic!("no join response for {req:?} in {out:?}")
}

fn sync_responses(out: &[Command]) -> Vec<(RequestId, SyncGroupResponse)> {
    responses(out)
        .into_iter()
        .filter_map(|(r, response)| match response {
            Response::SyncGroup(s) => Some((r, s.clone())),
            _ => None,
        })
        .collect()
}

fn commit_response(out: &[Command], req: RequestId) -> OffsetCommitResponse {
    for (r, response) in responses(out) {
        if let (true, Response::OffsetCommit(c)) = (r == req, response) {
            return c.clone();
        }
    }
    panic!("no commit response for {req:?} in {out:?}")
}

fn answered(out: &[Command]) -> BTreeSet<RequestId> {
    responses(out).into_iter().map(|(r, _)| r).collect()
}

// ---- membership ------------------------------------------------------------

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
    let value = super::records::GroupMetadataValue::decode(&p.records[0].value).unwrap();
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
    let v = super::records::GroupMetadataValue::decode(&p.records[0].value).unwrap();
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

// ---- errors -----------------------------------------------------------------

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

// ---- offsets ------------------------------------------------------------------

#[test]
fn commits_are_answered_once_durable_and_fetched() {
    let mut h = H::new();
    let (ids, generation) = h.stable_group("g", 2);
    let (req, out) = h.commit("g", &ids[1], generation, &[("orders", 0, 10), ("orders", 1, 20), ("pay", 3, 5)]);
    let [Command::Persist(p)] = &out[..] else { panic!("{out:?}") };
    assert_eq!(p.partition, coordinator_partition("g", P));
    let keys: Vec<RecordKey> = p.records.iter().map(|r| RecordKey::decode(&r.key).unwrap()).collect();
    assert_eq!(keys[2], RecordKey::OffsetCommit { group: "g".into(), topic: "pay".into(), partition: 3 });
    let v = super::records::OffsetCommitValue::decode(&p.records[0].value).unwrap();
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

// ---- admin ----------------------------------------------------------------------

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

// ---- loading, replay ---------------------------------------------------------------

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

// ---- property test ---------------------------------------------------------------

/// One step of a random scenario.
#[derive(Debug, Clone)]
enum Op {
    /// Client `slot` joins (with its member id if it has one, or fresh).
    Join {
        slot: usize,
        group: usize,
        protocols: usize,
        fresh: bool,
    },
    /// Client `slot` syncs its generation (as leader with assignments if it leads).
    Sync {
        slot: usize,
        generation_skew: i32,
    },
    Heartbeat {
        slot: usize,
        generation_skew: i32,
    },
    Leave {
        slot: usize,
    },
    Commit {
        slot: usize,
        standalone: bool,
        generation_skew: i32,
    },
    Fetch {
        group: usize,
    },
    Describe,
    List,
    Delete {
        group: usize,
    },
    Advance {
        ms: u64,
    },
    Tick,
    /// Completes the oldest outstanding persist.
    Ack {
        ok: bool,
    },
    Reload {
        group: usize,
    },
    /// Client `slot` does what a well-behaved consumer does next (join,
    /// sync, heartbeat, rejoin after an error), unless it is waiting.
    Step {
        slot: usize,
    },
}

const GROUPS: [&str; 2] = ["alpha", "beta"];
/// Mostly compatible protocol lists; index 3 shares nothing with the
/// others, index 4 names no known assignor.
const PROTOCOLS: [&[&str]; 5] = [&["range"], &["roundrobin", "range"], &["range", "sticky"], &["sticky"], &["bogus"]];

fn op() -> impl Strategy<Value = Op> {
    let slot = 0usize..4;
    let skew = prop_oneof![8 => Just(0), 1 => -2i32..3];
    prop_oneof![
        3 => (slot.clone(), 0usize..2, prop_oneof![9 => 0usize..3, 1 => 3usize..5], prop::bool::weighted(0.2))
            .prop_map(|(slot, group, protocols, fresh)| Op::Join { slot, group, protocols, fresh }),
        2 => (slot.clone(), skew.clone()).prop_map(|(slot, generation_skew)| Op::Sync { slot, generation_skew }),
        2 => (slot.clone(), skew.clone()).prop_map(|(slot, generation_skew)| Op::Heartbeat { slot, generation_skew }),
        1 => slot.clone().prop_map(|slot| Op::Leave { slot }),
        3 => (slot.clone(), any::<bool>(), skew).prop_map(|(slot, standalone, generation_skew)| Op::Commit { slot, standalone, generation_skew }),
        1 => (0usize..2).prop_map(|group| Op::Fetch { group }),
        1 => Just(Op::Describe),
        1 => Just(Op::List),
        1 => (0usize..2).prop_map(|group| Op::Delete { group }),
        4 => prop_oneof![6 => 1u64..3_000, 1 => 3_000u64..40_000].prop_map(|ms| Op::Advance { ms }),
        3 => Just(Op::Tick),
        6 => prop::bool::weighted(0.9).prop_map(|ok| Op::Ack { ok }),
        1 => (0usize..2).prop_map(|group| Op::Reload { group }),
        20 => slot.prop_map(|slot| Op::Step { slot }),
    ]
}

/// What a well-behaved client does next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Next {
    #[default]
    Join,
    Sync,
    Heartbeat,
    /// A join or sync is in flight.
    Wait,
}

/// A simulated client.
#[derive(Debug, Clone, Default)]
struct Client {
    group: usize,
    member_id: String,
    generation: i32,
    next: Next,
}

/// Runs ops, checking after every step: every Respond answers an
/// outstanding request exactly once; every Persisted refers to an
/// outstanding persist; one leader per (group, generation), and it alone
/// gets the members; generations only grow; the coordinator's invariants.
struct Sim {
    c: GroupCoordinator,
    now: u64,
    next_req: u64,
    /// Requests not answered yet: the sending slot, the api, the group index.
    outstanding: HashMap<RequestId, (usize, &'static str, usize)>,
    persists: Vec<PersistId>,
    clients: Vec<Client>,
    leaders: HashMap<(String, i32), String>,
    generations: HashMap<String, i32>,
    log: Vec<(u32, OffsetsRecord)>,
}

impl Sim {
    fn new() -> Self {
        let mut c = GroupCoordinator::new(CoordinatorConfig { initial_rebalance_delay_ms: 500, ..config() });
        for p in 0..P {
            c.handle(0, Event::Loading { partition: p });
            c.handle(0, Event::Loaded { partition: p });
        }
        Sim {
            c,
            now: 1_000,
            next_req: 0,
            outstanding: HashMap::new(),
            persists: Vec::new(),
            clients: vec![Client::default(); 4],
            leaders: HashMap::new(),
            generations: HashMap::new(),
            log: Vec::new(),
        }
    }

    fn send(&mut self, slot: usize, kind: &'static str, event: impl FnOnce(RequestId) -> Event) {
        self.next_req += 1;
        let req = RequestId(self.next_req);
        self.outstanding.insert(req, (slot, kind, self.clients[slot].group));
        let out = self.c.handle(self.now, event(req));
        self.absorb(out);
    }

    fn handle(&mut self, event: Event) {
        let out = self.c.handle(self.now, event);
        self.absorb(out);
    }

    fn absorb(&mut self, out: Vec<Command>) {
        self.c.check_invariants().unwrap();
        for command in out {
            match command {
                Command::Persist(p) => {
                    assert!(!self.persists.contains(&p.id), "persist id reused");
                    self.persists.push(p.id);
                    self.log.extend(p.records.into_iter().map(|r| (p.partition, r)));
                }
                Command::Respond { req, response } => {
                    let (slot, kind, group) = self
                        .outstanding
                        .remove(&req)
                        .unwrap_or_else(|| panic!("{req:?} answered twice or never asked"));
                    assert!(response.api_key_raw() == api_of(kind).code(), "{kind} answered with {response:?}");
                    self.observe(slot, group, response);
                }
            }
        }
    }

    fn observe(&mut self, slot: usize, group: usize, response: Response) {
        let client = &mut self.clients[slot];
        if client.group == group {
            let error = response.error();
            if error == ErrorCode::UnknownMemberId {
                client.member_id.clear();
            }
            client.next = match (&response, error) {
                (Response::JoinGroup(_), ErrorCode::None) => Next::Sync,
                (Response::SyncGroup(_) | Response::Heartbeat(_), ErrorCode::None) => Next::Heartbeat,
                (Response::JoinGroup(_) | Response::SyncGroup(_) | Response::Heartbeat(_), _) => Next::Join,
                _ => client.next,
            };
        }
        let Response::JoinGroup(j) = response else { return };
        // The client takes the answer only if it is still in that group.
        let client = &mut self.clients[slot];
        if client.group == group {
            if j.error == ErrorCode::UnknownMemberId {
                client.member_id.clear();
            } else if !j.member_id.is_empty() {
                client.member_id.clone_from(&j.member_id);
            }
            if j.error.is_ok() {
                client.generation = j.generation_id;
            }
        }
        if j.error != ErrorCode::None {
            return;
        }
        let group = GROUPS[group].to_owned();
        let leader = self.leaders.entry((group.clone(), j.generation_id)).or_insert_with(|| j.leader_id.clone());
        assert_eq!(*leader, j.leader_id, "two leaders in one generation");
        if j.member_id == j.leader_id {
            assert!(j.members.iter().any(|m| m.member_id == j.member_id), "the leader is a member");
        } else {
            assert!(j.members.is_empty(), "only the leader gets the members");
        }
        let last = self.generations.entry(group).or_insert(0);
        assert!(j.generation_id >= *last, "generation went back");
        *last = j.generation_id;
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Join { slot, group, protocols, fresh } => {
                if fresh || self.clients[slot].group != group {
                    self.clients[slot] = Client { group, ..Default::default() };
                }
                let client = self.clients[slot].clone();
                let request = JoinGroupRequest {
                    group_id: GROUPS[client.group].into(),
                    session_timeout_ms: SESSION,
                    rebalance_timeout_ms: REBALANCE,
                    member_id: client.member_id,
                    client_id: format!("c{slot}"),
                    protocol_type: "consumer".into(),
                    protocols: PROTOCOLS[protocols]
                        .iter()
                        .map(|p| JoinGroupProtocol { name: (*p).into(), metadata: vec![slot as u8] })
                        .collect(),
                };
                self.send(slot, "join", |req| Event::Join { req, client_host: "h".into(), request });
            }
            Op::Sync { slot, generation_skew } => {
                let client = self.clients[slot].clone();
                let group = GROUPS[client.group];
                let leads = self.c.group(group).is_some_and(|g| g.is_leader(&client.member_id));
                let assignments = if leads {
                    self.c
                        .group(group)
                        .unwrap()
                        .members
                        .keys()
                        .map(|m| SyncGroupAssignment { member_id: m.clone(), assignment: m.as_bytes().to_vec() })
                        .chain(std::iter::once(SyncGroupAssignment {
                            member_id: "made-up".into(),
                            assignment: vec![1],
                        }))
                        .collect()
                } else {
                    Vec::new()
                };
                let request = SyncGroupRequest {
                    group_id: group.into(),
                    generation_id: client.generation + generation_skew,
                    member_id: client.member_id,
                    assignments,
                };
                self.send(slot, "sync", |req| Event::Sync { req, request });
            }
            Op::Heartbeat { slot, generation_skew } => {
                let client = self.clients[slot].clone();
                let request = HeartbeatRequest {
                    group_id: GROUPS[client.group].into(),
                    generation_id: client.generation + generation_skew,
                    member_id: client.member_id,
                };
                self.send(slot, "heartbeat", |req| Event::Heartbeat { req, request });
            }
            Op::Leave { slot } => {
                let client = self.clients[slot].clone();
                let request = LeaveGroupRequest { group_id: GROUPS[client.group].into(), member_id: client.member_id };
                self.send(slot, "leave", |req| Event::Leave { req, request });
                self.clients[slot] = Client { group: self.clients[slot].group, ..Default::default() };
            }
            Op::Commit { slot, standalone, generation_skew } => {
                let client = self.clients[slot].clone();
                let request = OffsetCommitRequest {
                    group_id: GROUPS[client.group].into(),
                    generation_id: if standalone { NO_GENERATION } else { client.generation + generation_skew },
                    member_id: if standalone { String::new() } else { client.member_id },
                    topics: vec![OffsetCommitTopic {
                        name: "t".into(),
                        partitions: vec![OffsetCommitPartition {
                            partition: slot as u32,
                            offset: self.now,
                            metadata: String::new(),
                        }],
                    }],
                };
                self.send(slot, "commit", |req| Event::CommitOffsets { req, request });
            }
            Op::Fetch { group } => {
                let request = OffsetFetchRequest { group_id: GROUPS[group].into(), topics: None };
                self.send(0, "fetch", |req| Event::FetchOffsets { req, request });
            }
            Op::Describe => {
                let request = DescribeGroupsRequest { group_ids: GROUPS.iter().map(|g| g.to_string()).collect() };
                self.send(0, "describe", |req| Event::DescribeGroups { req, request });
            }
            Op::List => self.send(0, "list", |req| Event::ListGroups { req, request: ListGroupsRequest::default() }),
            Op::Delete { group } => {
                // A deleted group starts again from generation 0.
                self.forget(GROUPS[group]);
                let request = DeleteGroupsRequest { group_ids: vec![GROUPS[group].into()] };
                self.send(0, "delete", |req| Event::DeleteGroups { req, request });
            }
            Op::Advance { ms } => self.now += ms,
            Op::Tick => self.handle(Event::Tick),
            Op::Ack { ok } => {
                if !self.persists.is_empty() {
                    let id = self.persists.remove(0);
                    let result = if ok { Ok(()) } else { Err(ErrorCode::StorageError) };
                    self.handle(Event::Persisted { id, result });
                }
            }
            Op::Step { slot } => {
                let next = self.clients[slot].next;
                match next {
                    Next::Join => {
                        let group = self.clients[slot].group;
                        self.clients[slot].next = Next::Wait;
                        self.run(Op::Join { slot, group, protocols: 1, fresh: false });
                    }
                    Next::Sync => {
                        self.clients[slot].next = Next::Wait;
                        self.run(Op::Sync { slot, generation_skew: 0 });
                    }
                    Next::Heartbeat => self.run(Op::Heartbeat { slot, generation_skew: 0 }),
                    Next::Wait => {}
                }
            }
            Op::Reload { group } => {
                // The partition moves away and back: groups come back from the log.
                let partition = self.c.partition_of(GROUPS[group]);
                // Generations not yet persisted may be formed again (with
                // new member ids), as in Kafka after a coordinator move.
                let moved: Vec<&str> = GROUPS.into_iter().filter(|g| self.c.partition_of(g) == partition).collect();
                for g in moved {
                    self.forget(g);
                }
                self.handle(Event::Unloaded { partition });
                self.handle(Event::Loading { partition });
                let records: Vec<OffsetsRecord> =
                    self.log.iter().filter(|(p, _)| *p == partition).map(|(_, r)| r.clone()).collect();
                for r in records {
                    self.c.replay(&r.key, &r.value).unwrap();
                }
                self.handle(Event::Loaded { partition });
                // Groups come back Empty, members rejoin.
                for g in GROUPS.iter().filter(|g| self.c.partition_of(g) == partition) {
                    if let Some(group) = self.c.group(g) {
                        assert!(group.members.is_empty());
                        assert_eq!(group.state, GroupState::Empty);
                    }
                }
            }
        }
    }

    fn forget(&mut self, group: &str) {
        self.leaders.retain(|(g, _), _| g != group);
        self.generations.remove(group);
    }

    /// Finishes every persist and lets time run out: every request must
    /// have been answered.
    fn drain(&mut self) {
        for _ in 0..6 {
            while !self.persists.is_empty() {
                let id = self.persists.remove(0);
                self.handle(Event::Persisted { id, result: Ok(()) });
            }
            self.now += 10 * u64::from(REBALANCE);
            self.handle(Event::Tick);
        }
        assert!(self.outstanding.is_empty(), "never answered: {:?}", self.outstanding);
        assert_eq!(self.c.stats().members, 0, "everyone timed out");
    }
}

fn api_of(kind: &str) -> ApiKey {
    match kind {
        "join" => ApiKey::JoinGroup,
        "sync" => ApiKey::SyncGroup,
        "heartbeat" => ApiKey::Heartbeat,
        "leave" => ApiKey::LeaveGroup,
        "commit" => ApiKey::OffsetCommit,
        "fetch" => ApiKey::OffsetFetch,
        "describe" => ApiKey::DescribeGroups,
        "list" => ApiKey::ListGroups,
        "delete" => ApiKey::DeleteGroups,
        other => panic!("unknown kind {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_scenarios_keep_the_invariants(ops in proptest::collection::vec(op(), 1..120)) {
        let mut sim = Sim::new();
        for op in ops {
            sim.run(op);
        }
        sim.drain();
    }
}

#[test]
fn well_behaved_members_converge_to_one_stable_generation() {
    // Three members that always do the right thing end up Stable together.
    let mut sim = Sim::new();
    for slot in 0..3 {
        sim.run(Op::Join { slot, group: 0, protocols: 1, fresh: true });
    }
    sim.run(Op::Advance { ms: 500 });
    sim.run(Op::Tick);
    for slot in 0..3 {
        sim.run(Op::Sync { slot, generation_skew: 0 });
    }
    sim.run(Op::Ack { ok: true });
    let g = sim.c.group("alpha").unwrap();
    assert_eq!(g.state, GroupState::Stable);
    assert_eq!(g.members.len(), 3);
    assert_eq!(g.generation, 1);
    assert!(g.members.values().all(|m| m.assignment == m.id.as_bytes()));
    assert!(sim.outstanding.is_empty());
}
