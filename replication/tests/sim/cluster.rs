//! The simulated cluster: nodes, the event queue, the network and the fault
//! schedule. One step = one event; the invariants are checked after each.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use corelog_replication::metadata::cluster::{ClusterError, Command, ElectionKind, PartitionAssignment};
use corelog_replication::replica::{
    AlterPartitionAnswer, AlterPartitionError, FetchRequest, FetchResponse, FollowerState, LeaderState, ProduceId,
    ReplicaConfig, ReplicaId,
};

use super::checker::Checker;
use super::controller::{register, Controller, PARTITION, TOPIC};
use super::log::{Log, Record};
use super::rng::Rng;

pub const REPLICAS: [ReplicaId; 3] = [1, 2, 3];

/// How a run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Faults (crashes, lost sessions, a lossy network) until this time.
    pub fault_ms: u64,
    /// Then no faults; producing stops `quiet_ms` before the end.
    pub heal_ms: u64,
    pub quiet_ms: u64,
    pub min_insync_replicas: u32,
    pub drop_per_mille: u64,
    pub duplicate_per_mille: u64,
}

/// What a run did, to show the faults and paths were really exercised.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub steps: u64,
    pub produced: u64,
    pub acked: u64,
    pub acked_after_heal: u64,
    pub refused: u64,
    pub failed: u64,
    pub crashes: u64,
    pub lost_sessions: u64,
    pub leadership_moves: u64,
    pub elections: u64,
    pub truncated_records: u64,
    pub isr_shrinks: u64,
    pub isr_expands: u64,
    pub alter_rejections: u64,
    /// AlterPartition requests the metadata's own rules refused.
    pub controller_refusals: u64,
    /// Restarts whose registration fenced the old incarnation before its
    /// session expired.
    pub fast_restarts: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.steps += o.steps;
        self.produced += o.produced;
        self.acked += o.acked;
        self.acked_after_heal += o.acked_after_heal;
        self.refused += o.refused;
        self.failed += o.failed;
        self.crashes += o.crashes;
        self.lost_sessions += o.lost_sessions;
        self.leadership_moves += o.leadership_moves;
        self.elections += o.elections;
        self.truncated_records += o.truncated_records;
        self.isr_shrinks += o.isr_shrinks;
        self.isr_expands += o.isr_expands;
        self.alter_rejections += o.alter_rejections;
        self.controller_refusals += o.controller_refusals;
        self.fast_restarts += o.fast_restarts;
    }
}

pub enum Role {
    None,
    Leader(LeaderState),
    Follower(FollowerState),
}

pub struct Node {
    pub id: ReplicaId,
    pub alive: bool,
    /// Bumped by every restart: messages sent to an earlier incarnation
    /// died with its connections.
    pub incarnation: u64,
    pub log: Log,
    /// The high watermark checkpoint.
    pub hw_checkpoint: u64,
    /// The newest leader epoch this incarnation has seen in metadata.
    pub seen_epoch: Option<u32>,
    /// The epoch of this incarnation's registration with the controller.
    pub broker_epoch: u64,
    pub role: Role,
    /// Lost its controller session while running: cut off from the
    /// controller (no metadata, no AlterPartition) but not from its peers.
    pub session_lost: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Node(ReplicaId),
    Controller,
}

#[derive(Debug, Clone)]
pub enum Msg {
    FetchRequest { fetch_id: u64, request: FetchRequest },
    FetchResponse { fetch_id: u64, response: FetchResponse, records: Vec<Record> },
    AlterPartition { from: ReplicaId, leader_epoch: u32, partition_epoch: u32, new_isr: Vec<ReplicaId> },
    AlterPartitionAnswer(AlterPartitionAnswer),
    Metadata(PartitionAssignment),
}

#[derive(Debug, Clone)]
pub enum Event {
    Deliver {
        to: Dest,
        incarnation: u64,
        msg: Msg,
    },
    Fsync {
        node: ReplicaId,
        incarnation: u64,
        generation: u64,
        end: u64,
    },
    Tick {
        node: ReplicaId,
    },
    Produce,
    CancelProduce {
        id: ProduceId,
    },
    Fault,
    /// A crash aimed at a bad moment (right after an acknowledgement).
    Crash {
        node: ReplicaId,
        incarnation: u64,
    },
    /// The crashed broker's session expires: the controller fences the
    /// registration it had (stale if it has registered again since).
    FenceCrashed {
        node: ReplicaId,
        broker_epoch: u64,
    },
    Restart {
        node: ReplicaId,
    },
    Unfence {
        node: ReplicaId,
        incarnation: u64,
    },
    MetadataPush,
}

