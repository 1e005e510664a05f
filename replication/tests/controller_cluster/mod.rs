//! A deterministic in-memory network of controller nodes, each with a real
//! `LogStore` in its own directory, driven by a seeded RNG that drops,
//! delays, reorders and duplicates messages. Shared by the controller_*
//! integration tests.
//!
//! The application on each node is a list of every applied `(index, data)`:
//! its snapshot is that list, so the invariant checks see a node's whole
//! history whether it came from replay, a snapshot or live applies.

#![allow(dead_code)] // each test file uses part of it

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use corelog_replication::controller::eraftpb::{Message, MessageType};
use corelog_replication::controller::{codec, Action, Event, LogStore, QuorumConfig, QuorumNode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// An applied command: (index, data).
pub type Applied = (u64, Vec<u8>);

#[derive(Default)]
pub struct App {
    pub applied: Vec<Applied>,
}

impl App {
    fn apply(&mut self, index: u64, data: Vec<u8>) {
        let last = self.applied.last().map_or(0, |a| a.0);
        assert!(index > last, "apply of {index} after {last}");
        self.applied.push((index, data));
    }

    /// Layout (test only): per command, u64 LE index, u32 LE length, bytes.
    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (index, data) in &self.applied {
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    fn restore(&mut self, mut bytes: &[u8]) {
        self.applied.clear();
        while !bytes.is_empty() {
            let index = u64::from_le_bytes(bytes[..8].try_into().unwrap());
            let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
            self.applied.push((index, bytes[12..12 + len].to_vec()));
            bytes = &bytes[12 + len..];
        }
    }
}

pub struct SimNode {
    pub node: QuorumNode,
    pub store: LogStore,
    pub app: App,
}

struct Flight {
    deliver_at: u64,
    bytes: Vec<u8>,
    to: u64,
    from: u64,
    is_snapshot: bool,
}

#[derive(Clone, Copy)]
pub struct Faults {
    pub drop: f64,
    pub duplicate: f64,
    pub max_delay: u64,
}

pub const NO_FAULTS: Faults = Faults { drop: 0.0, duplicate: 0.0, max_delay: 1 };

pub const SOME_FAULTS: Faults = Faults { drop: 0.1, duplicate: 0.05, max_delay: 4 };

/// Prints the seed if the test panics while it is alive.
pub struct SeedGuard(pub u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("controller simulation failed with seed {}", self.0);
        }
    }
}

/// A directory on tmpfs where there is one: the simulation runs thousands of
/// fdatasyncs, which cost milliseconds each on a disk. The files are real;
/// what the tests check is recovery from them, not the disk's durability.
pub fn fast_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

pub struct Cluster {
    pub rng: StdRng,
    pub faults: Faults,
    /// Nodes cut off from the network (every message to or from them lost).
    pub isolated: BTreeSet<u64>,
    pub voters: Vec<u64>,
    pub nodes: BTreeMap<u64, Option<SimNode>>,
    dirs: BTreeMap<u64, tempfile::TempDir>,
    net: Vec<Flight>,
    pub now: u64,
    snapshot_interval: u64,
    incarnations: u64,
    /// The leader seen in each term: never two.
    leaders: BTreeMap<u64, u64>,
    /// The longest applied history seen on any node at any time.
    pub reference: Vec<Applied>,
    /// (proposer, token) -> what was proposed.
    pub proposed: BTreeMap<(u64, u64), Vec<u8>>,
    /// (proposer, token) -> (index, data) where the proposer applied it.
    pub acked: BTreeMap<(u64, u64), Applied>,
    next_token: u64,
    /// RestoreSnapshot actions while running (not at start), per node.
    pub snapshot_installs: BTreeMap<u64, usize>,
    /// TakeSnapshot answers, per node.
    pub snapshots_taken: BTreeMap<u64, usize>,
    /// (node, entries file bytes before, after) of every compaction.
    pub compactions: Vec<(u64, u64, u64)>,
    /// Messages the nodes sent.
    pub messages_sent: usize,
}

impl Cluster {
    pub fn new(voters: &[u64], seed: u64, snapshot_interval: u64) -> Cluster {
        let mut cluster = Cluster {
            rng: StdRng::seed_from_u64(seed),
            faults: NO_FAULTS,
            isolated: BTreeSet::new(),
            voters: voters.to_vec(),
            nodes: BTreeMap::new(),
            dirs: voters.iter().map(|&id| (id, fast_tempdir())).collect(),
            net: Vec::new(),
            now: 0,
            snapshot_interval,
            incarnations: 0,
            leaders: BTreeMap::new(),
            reference: Vec::new(),
            proposed: BTreeMap::new(),
            acked: BTreeMap::new(),
            next_token: 0,
            snapshot_installs: BTreeMap::new(),
            snapshots_taken: BTreeMap::new(),
            compactions: Vec::new(),
            messages_sent: 0,
        };
        for &id in voters {
            cluster.nodes.insert(id, None);
            cluster.restart(id);
        }
        cluster
    }

