//! [`QuorumNode`]: one controller's Raft node, I/O-free, around raft-rs's
//! `RawNode`. The runtime feeds it [`Event`]s and carries out the
//! [`Action`]s it returns, in order.
//!
//! # How it follows raft-rs's Ready protocol
//!
//! Each `handle` drains every Ready raft has, the synchronous way raft-rs
//! documents (`RawNode::ready` ... `advance`), as actions:
//!
//! 1. `Send(ready.messages)`: a leader's appends may leave before its own
//!    write (raft thesis 10.2.1);
//! 2. `Persist(snapshot, entries, hard state)`: the node has already put them
//!    in its `MemoryLog`, which raft reads;
//! 3. `RestoreSnapshot`, then `Apply` for the Ready's committed entries;
//! 4. `Send(ready.persisted_messages)`: votes and follower responses, which
//!    must not leave before step 2 is durable;
//! 5. `advance`, then the LightReady's `Send` and `Apply` (commits that the
//!    local write made possible: for a single voter, every commit).
//!
//! The node calls `advance` (telling raft the write is done) before the
//! runtime has done it. That is safe because nothing the node emits after a
//! `Persist` is carried out before the `Persist` is durable (the runtime's
//! contract), and a crash in between loses the node's memory with it: the
//! restarted node reads only what reached the disk.
//!
//! # What the application sees on restart
//!
//! The application keeps no state of its own across restarts: its state is
//! the latest snapshot plus every committed entry after it. So a started
//! node emits `RestoreSnapshot` (if there is a snapshot), tells raft that
//! the snapshot's index is the applied index, and raft hands back every
//! committed entry after it as `Apply`, in order, exactly once per process.

use std::collections::BTreeSet;

use raft::eraftpb::{Entry, EntryType};
use raft::{RawNode, SnapshotStatus, StateRole};

use super::log_store::{PersistWrite, RecoveredLog};
use super::memory_log::MemoryLog;
use super::proposal::ProposalContext;
use super::tracing_drain::raft_logger;
use super::ControllerError;
use crate::limits::{
    ELECTION_TICKS, HEARTBEAT_TICKS, MAX_APPEND_BYTES, MAX_COMMAND_BYTES, MAX_COMMITTED_BYTES_PER_READY,
    MAX_CONTROLLER_VOTERS, MAX_INFLIGHT_APPENDS, MAX_SNAPSHOT_BYTES, MAX_UNCOMMITTED_BYTES,
};

pub use super::action::{Action, Event, QuorumConfig, Rejection};

/// One controller node of the quorum. Lives on core 0 of a controller
/// broker, driven by one task; it does no I/O.
pub struct QuorumNode {
    raw: RawNode<MemoryLog>,
    id: u64,
    incarnation: u64,
    snapshot_interval: u64,
    /// Last index handed out as `Apply` (or covered by a restored snapshot).
    applied: u64,
    /// A `TakeSnapshot` the application has not answered yet.
    snapshot_requested: Option<u64>,
    /// (leader, is_leader) as last reported by `RoleChanged`.
    role: (Option<u64>, bool),
}

