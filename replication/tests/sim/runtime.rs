//! The broker around the state machines: what the lead's fetch and produce
//! handlers will do, in memory. It feeds events to `LeaderState` /
//! `FollowerState` and carries out their commands on the node's log and
//! the network.

use corelog_replication::replica::{
    BatchMeta, BecomeFollower, BecomeLeader, FetchError, FetchReply, FetchResponse, FollowerCommand, FollowerEvent,
    FollowerState, LeaderCommand, LeaderEvent, LeaderState, ReplicaId,
};

use super::cluster::{Dest, Event, Msg, PendingProduce, Role, Sim};
use corelog_replication::metadata::cluster::PartitionAssignment;

use super::controller::partition_change;
use super::log::Record;

/// Records per batch and per fetch response.
const MAX_BATCH_RECORDS: u64 = 5;
const MAX_FETCH_RECORDS: u64 = 100;
/// The producer's request timeout.
const PRODUCE_TIMEOUT_MS: u64 = 1_500;

impl Sim {
    pub fn node_receives(&mut self, id: ReplicaId, msg: Msg) {
        match msg {
            Msg::Metadata(state) => self.on_metadata(id, state),
            Msg::FetchRequest { fetch_id, request } => {
                let now = self.now;
                let node = self.node(id);
                let seen = node.seen_epoch;
                if let Role::Leader(leader) = &mut node.role {
                    let commands = leader.handle(now, LeaderEvent::FollowerFetch(request));
                    self.leader_commands(id, commands, Some(fetch_id));
                } else {
                    let error = FetchError::for_non_leader(seen, request.leader_epoch);
                    let msg = Msg::FetchResponse { fetch_id, response: FetchResponse::Error(error), records: vec![] };
                    self.send(Dest::Node(id), Dest::Node(request.replica), msg);
                }
            }
            Msg::FetchResponse { fetch_id, response, records } => {
                let now = self.now;
                self.note(|_| format!("{id} gets {fetch_id:x}: {response:?}"));
                if let Role::Follower(follower) = &mut self.node(id).role {
                    let commands = follower.handle(now, FollowerEvent::FetchResponse { fetch_id, response });
                    self.follower_commands(id, commands, &records);
                }
            }
            Msg::AlterPartitionAnswer(answer) => {
                let now = self.now;
                if let Role::Leader(leader) = &mut self.node(id).role {
                    let commands = leader.handle(now, LeaderEvent::AlterPartitionAnswer(answer));
                    self.leader_commands(id, commands, None);
                }
            }
            Msg::AlterPartition { .. } => unreachable!("AlterPartition goes to the controller"),
        }
    }

