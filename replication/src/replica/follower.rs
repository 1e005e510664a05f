//! A follower's side of one partition's replication: Kafka's replica
//! fetcher for one partition. It fetches from its log end, appends what the
//! leader sends, truncates only where the leader's divergence check says its
//! log parts from the leader's (KIP-101/279: never to its own high
//! watermark), and keeps the follower's high watermark.
//!
//! The pipeline: once an answer's records are appended (not yet synced) the
//! next fetch goes out at once, carrying the durable end separately, so the
//! follower's fsync overlaps the next round trip. Only the durable end
//! counts toward the leader's high watermark. A fetch sent while records
//! are still being synced asks the leader not to wait for new ones
//! ([`FetchRequest::syncing`]); if it brings nothing, the follower waits for
//! its sync and then reports it with a fetch that may wait.

use super::epoch_history::EpochHistory;
use super::fetch::{BatchMeta, FetchError, FetchRequest, FetchResponse};
use super::{ReplicaConfig, ReplicaError, ReplicaId};

/// The partition state and local log a replica follows from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BecomeFollower {
    /// This broker.
    pub replica: ReplicaId,
    pub leader: ReplicaId,
    pub leader_epoch: u32,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    /// The local log is durable below this offset.
    pub durable_end: u64,
    pub high_watermark: u64,
    pub epoch_history: EpochHistory,
}

/// What happens to a followed partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowerEvent {
    /// The answer to the `Fetch` command with this `fetch_id`.
    FetchResponse { fetch_id: u64, response: FetchResponse },
    /// The local log is durable below this offset.
    LocalDurable { durable_end: u64 },
    /// Time passes: lost fetches are sent again, backoffs end.
    Tick,
}

/// What the runtime must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowerCommand {
    /// Send `request` to `leader`; hand its answer back with `fetch_id`.
    Fetch {
        fetch_id: u64,
        leader: ReplicaId,
        request: FetchRequest,
    },
    /// Append the batches of the answer just handled, as they are (the
    /// leader's offsets and epochs), recording each new epoch's start in
    /// the epoch history; then make them durable and report `LocalDurable`.
    Append {
        batches: Vec<BatchMeta>,
    },
    /// Truncate the log (and the epoch history, Kafka's `truncateFromEnd`)
    /// to end at `to`; a no-op for the log when `to` is its end.
    Truncate {
        to: u64,
    },
    /// Empty the log and restart it at `log_start_offset` (the follower fell
    /// below the leader's log start).
    TruncateFully {
        log_start_offset: u64,
    },
    HighWatermarkChanged(u64),
    /// The leader's answer made no sense (records not at the fetch offset,
    /// epochs out of order); it was dropped and the fetch will be retried
    /// after a backoff. For logs and metrics.
    RejectedResponse {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// An answer brought nothing new while the log was still being synced:
    /// the next fetch reports the sync once it is done.
    AwaitDurable,
    Fetching {
        fetch_id: u64,
        fetch_offset: u64,
        sent_at_ms: u64,
    },
    Backoff {
        until_ms: u64,
    },
    /// The leader has a newer epoch than this follower knows: only new
    /// metadata (a new follower state) helps.
    Fenced,
}

/// One partition followed by this broker. Lives on the partition's core.
#[derive(Debug)]
pub struct FollowerState {
    config: ReplicaConfig,
    me: ReplicaId,
    leader: ReplicaId,
    leader_epoch: u32,
    log_start: u64,
    log_end: u64,
    durable_end: u64,
    high_watermark: u64,
    epoch_history: EpochHistory,
    phase: Phase,
    /// Fetch ids are `leader_epoch << 32 | n`, so an answer meant for the
    /// follower state of an earlier epoch never matches this one's fetch.
    next_fetch: u64,
}

