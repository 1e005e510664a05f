//! Tests of the group coordinator: events in, commands out. Shared harness
//! here; one file per concern.

mod admin;
mod errors;
mod membership;
mod offsets;
mod props;
mod replay;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;
use corelog_protocol::*;

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