    /// New metadata: a newer leader epoch means a new role (the old one
    /// resigns); the same epoch may carry the controller's ISR change.
    fn on_metadata(&mut self, id: ReplicaId, state: PartitionAssignment) {
        let now = self.now;
        let config = self.config;
        let min_isr = self.controller.min_insync_replicas();
        let node = self.node(id);
        if node.seen_epoch.is_some_and(|seen| state.leader_epoch < seen) {
            return;
        }
        if node.seen_epoch == Some(state.leader_epoch) {
            if let Role::Leader(leader) = &mut node.role {
                let commands = leader.handle(now, LeaderEvent::PartitionChanged(partition_change(&state)));
                self.leader_commands(id, commands, None);
            }
            return;
        }
        node.seen_epoch = Some(state.leader_epoch);
        let hw = match &node.role {
            Role::Leader(l) => l.high_watermark(),
            Role::Follower(f) => f.high_watermark(),
            Role::None => node.hw_checkpoint.min(node.log.end()),
        };
        let resigned = match std::mem::replace(&mut node.role, Role::None) {
            Role::Leader(l) => l.resign(),
            _ => vec![],
        };
        self.leader_commands(id, resigned, None);
        let node = self.node(id);
        let log = &node.log;
        match state.leader {
            Some(leader) if leader == id => {
                let become_leader = BecomeLeader {
                    replica: id,
                    leader_epoch: state.leader_epoch,
                    partition_epoch: state.partition_epoch,
                    replicas: state.replicas.clone(),
                    isr: state.isr.clone(),
                    min_insync_replicas: min_isr,
                    log_start_offset: 0,
                    log_end_offset: log.end(),
                    durable_end: log.durable,
                    high_watermark: hw,
                    epoch_history: log.epochs.clone(),
                };
                let (leader, commands) = match LeaderState::become_leader(config, become_leader, now) {
                    Ok(ok) => ok,
                    Err(e) => self.fail(format!("{id} cannot lead epoch {}: {e}", state.leader_epoch)),
                };
                self.node(id).role = Role::Leader(leader);
                let epoch = state.leader_epoch;
                if let Err(e) = self.checker.on_become_leader(id, epoch, &mut self.nodes[(id - 1) as usize].log) {
                    self.fail(e);
                }
                self.note(|_s| format!("{id} leads epoch {epoch} {state:?}"));
                self.leader_commands(id, commands, None);
            }
            Some(leader) => {
                let become_follower = BecomeFollower {
                    replica: id,
                    leader,
                    leader_epoch: state.leader_epoch,
                    log_start_offset: 0,
                    log_end_offset: log.end(),
                    durable_end: log.durable,
                    high_watermark: hw,
                    epoch_history: log.epochs.clone(),
                };
                let (follower, commands) = match FollowerState::become_follower(config, become_follower, now) {
                    Ok(ok) => ok,
                    Err(e) => self.fail(format!("{id} cannot follow in epoch {}: {e}", state.leader_epoch)),
                };
                self.node(id).role = Role::Follower(follower);
                self.note(|_s| format!("{id} follows {leader} in epoch {}", state.leader_epoch));
                self.follower_commands(id, commands, &[]);
            }
            None => self.note(|_s| format!("{id}: partition offline in epoch {}", state.leader_epoch)),
        }
    }

    pub fn tick(&mut self, id: ReplicaId) {
        let now = self.now;
        let node = self.node(id);
        if !node.alive {
            return;
        }
        match &mut node.role {
            Role::Leader(l) => {
                let commands = l.handle(now, LeaderEvent::Tick);
                self.leader_commands(id, commands, None);
            }
            Role::Follower(f) => {
                let commands = f.handle(now, FollowerEvent::Tick);
                self.follower_commands(id, commands, &[]);
            }
            Role::None => {}
        }
    }

    pub fn fsync_done(&mut self, id: ReplicaId, incarnation: u64, generation: u64, end: u64) {
        let now = self.now;
        let node = self.node(id);
        if !node.alive || node.incarnation != incarnation || !node.log.fsync_done(generation, end) {
            return;
        }
        let durable_end = node.log.durable;
        match &mut node.role {
            Role::Leader(l) => {
                let commands = l.handle(now, LeaderEvent::LocalDurable { durable_end });
                self.leader_commands(id, commands, None);
            }
            Role::Follower(f) => {
                let commands = f.handle(now, FollowerEvent::LocalDurable { durable_end });
                self.follower_commands(id, commands, &[]);
            }
            Role::None => {}
        }
    }

    fn schedule_fsync(&mut self, id: ReplicaId) {
        let node = self.node(id);
        let event = Event::Fsync {
            node: id,
            incarnation: node.incarnation,
            generation: node.log.generation(),
            end: node.log.end(),
        };
        let delay = self.rng.range(1, 15);
        self.schedule(delay, event);
    }