impl FollowerState {
    /// Starts following. The log is kept as it is: only the leader's
    /// divergence check may truncate it.
    pub fn become_follower(
        config: ReplicaConfig,
        state: BecomeFollower,
        now_ms: u64,
    ) -> Result<(Self, Vec<FollowerCommand>), ReplicaError> {
        if state.leader == state.replica {
            return Err(ReplicaError::InvalidPartitionState(format!("replica {} cannot follow itself", state.replica)));
        }
        if !(state.log_start_offset <= state.durable_end && state.durable_end <= state.log_end_offset) {
            return Err(ReplicaError::InvalidPartitionState(format!(
                "log start {} <= durable end {} <= log end {} does not hold",
                state.log_start_offset, state.durable_end, state.log_end_offset
            )));
        }
        let mut follower = Self {
            config,
            me: state.replica,
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            log_start: state.log_start_offset,
            log_end: state.log_end_offset,
            durable_end: state.durable_end,
            high_watermark: state.high_watermark.min(state.log_end_offset),
            epoch_history: state.epoch_history,
            phase: Phase::AwaitDurable,
            next_fetch: u64::from(state.leader_epoch) << 32,
        };
        let mut out = Vec::new();
        follower.fetch_when_durable(now_ms, &mut out);
        Ok((follower, out))
    }

    pub fn handle(&mut self, now_ms: u64, event: FollowerEvent) -> Vec<FollowerCommand> {
        let mut out = Vec::new();
        match event {
            FollowerEvent::FetchResponse { fetch_id, response } => {
                if let Phase::Fetching { fetch_id: expected, fetch_offset, .. } = self.phase {
                    if fetch_id == expected {
                        self.on_response(now_ms, fetch_offset, response, &mut out);
                    }
                }
            }
            FollowerEvent::LocalDurable { durable_end } => {
                self.durable_end = self.durable_end.max(durable_end.min(self.log_end));
                if self.phase == Phase::AwaitDurable {
                    self.fetch_when_durable(now_ms, &mut out);
                }
            }
            FollowerEvent::Tick => match self.phase {
                Phase::Fetching { sent_at_ms, .. }
                    if now_ms >= sent_at_ms.saturating_add(self.config.fetch_timeout_ms) =>
                {
                    self.send_fetch(now_ms, &mut out);
                }
                Phase::Backoff { until_ms } if now_ms >= until_ms => self.fetch_when_durable(now_ms, &mut out),
                _ => {}
            },
        }
        out
    }

    pub fn replica_id(&self) -> ReplicaId {
        self.me
    }

    /// The replication settings it runs with.
    pub fn config(&self) -> ReplicaConfig {
        self.config
    }

    pub fn leader(&self) -> ReplicaId {
        self.leader
    }

    pub fn leader_epoch(&self) -> u32 {
        self.leader_epoch
    }

    pub fn log_end_offset(&self) -> u64 {
        self.log_end
    }

    pub fn durable_end(&self) -> u64 {
        self.durable_end
    }

    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    pub fn epoch_history(&self) -> &EpochHistory {
        &self.epoch_history
    }

    /// The leader answered with a newer epoch: waiting for metadata.
    pub fn is_fenced(&self) -> bool {
        self.phase == Phase::Fenced
    }

    fn on_response(&mut self, now_ms: u64, fetch_offset: u64, response: FetchResponse, out: &mut Vec<FollowerCommand>) {
        match response {
            FetchResponse::Records { high_watermark, batches, .. } => {
                if let Err(reason) = self.check_batches(fetch_offset, &batches) {
                    out.push(FollowerCommand::RejectedResponse { reason });
                    self.back_off(now_ms);
                    return;
                }
                for b in &batches {
                    self.epoch_history.assign(b.leader_epoch, b.base_offset);
                }
                let got_records = !batches.is_empty();
                if let Some(last) = batches.last() {
                    self.log_end = last.end_offset();
                    out.push(FollowerCommand::Append { batches });
                }
                self.raise_high_watermark(high_watermark, out);
                if got_records {
                    self.send_fetch(now_ms, out);
                } else {
                    self.fetch_when_durable(now_ms, out);
                }
            }
            FetchResponse::Diverging { epoch, end_offset, high_watermark } => {
                // KIP-279: where this follower's own copy of that epoch ends
                // bounds the truncation too; if the leader named an older
                // epoch than ours, the next fetch checks again from there.
                let own_end =
                    self.epoch_history.end_offset_for(epoch, self.log_end).map_or(self.log_end, |e| e.end_offset);
                let to = own_end.min(end_offset).min(self.log_end).max(self.log_start);
                self.truncate(to, out);
                self.raise_high_watermark(high_watermark, out);
                self.fetch_when_durable(now_ms, out);
            }
            FetchResponse::OffsetOutOfRange { log_start_offset, log_end_offset } => {
                if fetch_offset < log_start_offset {
                    out.push(FollowerCommand::TruncateFully { log_start_offset });
                    self.log_start = log_start_offset;
                    self.log_end = log_start_offset;
                    self.durable_end = log_start_offset;
                    self.epoch_history.clear();
                    if self.high_watermark != log_start_offset {
                        self.high_watermark = log_start_offset;
                        out.push(FollowerCommand::HighWatermarkChanged(log_start_offset));
                    }
                    self.fetch_when_durable(now_ms, out);
                } else {
                    // Past the leader's end with no epoch to check: the
                    // leader lost records (or is not caught up with
                    // metadata). Offsets are never reused, so wait.
                    out.push(FollowerCommand::RejectedResponse {
                        reason: format!("fetch offset {fetch_offset} past the leader's log end {log_end_offset}"),
                    });
                    self.back_off(now_ms);
                }
            }
            FetchResponse::Error(FetchError::FencedLeaderEpoch) => self.phase = Phase::Fenced,
            FetchResponse::Error(FetchError::NotLeader | FetchError::UnknownLeaderEpoch) => self.back_off(now_ms),
        }
    }