    pub fn dir(&self, id: u64) -> PathBuf {
        self.dirs[&id].path().to_path_buf()
    }

    pub fn up(&self) -> Vec<u64> {
        self.nodes.iter().filter(|(_, n)| n.is_some()).map(|(&id, _)| id).collect()
    }

    pub fn sim(&self, id: u64) -> &SimNode {
        self.nodes[&id].as_ref().expect("node is up")
    }

    /// Drops the node: its memory, its open files, its messages in flight.
    pub fn crash(&mut self, id: u64) {
        self.nodes.insert(id, None);
        self.net.retain(|f| f.to != id);
    }

    /// Starts the node from its directory, as a new process.
    pub fn restart(&mut self, id: u64) {
        assert!(self.nodes[&id].is_none(), "node {id} is up");
        self.incarnations += 1;
        let (store, recovered) = LogStore::open(&self.dir(id)).unwrap();
        let mut config = QuorumConfig::new(id, self.voters.clone(), self.incarnations);
        config.snapshot_interval = self.snapshot_interval;
        config.fixed_election_timeout = true;
        let (node, actions) = QuorumNode::start(config, recovered).unwrap();
        self.nodes.insert(id, Some(SimNode { node, store, app: App::default() }));
        self.run(id, actions, true);
    }

    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|(&id, n)| n.as_ref().filter(|n| n.node.is_leader()).map(|n| (n.node.term(), id)))
            .max()
            .map(|(_, id)| id)
    }

    /// Proposes on `id`; returns the token.
    pub fn propose(&mut self, id: u64) -> u64 {
        self.next_token += 1;
        let token = self.next_token;
        let data = format!("cmd-{id}-{token}").into_bytes();
        self.proposed.insert((id, token), data.clone());
        self.handle(id, Event::Propose { data, token });
        token
    }

    pub fn handle(&mut self, id: u64, event: Event) {
        let Some(sim) = self.nodes.get_mut(&id).and_then(|n| n.as_mut()) else {
            return;
        };
        let actions = sim.node.handle(event);
        self.run(id, actions, false);
    }

    /// Carries out a node's actions in order, as the runtime does.
    fn run(&mut self, id: u64, actions: Vec<Action>, starting: bool) {
        let mut queue = VecDeque::from(actions);
        let mut outbox = Vec::new();
        let sim = self.nodes.get_mut(&id).unwrap().as_mut().unwrap();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Persist(write) => sim.store.persist(&write).unwrap(),
                Action::Compact(snapshot) => {
                    let before = sim.store.entries_file_len();
                    sim.store.compact(&snapshot).unwrap();
                    self.compactions.push((id, before, sim.store.entries_file_len()));
                }
                Action::Send(messages) => outbox.extend(messages),
                Action::Apply { index, data, token } => {
                    if let Some(token) = token {
                        assert_eq!(self.proposed.get(&(id, token)), Some(&data), "token {token} on {id}");
                        let first = self.acked.insert((id, token), (index, data.clone()));
                        assert!(first.is_none(), "token {token} applied twice on {id}");
                    }
                    sim.app.apply(index, data);
                }
                Action::RestoreSnapshot { index, data } => {
                    sim.app.restore(&data);
                    assert!(sim.app.applied.last().is_none_or(|a| a.0 <= index));
                    if !starting {
                        *self.snapshot_installs.entry(id).or_default() += 1;
                    }
                }
                Action::TakeSnapshot { index } => {
                    let more = sim.node.snapshot_taken(index, sim.app.snapshot()).unwrap();
                    *self.snapshots_taken.entry(id).or_default() += 1;
                    for a in more.into_iter().rev() {
                        queue.push_front(a);
                    }
                }
                Action::RoleChanged { .. } | Action::Rejected { .. } => {}
            }
        }
        for m in outbox {
            self.send(m);
        }
    }

    fn send(&mut self, m: Message) {
        self.messages_sent += 1;
        let is_snapshot = m.get_msg_type() == MessageType::MsgSnapshot;
        let (to, from) = (m.to, m.from);
        let bytes = codec::encode(&m).unwrap();
        let cut_off = self.isolated.contains(&to) || self.isolated.contains(&from);
        if cut_off || self.rng.gen_bool(self.faults.drop) {
            if is_snapshot {
                self.handle(from, Event::SnapshotReport { peer: to, delivered: false });
            }
            return;
        }
        let copies = if self.rng.gen_bool(self.faults.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let deliver_at = self.now + self.rng.gen_range(1..=self.faults.max_delay);
            self.net.push(Flight { deliver_at, bytes: bytes.clone(), to, from, is_snapshot });
        }
    }

    /// One unit of simulated time: due messages are delivered in random
    /// order, each node ticks with some chance (so their clocks drift), and
    /// sometimes a command is proposed.
    pub fn step(&mut self, propose_chance: f64) {
        self.now += 1;
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.net.len() {
            if self.net[i].deliver_at <= self.now {
                due.push(self.net.swap_remove(i));
            } else {
                i += 1;
            }
        }
        // swap_remove scrambled the order already; shuffle for good measure
        // (deterministically, from the seeded RNG).
        for i in (1..due.len()).rev() {
            let j = self.rng.gen_range(0..=i);
            due.swap(i, j);
        }
        for flight in due {
            if self.nodes[&flight.to].is_none() {
                continue;
            }
            let message = codec::decode(&flight.bytes).unwrap();
            self.handle(flight.to, Event::Message(message));
            if flight.is_snapshot {
                self.handle(flight.from, Event::SnapshotReport { peer: flight.to, delivered: true });
            }
        }
        for id in self.up() {
            if self.rng.gen_bool(0.3) {
                self.handle(id, Event::Tick);
            }
        }
        if self.rng.gen_bool(propose_chance) {
            let up = self.up();
            let target = match self.leader() {
                Some(l) if self.rng.gen_bool(0.8) => l,
                _ => up[self.rng.gen_range(0..up.len())],
            };
            self.propose(target);
        }
        self.check();
    }

    /// Steps until some node leads; panics past `max_steps`.
    pub fn elect(&mut self, max_steps: usize) -> u64 {
        for _ in 0..max_steps {
            if let Some(l) = self.leader() {
                return l;
            }
            self.step(0.0);
        }
        panic!("no leader after {max_steps} steps");
    }

    /// Proposes `count` commands on the leader (steps until there is one)
    /// and steps until each is acknowledged.
    pub fn propose_and_commit(&mut self, count: usize, max_steps: usize) {
        for _ in 0..count {
            let leader = self.elect(max_steps);
            let token = self.propose(leader);
            let mut steps = 0;
            while !self.acked.contains_key(&(leader, token)) {
                // A proposal lost with a leader change is proposed again.
                if self.leader() != Some(leader) {
                    break;
                }
                self.step(0.0);
                steps += 1;
                assert!(steps < max_steps, "proposal {token} not committed in {max_steps} steps");
            }
        }
    }

    pub fn run_steps(&mut self, steps: usize, propose_chance: f64) {
        for _ in 0..steps {
            self.step(propose_chance);
        }
    }

    /// Runs without faults until every node is up to date with the reference
    /// and no acknowledged proposal is missing; panics past `max_steps`.
    pub fn settle(&mut self, max_steps: usize) {
        self.faults = NO_FAULTS;
        self.isolated.clear();
        for _ in 0..max_steps {
            self.step(0.0);
            if self.converged() {
                return;
            }
        }
        let lens: Vec<_> = self.up().iter().map(|&id| (id, self.sim(id).app.applied.len())).collect();
        panic!(
            "not converged after {max_steps} steps: applied {lens:?}, reference {}, leader {:?}",
            self.reference.len(),
            self.leader()
        );
    }

    fn converged(&self) -> bool {
        let leader_applied = match self.leader() {
            Some(l) => self.sim(l).node.applied_index() == self.sim(l).node.commit_index(),
            None => false,
        };
        leader_applied
            && self.up().len() == self.voters.len()
            && self.up().iter().all(|&id| self.sim(id).app.applied == self.reference)
            && self.acked.values().all(|a| self.reference.contains(a))
    }

    /// Terms that had a leader.
    pub fn leader_terms(&self) -> usize {
        self.leaders.len()
    }

    /// The invariants, after every step.
    pub fn check(&mut self) {
        for id in self.up() {
            let node = &self.sim(id).node;
            if node.is_leader() {
                let term = node.term();
                let first = *self.leaders.entry(term).or_insert(id);
                assert_eq!(first, id, "two leaders in term {term}");
            }
        }
        for id in self.up() {
            let applied = &self.sim(id).app.applied;
            let n = applied.len().min(self.reference.len());
            assert_eq!(applied[..n], self.reference[..n], "node {id} diverged from the applied history");
            if applied.len() > self.reference.len() {
                self.reference = applied.clone();
            }
        }
        for (key, applied) in &self.acked {
            if let Some(at) = self.reference.iter().find(|a| a.0 == applied.0) {
                assert_eq!(at, applied, "acknowledged {key:?} replaced in the history");
            }
        }
    }
}