    /// A producer sends 1..3 records with acks=all to a node that believes
    /// it leads (possibly a stale one).
    pub fn produce(&mut self) {
        let leaders: Vec<ReplicaId> =
            self.nodes.iter().filter(|n| n.alive && matches!(n.role, Role::Leader(_))).map(|n| n.id).collect();
        if leaders.is_empty() {
            return;
        }
        let id = self.rng.pick(&leaders);
        let count = self.rng.range(1, 3);
        let payloads: Vec<u64> = (0..count).map(|i| self.next_payload + i).collect();
        let produce_id = self.next_produce_id;
        let now = self.now;
        let node = self.node(id);
        let Role::Leader(leader) = &mut node.role else { unreachable!() };
        if leader.check_produce().is_err() {
            self.stats.refused += 1;
            return;
        }
        let base = node.log.end();
        node.log.append_produced(leader.leader_epoch(), &payloads);
        let end = node.log.end();
        let mut commands = leader.handle(now, LeaderEvent::Appended { log_end_offset: end });
        commands.extend(leader.handle(now, LeaderEvent::AwaitReplication { id: produce_id, end_offset: end }));
        self.next_payload += count;
        self.next_produce_id += 1;
        self.stats.produced += count;
        let records = payloads.iter().enumerate().map(|(i, &p)| (base + i as u64, p)).collect();
        self.pending.insert(produce_id, PendingProduce { records });
        self.note(|_s| format!("{id} appends {payloads:?} at {base} as produce {produce_id}"));
        self.schedule_fsync(id);
        self.schedule(PRODUCE_TIMEOUT_MS, Event::CancelProduce { id: produce_id });
        self.leader_commands(id, commands, None);
    }

    /// The produce timed out: the runtime cancels it on whichever leader
    /// holds it (ids are unique across the run, so at most one does).
    pub fn cancel_produce(&mut self, produce_id: u64) {
        if self.pending.remove(&produce_id).is_none() {
            return;
        }
        let now = self.now;
        for node in &mut self.nodes {
            if let Role::Leader(l) = &mut node.role {
                let commands = l.handle(now, LeaderEvent::CancelProduce { id: produce_id });
                assert!(commands.is_empty(), "cancelling emits nothing");
            }
        }
    }

    pub fn leader_commands(&mut self, id: ReplicaId, commands: Vec<LeaderCommand>, fetch_id: Option<u64>) {
        for command in commands {
            match command {
                LeaderCommand::AssignEpochStart { epoch, start_offset } => {
                    self.node(id).log.epochs.assign(epoch, start_offset);
                }
                LeaderCommand::FetchReply { replica, reply } => {
                    let fetch_id = fetch_id.expect("fetch replies answer fetches");
                    let (response, records) = self.read_for_fetch(id, reply);
                    self.send(Dest::Node(id), Dest::Node(replica), Msg::FetchResponse { fetch_id, response, records });
                }
                LeaderCommand::ProposeIsr { new_isr, leader_epoch, partition_epoch } => {
                    self.note(|_s| format!("{id} proposes ISR {new_isr:?} at {leader_epoch}/{partition_epoch}"));
                    let msg = Msg::AlterPartition { from: id, leader_epoch, partition_epoch, new_isr };
                    self.send(Dest::Node(id), Dest::Controller, msg);
                }
                LeaderCommand::AckProduce { id: produce_id } => {
                    if let Some(p) = self.pending.remove(&produce_id) {
                        if let Err(e) = self.checker.on_ack(&p.records) {
                            self.fail(e);
                        }
                        self.stats.acked += p.records.len() as u64;
                        if !self.faults_on {
                            self.stats.acked_after_heal += p.records.len() as u64;
                        }
                        self.note(|_s| format!("{id} acknowledges produce {produce_id} {:?}", p.records));
                        // Crash a leader just after it acknowledged, before
                        // its followers hear the new high watermark.
                        if self.faults_on && self.rng.chance(10) {
                            let incarnation = self.node(id).incarnation;
                            let delay = self.rng.range(0, 2);
                            self.schedule(delay, Event::Crash { node: id, incarnation });
                        }
                    }
                }
                LeaderCommand::FailProduce { id: produce_id, error } => {
                    if self.pending.remove(&produce_id).is_some() {
                        self.stats.failed += 1;
                        self.note(|_s| format!("{id} fails produce {produce_id}: {error}"));
                    }
                }
                LeaderCommand::HighWatermarkChanged(hw) => {
                    let node = self.node(id);
                    node.hw_checkpoint = hw;
                    let incarnation = node.incarnation;
                    let Role::Leader(l) = &node.role else { unreachable!("leader commands come from a leader") };
                    let epoch = l.leader_epoch();
                    if let Err(e) =
                        self.checker.on_leader_hw(id, incarnation, epoch, hw, &mut self.nodes[(id - 1) as usize].log)
                    {
                        self.fail(e);
                    }
                }
            }
        }
    }