    fn check_batches(&self, fetch_offset: u64, batches: &[BatchMeta]) -> Result<(), String> {
        let mut next = fetch_offset;
        let mut epoch = self.epoch_history.latest_epoch().unwrap_or(0);
        for b in batches {
            if b.base_offset != next || b.last_offset < b.base_offset {
                return Err(format!("batch {}..={} where offset {next} was expected", b.base_offset, b.last_offset));
            }
            if b.leader_epoch < epoch || b.leader_epoch > self.leader_epoch {
                return Err(format!(
                    "batch at {} has epoch {} outside {epoch}..={}",
                    b.base_offset, b.leader_epoch, self.leader_epoch
                ));
            }
            next = b.end_offset();
            epoch = b.leader_epoch;
        }
        Ok(())
    }

    fn truncate(&mut self, to: u64, out: &mut Vec<FollowerCommand>) {
        out.push(FollowerCommand::Truncate { to });
        self.log_end = to;
        self.durable_end = self.durable_end.min(to);
        self.epoch_history.truncate_from_end(to);
        if self.high_watermark > to {
            self.high_watermark = to;
            out.push(FollowerCommand::HighWatermarkChanged(to));
        }
    }

    /// Kafka's follower high watermark: min(leader's, own log end), never
    /// moving back.
    fn raise_high_watermark(&mut self, leader_high_watermark: u64, out: &mut Vec<FollowerCommand>) {
        let candidate = leader_high_watermark.min(self.log_end);
        if candidate > self.high_watermark {
            self.high_watermark = candidate;
            out.push(FollowerCommand::HighWatermarkChanged(candidate));
        }
    }

    fn back_off(&mut self, now_ms: u64) {
        self.phase = Phase::Backoff { until_ms: now_ms.saturating_add(self.config.fetch_backoff_ms) };
    }

    /// After an empty answer: fetch again once the sync in progress (if
    /// any) is done, so the fetch reports it (and may wait on the leader).
    fn fetch_when_durable(&mut self, now_ms: u64, out: &mut Vec<FollowerCommand>) {
        if self.durable_end >= self.log_end {
            self.send_fetch(now_ms, out);
        } else {
            self.phase = Phase::AwaitDurable;
        }
    }

    fn send_fetch(&mut self, now_ms: u64, out: &mut Vec<FollowerCommand>) {
        let fetch_id = self.next_fetch;
        self.next_fetch += 1;
        let request = FetchRequest {
            replica: self.me,
            fetch_offset: self.log_end,
            durable_end: self.durable_end,
            last_fetched_epoch: self.epoch_history.latest_epoch(),
            leader_epoch: self.leader_epoch,
        };
        self.phase = Phase::Fetching { fetch_id, fetch_offset: self.log_end, sent_at_ms: now_ms };
        out.push(FollowerCommand::Fetch { fetch_id, leader: self.leader, request });
    }
}