impl QuorumNode {
    /// Starts a node on what its `LogStore` recovered: an empty directory
    /// bootstraps `config.voters`. The returned actions come first (the
    /// bootstrap write, the snapshot to restore, the entries to replay).
    pub fn start(config: QuorumConfig, recovered: RecoveredLog) -> Result<(QuorumNode, Vec<Action>), ControllerError> {
        let voters = checked_voters(&config)?;
        let mut actions = Vec::new();
        let fresh = recovered.conf_state.voters.is_empty()
            && recovered.entries.is_empty()
            && recovered.snapshot.get_metadata().index == 0;
        let mut log = MemoryLog::new(recovered);
        if fresh {
            let cs = raft::eraftpb::ConfState::from((voters.clone(), vec![]));
            log.set_conf_state(cs.clone());
            actions.push(Action::Persist(PersistWrite { conf_state: Some(cs), ..Default::default() }));
        } else {
            let mut stored = log.conf_state().voters.clone();
            stored.sort_unstable();
            if stored != voters {
                return Err(ControllerError::Config(format!(
                    "voters {voters:?}, but this node's log was started with {stored:?} (membership is static)"
                )));
            }
        }
        let snapshot_index = log.snapshot_index();
        if snapshot_index > 0 {
            actions.push(Action::RestoreSnapshot { index: snapshot_index, data: log.latest_snapshot().data.to_vec() });
        }
        let raft_config = raft::Config {
            id: config.id,
            election_tick: ELECTION_TICKS,
            heartbeat_tick: HEARTBEAT_TICKS,
            applied: snapshot_index,
            max_size_per_msg: MAX_APPEND_BYTES,
            max_inflight_msgs: MAX_INFLIGHT_APPENDS,
            max_uncommitted_size: MAX_UNCOMMITTED_BYTES,
            max_committed_size_per_ready: MAX_COMMITTED_BYTES_PER_READY,
            // A leader that cannot hear a quorum steps down; a node coming
            // back from a partition does not depose a working leader.
            check_quorum: true,
            pre_vote: true,
            min_election_tick: ELECTION_TICKS,
            max_election_tick: if config.fixed_election_timeout { ELECTION_TICKS + 1 } else { 2 * ELECTION_TICKS },
            ..Default::default()
        };
        let raw = RawNode::new(&raft_config, log, &raft_logger(config.id))?;
        let mut node = QuorumNode {
            raw,
            id: config.id,
            incarnation: config.incarnation,
            snapshot_interval: config.snapshot_interval.max(1),
            applied: snapshot_index,
            snapshot_requested: None,
            role: (None, false),
        };
        if voters == [config.id] {
            // Alone, there is nobody to wait an election timeout for.
            node.raw.campaign()?;
        }
        node.drain(&mut actions);
        Ok((node, actions))
    }

    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Tick => {
                self.raw.tick();
            }
            Event::Message(m) => {
                if m.to != self.id {
                    tracing::warn!(
                        to = m.to,
                        from = m.from,
                        id = self.id,
                        "controller: message for another node dropped"
                    );
                } else if let Err(e) = self.raw.step(m) {
                    tracing::debug!(id = self.id, error = %e, "controller: peer message dropped");
                }
            }
            Event::Propose { data, token } => self.propose(data, token, &mut actions),
            Event::SnapshotReport { peer, delivered } => {
                let status = if delivered { SnapshotStatus::Finish } else { SnapshotStatus::Failure };
                self.raw.report_snapshot(peer, status);
            }
            Event::Unreachable { peer } => self.raw.report_unreachable(peer),
        }
        self.drain(&mut actions);
        actions
    }

    /// The application's answer to `TakeSnapshot { index }`: its state as of
    /// `index`. Returns the `Compact` to carry out. An answer overtaken by a
    /// snapshot from the leader is ignored.
    pub fn snapshot_taken(&mut self, index: u64, data: Vec<u8>) -> Result<Vec<Action>, ControllerError> {
        if index <= self.raw.store().snapshot_index() {
            return Ok(Vec::new());
        }
        if self.snapshot_requested != Some(index) {
            return Err(ControllerError::Snapshot(format!(
                "snapshot at {index}, but the node asked for {:?}",
                self.snapshot_requested
            )));
        }
        self.snapshot_requested = None;
        if data.len() > MAX_SNAPSHOT_BYTES {
            return Err(ControllerError::Snapshot(format!(
                "{} bytes, over the {MAX_SNAPSHOT_BYTES}-byte limit",
                data.len()
            )));
        }
        let snapshot = self.raw.mut_store().compact_to(index, data);
        Ok(vec![Action::Compact(snapshot)])
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn term(&self) -> u64 {
        self.raw.raft.term
    }

    pub fn leader(&self) -> Option<u64> {
        Some(self.raw.raft.leader_id).filter(|&l| l != raft::INVALID_ID)
    }

    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    pub fn commit_index(&self) -> u64 {
        self.raw.raft.raft_log.committed
    }

    /// Last index applied (handed out as `Apply`, or restored).
    pub fn applied_index(&self) -> u64 {
        self.applied
    }

    /// Index of the latest snapshot (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.raw.store().snapshot_index()
    }

    fn propose(&mut self, data: Vec<u8>, token: u64, actions: &mut Vec<Action>) {
        let reject = |reason, leader| Action::Rejected { token, leader, reason };
        if data.len() > MAX_COMMAND_BYTES {
            actions.push(reject(Rejection::TooLarge, self.leader()));
            return;
        }
        if !self.is_leader() {
            actions.push(reject(Rejection::NotLeader, self.leader()));
            return;
        }
        let context = ProposalContext { proposer: self.id, incarnation: self.incarnation, token };
        if let Err(e) = self.raw.propose(context.encode(), data) {
            tracing::debug!(id = self.id, error = %e, "controller: proposal dropped");
            actions.push(reject(Rejection::Dropped, self.leader()));
        }
    }

    /// Turns every pending Ready into actions (see the module docs).
    fn drain(&mut self, actions: &mut Vec<Action>) {
        while self.raw.has_ready() {
            let mut rd = self.raw.ready();
            if !rd.messages().is_empty() {
                actions.push(Action::Send(rd.take_messages()));
            }
            let mut write = PersistWrite::default();
            let mut restored = None;
            if !rd.snapshot().is_empty() {
                let snapshot = rd.snapshot().clone();
                restored = Some((snapshot.get_metadata().index, snapshot.data.to_vec()));
                self.raw.mut_store().install_snapshot(snapshot.clone());
                write.snapshot = Some(snapshot);
            }
            let committed = rd.take_committed_entries();
            if !rd.entries().is_empty() {
                write.entries = rd.take_entries();
                self.raw.mut_store().append(&write.entries);
            }
            if let Some(hs) = rd.hs() {
                self.raw.mut_store().set_hard_state(hs.clone());
                write.hard_state = Some(hs.clone());
            }
            if !write.is_empty() {
                actions.push(Action::Persist(write));
            }
            if let Some((index, data)) = restored {
                self.applied = index;
                // An unanswered TakeSnapshot is overtaken by this one.
                self.snapshot_requested = None;
                actions.push(Action::RestoreSnapshot { index, data });
            }
            self.apply(committed, actions);
            if !rd.persisted_messages().is_empty() {
                actions.push(Action::Send(rd.take_persisted_messages()));
            }
            let mut light = self.raw.advance(rd);
            if let Some(commit) = light.commit_index() {
                self.raw.mut_store().set_commit(commit);
            }
            if !light.messages().is_empty() {
                actions.push(Action::Send(light.take_messages()));
            }
            self.apply(light.take_committed_entries(), actions);
            self.raw.advance_apply();
            self.note_role(actions);
        }
        self.note_role(actions);
        if self.snapshot_requested.is_none() && self.applied - self.snapshot_index() >= self.snapshot_interval {
            self.snapshot_requested = Some(self.applied);
            actions.push(Action::TakeSnapshot { index: self.applied });
        }
    }

    fn apply(&mut self, entries: Vec<Entry>, actions: &mut Vec<Action>) {
        for entry in entries {
            // raft hands out committed entries once each, in order.
            assert_eq!(entry.index, self.applied + 1, "committed entries out of order");
            self.applied = entry.index;
            match entry.get_entry_type() {
                // A new leader's empty entry carries no command.
                EntryType::EntryNormal if entry.data.is_empty() => {}
                EntryType::EntryNormal => {
                    let token = ProposalContext::decode(&entry.context)
                        .filter(|c| c.proposer == self.id && c.incarnation == self.incarnation)
                        .map(|c| c.token);
                    actions.push(Action::Apply { index: entry.index, data: entry.data.to_vec(), token });
                }
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    tracing::warn!(
                        id = self.id,
                        index = entry.index,
                        "controller: membership change entry ignored (membership is static)"
                    );
                }
            }
        }
    }

    fn note_role(&mut self, actions: &mut Vec<Action>) {
        let role = (self.leader(), self.is_leader());
        if role != self.role {
            self.role = role;
            actions.push(Action::RoleChanged { leader: role.0, term: self.term(), is_leader: role.1 });
        }
    }
}

fn checked_voters(config: &QuorumConfig) -> Result<Vec<u64>, ControllerError> {
    let unique: BTreeSet<u64> = config.voters.iter().copied().collect();
    if unique.len() != config.voters.len() {
        return Err(ControllerError::Config(format!("voters {:?} repeat an id", config.voters)));
    }
    if unique.is_empty() || unique.len() > MAX_CONTROLLER_VOTERS {
        return Err(ControllerError::Config(format!(
            "{} voters, the quorum takes 1..={MAX_CONTROLLER_VOTERS}",
            unique.len()
        )));
    }
    if unique.contains(&raft::INVALID_ID) {
        return Err(ControllerError::Config("voter id 0 is reserved".into()));
    }
    if !unique.contains(&config.id) {
        return Err(ControllerError::Config(format!("node {} is not among the voters {:?}", config.id, config.voters)));
    }
    Ok(unique.into_iter().collect())
}

#[cfg(test)]
mod tests;