    /// Carries out a fetch reply: reads up to MAX_FETCH_RECORDS records from
    /// the offset, in batches of one epoch each.
    fn read_for_fetch(&mut self, id: ReplicaId, reply: FetchReply) -> (FetchResponse, Vec<Record>) {
        match reply {
            FetchReply::Read { from, high_watermark, log_start_offset } => {
                // Small reads often, so followers stop at every offset.
                let wanted =
                    if self.rng.chance(500) { self.rng.range(1, 4) } else { self.rng.range(1, MAX_FETCH_RECORDS) };
                let log = &self.node(id).log;
                let to = log.end().min(from + wanted);
                let records: Vec<Record> = log.records[from as usize..to as usize].to_vec();
                let mut batches: Vec<BatchMeta> = Vec::new();
                for (i, r) in records.iter().enumerate() {
                    let offset = from + i as u64;
                    match batches.last_mut() {
                        Some(b)
                            if b.leader_epoch == r.epoch && b.last_offset + 1 - b.base_offset < MAX_BATCH_RECORDS =>
                        {
                            b.last_offset = offset;
                        }
                        _ => {
                            batches.push(BatchMeta { base_offset: offset, last_offset: offset, leader_epoch: r.epoch })
                        }
                    }
                }
                (FetchResponse::Records { high_watermark, log_start_offset, batches }, records)
            }
            FetchReply::Diverging { epoch, end_offset, high_watermark } => {
                (FetchResponse::Diverging { epoch, end_offset, high_watermark }, vec![])
            }
            FetchReply::OffsetOutOfRange { log_start_offset, log_end_offset } => {
                (FetchResponse::OffsetOutOfRange { log_start_offset, log_end_offset }, vec![])
            }
            FetchReply::Error(e) => (FetchResponse::Error(e), vec![]),
        }
    }

    pub fn follower_commands(&mut self, id: ReplicaId, commands: Vec<FollowerCommand>, records: &[Record]) {
        for command in commands {
            match command {
                FollowerCommand::Fetch { fetch_id, leader, request } => {
                    self.note(|_| format!("{id} fetches {fetch_id:x} from {leader}: {request:?}"));
                    self.send(Dest::Node(id), Dest::Node(leader), Msg::FetchRequest { fetch_id, request });
                }
                FollowerCommand::Append { batches } => {
                    let covered = batches.last().map_or(0, |b| b.end_offset() - batches[0].base_offset);
                    assert_eq!(covered, records.len() as u64, "Append covers the response's records");
                    self.node(id).log.append_fetched(&batches, records);
                    self.schedule_fsync(id);
                }
                FollowerCommand::Truncate { to } => {
                    let log = &mut self.node(id).log;
                    let removed = log.end() - to;
                    log.truncate(to);
                    let needs_fsync = log.durable < log.end();
                    self.stats.truncated_records += removed;
                    self.note(|_s| format!("{id} truncates to {to} ({removed} records)"));
                    if needs_fsync {
                        self.schedule_fsync(id);
                    }
                }
                FollowerCommand::TruncateFully { log_start_offset } => self
                    .fail(format!("{id} truncates fully to {log_start_offset}, but no log here ever moves its start")),
                FollowerCommand::HighWatermarkChanged(hw) => self.node(id).hw_checkpoint = hw,
                FollowerCommand::RejectedResponse { reason } => {
                    self.fail(format!("{id} rejected a leader's answer: {reason}"))
                }
            }
        }
    }
}