struct Scheduled {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Earliest first out of the max-heap.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// An acks=all produce in flight.
pub struct PendingProduce {
    /// (offset, payload) of each record.
    pub records: Vec<(u64, u64)>,
}

pub struct Sim {
    pub seed: u64,
    pub params: Params,
    pub config: ReplicaConfig,
    pub rng: Rng,
    pub now: u64,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    pub nodes: Vec<Node>,
    pub controller: Controller,
    /// The controller's assignment after the previous step, to check that
    /// its epochs only move forward.
    pub(super) last_assignment: PartitionAssignment,
    pub checker: Checker,
    pub stats: Stats,
    pub faults_on: bool,
    pub pending: HashMap<ProduceId, PendingProduce>,
    pub next_payload: u64,
    pub next_produce_id: ProduceId,
    /// The last lines of what happened, when tracing (SEED=… runs).
    trace: Option<VecDeque<String>>,
}

/// Runs one seed; panics with the seed and the broken invariant.
pub fn run_seed(seed: u64, params: Params, trace: bool) -> Stats {
    let mut sim = Sim::new(seed, params, trace);
    let end = params.fault_ms + params.heal_ms;
    while let Some(next) = sim.queue.pop() {
        if next.at > end {
            break;
        }
        sim.now = next.at;
        if sim.faults_on && sim.now >= params.fault_ms {
            sim.faults_on = false;
            sim.note(|_| "faults stop".to_string());
        }
        sim.step(next.event);
        sim.stats.steps += 1;
        sim.check_invariants();
    }
    sim.check_converged();
    sim.stats
}

impl Sim {
    fn new(seed: u64, params: Params, trace: bool) -> Self {
        let config = ReplicaConfig {
            replica_lag_time_max_ms: 300,
            fetch_backoff_ms: 50,
            fetch_timeout_ms: 100,
            alter_partition_retry_ms: 200,
        };
        let controller = Controller::new(&REPLICAS, params.min_insync_replicas);
        let nodes = REPLICAS
            .iter()
            .map(|&id| Node {
                id,
                alive: true,
                incarnation: 0,
                log: Log::default(),
                hw_checkpoint: 0,
                seen_epoch: None,
                broker_epoch: controller.broker_epoch(id),
                role: Role::None,
                session_lost: false,
            })
            .collect();
        let last_assignment = controller.partition().clone();
        let mut sim = Self {
            seed,
            params,
            config,
            rng: Rng::new(seed),
            now: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            nodes,
            controller,
            last_assignment,
            checker: Checker::default(),
            stats: Stats::default(),
            faults_on: true,
            pending: HashMap::new(),
            next_payload: 1,
            next_produce_id: 1,
            trace: trace.then(VecDeque::new),
        };
        for &id in &REPLICAS {
            let jitter = sim.rng.range(0, 9);
            sim.schedule(jitter, Event::Tick { node: id });
        }
        sim.schedule(0, Event::MetadataPush);
        sim.schedule(5, Event::Produce);
        let first_fault = sim.rng.range(100, 400);
        sim.schedule(first_fault, Event::Fault);
        sim
    }

    pub fn schedule(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled { at: self.now + delay, seq: self.seq, event });
    }

    pub fn node(&mut self, id: ReplicaId) -> &mut Node {
        &mut self.nodes[(id - 1) as usize]
    }

    /// Adds a trace line (built only when tracing).
    pub fn note(&mut self, line: impl FnOnce(&Sim) -> String) {
        if self.trace.is_none() {
            return;
        }
        let line = format!("{:>6} {}", self.now, line(self));
        let trace = self.trace.as_mut().expect("tracing");
        if trace.len() == 20_000 {
            trace.pop_front();
        }
        trace.push_back(line);
    }

    /// An invariant broke: stop the run, naming the seed.
    pub fn fail(&self, what: String) -> ! {
        if let Some(trace) = &self.trace {
            for line in trace {
                eprintln!("{line}");
            }
        }
        panic!("SEED={} at {} ms: {what}", self.seed, self.now);
    }

    /// Sends over the network: maybe lost, 1..10 ms late (so reordered),
    /// maybe twice (but not on the controller channel). A node cut off from the controller neither sends to it
    /// nor hears from it.
    pub fn send(&mut self, from: Dest, to: Dest, msg: Msg) {
        let cut_off = |sim: &mut Sim, d: Dest| matches!(d, Dest::Node(n) if sim.node(n).session_lost);
        if (from == Dest::Controller || to == Dest::Controller) && (cut_off(self, from) || cut_off(self, to)) {
            return;
        }
        let incarnation = match to {
            Dest::Node(n) => self.node(n).incarnation,
            Dest::Controller => 0,
        };
        let lossy = self.faults_on;
        if lossy && self.rng.chance(self.params.drop_per_mille) {
            return;
        }
        // The controller channel is Kafka's: each copy at most once (an
        // answer cannot say which copy it answers). Fetches and metadata
        // may come twice.
        let controller_channel = matches!(msg, Msg::AlterPartition { .. } | Msg::AlterPartitionAnswer(_));
        let duplicate = lossy && !controller_channel && self.rng.chance(self.params.duplicate_per_mille);
        let copies = if duplicate { 2 } else { 1 };
        for _ in 0..copies {
            let mut delay = self.rng.range(1, 10);
            // A leader parks a fetch that finds nothing new (long poll).
            if let Msg::FetchResponse { records, .. } = &msg {
                if records.is_empty() {
                    delay += self.rng.range(0, 30);
                }
            }
            self.schedule(delay, Event::Deliver { to, incarnation, msg: msg.clone() });
        }
    }

