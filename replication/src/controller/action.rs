//! What a `QuorumNode` is told ([`Event`]) and what it asks its runtime to
//! do ([`Action`]), plus its configuration.

use raft::eraftpb::{Message, Snapshot};

use super::log_store::PersistWrite;
use crate::limits::SNAPSHOT_INTERVAL_ENTRIES;

/// One controller node's identity in the quorum.
#[derive(Clone, Debug)]
pub struct QuorumConfig {
    /// This node's id (non-zero), one of `voters`.
    pub id: u64,
    /// Every voter's id: the `--controllers` list. Static: a restarted node
    /// refuses a list that differs from the one its directory was
    /// bootstrapped with.
    pub voters: Vec<u64>,
    /// Different on every start of this node's process (the runtime uses,
    /// say, the wall clock in nanoseconds). It goes into every proposal, so a
    /// token of an earlier process is never taken for one of this process.
    pub incarnation: u64,
    /// Applied entries past the latest snapshot before `TakeSnapshot`.
    pub snapshot_interval: u64,
    /// Every election timeout exactly `ELECTION_TICKS`, instead of raft's
    /// random pick in `[ELECTION_TICKS, 2 * ELECTION_TICKS)` (raft draws from
    /// the thread's RNG, which a seeded simulation cannot replay). Tests
    /// only: nodes with equal timeouts keep splitting votes unless something
    /// else (the simulation's tick order) tells them apart.
    pub fixed_election_timeout: bool,
}

impl QuorumConfig {
    pub fn new(id: u64, voters: Vec<u64>, incarnation: u64) -> QuorumConfig {
        QuorumConfig {
            id,
            voters,
            incarnation,
            snapshot_interval: SNAPSHOT_INTERVAL_ENTRIES,
            fixed_election_timeout: false,
        }
    }
}

/// What happened, as the runtime tells the node.
#[derive(Clone, Debug)]
pub enum Event {
    /// `CONTROLLER_TICK` elapsed.
    Tick,
    /// A message from a peer (decoded by `codec::decode`).
    Message(Message),
    /// A local caller's command. `token` comes back in the `Apply` of the
    /// committed entry, or in a `Rejected`.
    Propose { data: Vec<u8>, token: u64 },
    /// The transport's outcome for a `MsgSnapshot` this node sent: raft
    /// stops replicating to that peer until it is told.
    SnapshotReport { peer: u64, delivered: bool },
    /// The transport could not reach `peer`: raft falls back to probing it.
    Unreachable { peer: u64 },
}

/// Why a proposal was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// This node is not the leader (the leader, if known, is in `leader`).
    NotLeader,
    /// The command is over `MAX_COMMAND_BYTES`.
    TooLarge,
    /// The leader dropped it: a leadership transfer is under way, or the
    /// uncommitted entries are over `MAX_UNCOMMITTED_BYTES`. Retry later.
    Dropped,
}

/// What the runtime must do, in the order given: each action is carried out
/// completely before the next one starts. In particular `Persist` and
/// `Compact` must be durable (the `LogStore` call returned) before any later
/// `Send` goes out or any later action is carried out.
#[derive(Clone, Debug)]
pub enum Action {
    /// Write with `LogStore::persist`. On error, stop: drop the node and
    /// reopen the directory (the node is already past what the disk holds).
    Persist(PersistWrite),
    /// Send each message to its `to` peer (`codec::encode`). Best effort:
    /// raft retries what is lost. For a `MsgSnapshot`, report the outcome
    /// with `Event::SnapshotReport`.
    Send(Vec<Message>),
    /// The known leader, or whether this node leads, changed.
    RoleChanged { leader: Option<u64>, term: u64, is_leader: bool },
    /// Replace the application's state by this snapshot's (on start, and
    /// when the leader sent one because this node was too far behind).
    RestoreSnapshot { index: u64, data: Vec<u8> },
    /// Apply a committed command. Indexes increase; `token` is set only on
    /// the node (and process) that proposed it.
    Apply { index: u64, data: Vec<u8>, token: Option<u64> },
    /// A proposal was not taken; nothing of it will be applied.
    Rejected { token: u64, leader: Option<u64>, reason: Rejection },
    /// Serialize the application's state as it is now (every `Apply` so far
    /// done, up to `index`) and hand it to `QuorumNode::snapshot_taken`.
    TakeSnapshot { index: u64 },
    /// Write with `LogStore::compact` (the application's snapshot; the log
    /// prefix it covers is dropped).
    Compact(Snapshot),
}
