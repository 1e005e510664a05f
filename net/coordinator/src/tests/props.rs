//! Random event sequences: invariants hold and every request is answered.

use super::*;

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