    /// The partition's current assignment to every running replica: the
    /// metadata catch-up that eventually delivers what the network lost.
    pub fn push_metadata(&mut self) {
        let assignment = self.controller.partition().clone();
        self.deliver_assignment(&assignment);
    }

    fn deliver_assignment(&mut self, assignment: &PartitionAssignment) {
        for &id in &assignment.replicas {
            if self.node(id).alive {
                self.send(Dest::Controller, Dest::Node(id), Msg::Metadata(assignment.clone()));
            }
        }
    }

    /// Applies a command to the controller's metadata and sends each
    /// partition change to the replicas. `Err` is the controller's refusal
    /// (the state is unchanged).
    fn apply(&mut self, command: Command) -> Result<(), ClusterError> {
        let text = self.trace.is_some().then(|| format!("{command:?}"));
        let result = self.controller.apply(command);
        self.note(|_| format!("controller applies {}: {result:?}", text.unwrap_or_default()));
        let changes = result?;
        self.delivered_changes(&changes);
        Ok(())
    }

    fn delivered_changes(&mut self, changes: &[PartitionAssignment]) {
        for assignment in changes {
            if assignment.leader_epoch > self.last_assignment.leader_epoch {
                self.stats.elections += 1;
            }
            self.deliver_assignment(assignment);
        }
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Deliver { to: Dest::Controller, msg, .. } => self.controller_receives(msg),
            Event::Deliver { to: Dest::Node(id), incarnation, msg } => {
                let node = self.node(id);
                if node.alive && node.incarnation == incarnation {
                    self.node_receives(id, msg);
                }
            }
            Event::Fsync { node, incarnation, generation, end } => self.fsync_done(node, incarnation, generation, end),
            Event::Tick { node } => {
                self.tick(node);
                self.schedule(10, Event::Tick { node });
            }
            Event::Produce => {
                if self.now + self.params.quiet_ms < self.params.fault_ms + self.params.heal_ms {
                    self.produce();
                }
                let next = self.rng.range(2, 8);
                self.schedule(next, Event::Produce);
            }
            Event::CancelProduce { id } => self.cancel_produce(id),
            Event::Fault => {
                if self.faults_on {
                    self.inject_fault();
                    let next = self.rng.range(100, 400);
                    self.schedule(next, Event::Fault);
                }
            }
            Event::Crash { node, incarnation } => {
                let faults_on = self.faults_on;
                let n = self.node(node);
                if faults_on && n.alive && n.incarnation == incarnation {
                    self.crash(node);
                }
            }
            Event::FenceCrashed { node, broker_epoch } => {
                let fenced = self.apply(Command::FenceBroker { node_id: node, broker_epoch });
                // Refused only as stale: the broker restarted and registered
                // again before its old session expired.
                if let Err(e) = fenced {
                    if !matches!(e, ClusterError::StaleBrokerEpoch { .. })
                        || self.node(node).broker_epoch == broker_epoch
                    {
                        self.fail(format!("fencing crashed broker {node} at epoch {broker_epoch} refused: {e}"));
                    }
                    self.stats.fast_restarts += 1;
                }
            }
            Event::Restart { node } => self.restart(node),
            Event::Unfence { node, incarnation } => {
                let n = self.node(node);
                if n.alive && n.incarnation == incarnation {
                    n.session_lost = false;
                    let broker_epoch = n.broker_epoch;
                    if let Err(e) = self.apply(Command::UnfenceBroker { node_id: node, broker_epoch }) {
                        self.fail(format!("unfencing broker {node} at its epoch {broker_epoch} refused: {e}"));
                    }
                }
            }
            Event::MetadataPush => {
                self.push_metadata();
                self.schedule(50, Event::MetadataPush);
            }
        }
    }

    fn controller_receives(&mut self, msg: Msg) {
        let Msg::AlterPartition { from, leader_epoch, partition_epoch, new_isr } = msg else {
            unreachable!("only AlterPartition goes to the controller")
        };
        // Sometimes the controller declines without trying (Kafka's
        // OPERATION_NOT_ATTEMPTED, e.g. while it moves to another node).
        let answer = if self.faults_on && self.rng.chance(50) {
            AlterPartitionAnswer::Rejected {
                leader_epoch,
                partition_epoch,
                error: AlterPartitionError::OperationNotAttempted,
            }
        } else {
            let before = self.controller.partition().isr.len();
            let (answer, changes) = self.controller.alter_partition(from, leader_epoch, partition_epoch, &new_isr);
            match &answer {
                AlterPartitionAnswer::Accepted { isr, .. } if isr.len() < before => self.stats.isr_shrinks += 1,
                AlterPartitionAnswer::Accepted { isr, .. } if isr.len() > before => self.stats.isr_expands += 1,
                AlterPartitionAnswer::Accepted { .. } => {}
                AlterPartitionAnswer::Rejected { .. } => self.stats.controller_refusals += 1,
            }
            self.delivered_changes(&changes);
            answer
        };
        self.note(|_s| {
            format!("controller: AlterPartition from {from} {new_isr:?}@{leader_epoch}/{partition_epoch} -> {answer:?}")
        });
        if matches!(answer, AlterPartitionAnswer::Rejected { .. }) {
            self.stats.alter_rejections += 1;
        }
        self.send(Dest::Controller, Dest::Node(from), Msg::AlterPartitionAnswer(answer));
    }

    fn inject_fault(&mut self) {
        let alive: Vec<ReplicaId> =
            REPLICAS.iter().copied().filter(|&id| self.nodes[(id - 1) as usize].alive).collect();
        if alive.is_empty() {
            return;
        }
        let victim = self.rng.pick(&alive);
        let kind = self.rng.range(0, 9);
        if kind < 2 {
            // A preferred-leader election: leadership moves back to the
            // first replica when it is in sync, the old leader staying in
            // the ISR; the controller leaves the partition alone otherwise.
            let before = self.controller.partition().leader;
            let command = Command::ElectLeaders {
                partitions: Some(vec![(TOPIC.to_string(), PARTITION)]),
                kind: ElectionKind::Preferred,
            };
            if let Err(e) = self.apply(command) {
                self.fail(format!("a preferred election of the one partition was refused: {e}"));
            }
            if self.controller.partition().leader != before {
                self.stats.leadership_moves += 1;
            }
        } else if kind < 7 {
            self.crash(victim);
        } else if !self.node(victim).session_lost {
            self.stats.lost_sessions += 1;
            let node = self.node(victim);
            node.session_lost = true;
            let (incarnation, broker_epoch) = (node.incarnation, node.broker_epoch);
            self.note(|_| format!("{victim} loses its controller session"));
            if let Err(e) = self.apply(Command::FenceBroker { node_id: victim, broker_epoch }) {
                self.fail(format!("fencing broker {victim} at its epoch {broker_epoch} refused: {e}"));
            }
            let later = self.rng.range(100, 500);
            self.schedule(later, Event::Unfence { node: victim, incarnation });
        }
    }

    pub fn crash(&mut self, id: ReplicaId) {
        self.stats.crashes += 1;
        let node = self.node(id);
        node.alive = false;
        node.session_lost = false;
        node.role = Role::None;
        node.log.crash();
        node.hw_checkpoint = node.hw_checkpoint.min(node.log.end());
        let (end, broker_epoch) = (node.log.end(), node.broker_epoch);
        self.note(|_s| format!("{id} crashes, log keeps {end}"));
        let expiry = self.rng.range(20, 100);
        self.schedule(expiry, Event::FenceCrashed { node: id, broker_epoch });
        // Mostly back after its session expired; sometimes so fast that its
        // new registration is what fences the old incarnation.
        let restart =
            if self.rng.chance(200) { self.rng.range(5, expiry - 1) } else { expiry + self.rng.range(50, 400) };
        self.schedule(restart, Event::Restart { node: id });
    }

    fn restart(&mut self, id: ReplicaId) {
        let node = self.node(id);
        node.alive = true;
        node.incarnation += 1;
        node.seen_epoch = None;
        node.role = Role::None;
        let incarnation = node.incarnation;
        self.note(|_s| format!("{id} restarts"));
        // Registering before anything else: the new incarnation starts
        // fenced, so it leads nothing it may have lost data of.
        if let Err(e) = self.apply(register(id, incarnation)) {
            self.fail(format!("registering restarted broker {id} refused: {e}"));
        }
        let broker_epoch = self.controller.broker_epoch(id);
        self.node(id).broker_epoch = broker_epoch;
        let later = self.rng.range(10, 50);
        self.schedule(later, Event::Unfence { node: id, incarnation });
    }
}
