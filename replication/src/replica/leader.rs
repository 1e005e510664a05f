//! The leader's side of one partition's replication: answers follower
//! fetches (with the divergence check), keeps the high watermark, the ISR
//! (through the controller) and the acks=all produces waiting on it.

use std::collections::{BTreeMap, BTreeSet};

use super::epoch_history::EpochHistory;
use super::fetch::{FetchError, FetchReply, FetchRequest};
use super::isr::{AlterPartitionAnswer, IsrState, PartitionChange};
use super::produce_waiters::{ProduceError, ProduceId, ProduceWaiters};
use super::progress::FollowerProgress;
use super::{ReplicaConfig, ReplicaError, ReplicaId};

/// The partition state and local log a replica leads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BecomeLeader {
    /// This broker.
    pub replica: ReplicaId,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub replicas: Vec<ReplicaId>,
    pub isr: Vec<ReplicaId>,
    pub min_insync_replicas: u32,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    /// The local log is durable below this offset.
    pub durable_end: u64,
    /// The high watermark this replica had (from its follower days or its
    /// checkpoint); the new leader starts from it.
    pub high_watermark: u64,
    pub epoch_history: EpochHistory,
}

/// What happens to a led partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderEvent {
    /// Produced records were appended to the local log, which now ends here.
    Appended {
        log_end_offset: u64,
    },
    /// The local log is durable below this offset.
    LocalDurable {
        durable_end: u64,
    },
    /// Retention moved the log start.
    LogStartAdvanced {
        log_start_offset: u64,
    },
    FollowerFetch(FetchRequest),
    /// Time passes: ISR shrink checks and AlterPartition resends.
    Tick,
    AlterPartitionAnswer(AlterPartitionAnswer),
    /// New metadata for the partition at the same leader epoch.
    PartitionChanged(PartitionChange),
    /// An acks=all produce whose records end (exclusive) at `end_offset`
    /// waits to be replicated.
    AwaitReplication {
        id: ProduceId,
        end_offset: u64,
    },
    /// The runtime gave up on a waiting produce (its timeout).
    CancelProduce {
        id: ProduceId,
    },
}

/// What the runtime must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderCommand {
    /// Record in the local epoch history file that `epoch` starts at
    /// `start_offset` (before any record of the epoch is appended).
    AssignEpochStart {
        epoch: u32,
        start_offset: u64,
    },
    /// Answer `replica`'s fetch.
    FetchReply {
        replica: ReplicaId,
        reply: FetchReply,
    },
    /// Send AlterPartition to the controller.
    ProposeIsr {
        new_isr: Vec<ReplicaId>,
        leader_epoch: u32,
        partition_epoch: u32,
    },
    AckProduce {
        id: ProduceId,
    },
    FailProduce {
        id: ProduceId,
        error: ProduceError,
    },
    /// Consumers may now read below this offset: wake their long polls and
    /// checkpoint it with the log.
    HighWatermarkChanged(u64),
}

/// One partition led by this broker. Lives on the partition's core.
#[derive(Debug)]
pub struct LeaderState {
    config: ReplicaConfig,
    me: ReplicaId,
    leader_epoch: u32,
    replicas: Vec<ReplicaId>,
    isr: IsrState,
    min_insync_replicas: u32,
    log_start: u64,
    log_end: u64,
    durable_end: u64,
    high_watermark: u64,
    epoch_history: EpochHistory,
    /// Where this leader's epoch starts: a follower below it has not caught
    /// up with this leadership and may not join the ISR.
    epoch_start_offset: u64,
    followers: BTreeMap<ReplicaId, FollowerProgress>,
    waiters: ProduceWaiters,
}

impl LeaderState {
    /// Starts leading. Refuses a state that cannot be right (leader not in
    /// the ISR, offsets out of order, a log already holding a newer epoch).
    pub fn become_leader(
        config: ReplicaConfig,
        state: BecomeLeader,
        now_ms: u64,
    ) -> Result<(Self, Vec<LeaderCommand>), ReplicaError> {
        let invalid = |why: String| Err(ReplicaError::InvalidPartitionState(why));
        let isr =
            unique_set(&state.isr).ok_or_else(|| ReplicaError::InvalidPartitionState("duplicate ISR member".into()))?;
        if unique_set(&state.replicas).is_none() {
            return invalid("duplicate replica".into());
        }
        if !isr.contains(&state.replica) || !isr.iter().all(|r| state.replicas.contains(r)) {
            return invalid(format!(
                "ISR {:?} must contain leader {} and only replicas {:?}",
                isr, state.replica, state.replicas
            ));
        }
        if state.min_insync_replicas == 0 {
            return invalid("min.insync.replicas is 0".into());
        }
        if !(state.log_start_offset <= state.durable_end && state.durable_end <= state.log_end_offset) {
            return invalid(format!(
                "log start {} <= durable end {} <= log end {} does not hold",
                state.log_start_offset, state.durable_end, state.log_end_offset
            ));
        }
        if state.high_watermark > state.log_end_offset {
            return invalid(format!("high watermark {} past log end {}", state.high_watermark, state.log_end_offset));
        }
        if state.epoch_history.latest_epoch().is_some_and(|e| e > state.leader_epoch) {
            return invalid(format!(
                "log holds epoch {:?} newer than {}",
                state.epoch_history.latest_epoch(),
                state.leader_epoch
            ));
        }
        let mut epoch_history = state.epoch_history;
        let mut out = Vec::new();
        if epoch_history.assign(state.leader_epoch, state.log_end_offset) {
            out.push(LeaderCommand::AssignEpochStart { epoch: state.leader_epoch, start_offset: state.log_end_offset });
        }
        let epoch_start_offset = epoch_history.start_offset_of(state.leader_epoch).unwrap_or(state.log_end_offset);
        let followers = state
            .replicas
            .iter()
            .filter(|&&r| r != state.replica)
            .map(|&r| (r, FollowerProgress::new(isr.contains(&r), now_ms)))
            .collect();
        let mut leader = Self {
            config,
            me: state.replica,
            leader_epoch: state.leader_epoch,
            replicas: state.replicas,
            isr: IsrState::new(isr, state.partition_epoch),
            min_insync_replicas: state.min_insync_replicas,
            log_start: state.log_start_offset,
            log_end: state.log_end_offset,
            durable_end: state.durable_end,
            high_watermark: state.high_watermark,
            epoch_history,
            epoch_start_offset,
            followers,
            waiters: ProduceWaiters::default(),
        };
        leader.advance_high_watermark(&mut out);
        Ok((leader, out))
    }

    pub fn handle(&mut self, now_ms: u64, event: LeaderEvent) -> Vec<LeaderCommand> {
        let mut out = Vec::new();
        match event {
            LeaderEvent::Appended { log_end_offset } => {
                assert!(log_end_offset >= self.log_end, "a leader's log only grows");
                self.log_end = log_end_offset;
            }
            LeaderEvent::LocalDurable { durable_end } => {
                assert!(durable_end <= self.log_end, "durable end {durable_end} past log end {}", self.log_end);
                self.durable_end = self.durable_end.max(durable_end);
                self.advance_high_watermark(&mut out);
            }
            LeaderEvent::LogStartAdvanced { log_start_offset } => {
                assert!(log_start_offset <= self.log_end, "log start past log end");
                self.log_start = self.log_start.max(log_start_offset);
            }
            LeaderEvent::FollowerFetch(request) => self.follower_fetch(now_ms, request, &mut out),
            LeaderEvent::Tick => {
                if let Some((isr, partition_epoch)) = self.isr.due_resend(now_ms, self.config.alter_partition_retry_ms)
                {
                    out.push(self.propose_command(&isr, partition_epoch));
                }
                self.maybe_shrink_isr(now_ms, &mut out);
                self.maybe_expand_isr(now_ms, &mut out);
            }
            LeaderEvent::AlterPartitionAnswer(AlterPartitionAnswer::Accepted {
                leader_epoch,
                partition_epoch,
                isr,
            }) => {
                if leader_epoch == self.leader_epoch {
                    self.adopt(partition_epoch, &isr, None, &mut out);
                }
            }
            LeaderEvent::AlterPartitionAnswer(AlterPartitionAnswer::Rejected {
                leader_epoch,
                partition_epoch,
                error,
            }) => {
                if leader_epoch == self.leader_epoch {
                    self.isr.reject(partition_epoch, error, now_ms, self.config.alter_partition_retry_ms);
                    self.advance_high_watermark(&mut out);
                }
            }
            LeaderEvent::PartitionChanged(change) => {
                if change.leader_epoch == self.leader_epoch {
                    self.adopt(change.partition_epoch, &change.isr, Some(&change.replicas), &mut out);
                    self.maybe_expand_isr(now_ms, &mut out);
                }
            }
            LeaderEvent::AwaitReplication { id, end_offset } => {
                assert!(
                    end_offset <= self.log_end,
                    "produce {id} waits for {end_offset} past log end {}",
                    self.log_end
                );
                if !self.enough_in_sync() {
                    out.push(LeaderCommand::FailProduce { id, error: ProduceError::NotEnoughReplicasAfterAppend });
                } else if end_offset <= self.high_watermark {
                    out.push(LeaderCommand::AckProduce { id });
                } else {
                    self.waiters.insert(id, end_offset);
                }
            }
            LeaderEvent::CancelProduce { id } => {
                self.waiters.remove(id);
            }
        }
        out
    }

    /// Whether an acks=all produce may be appended now (Kafka checks the
    /// committed ISR before appending).
    pub fn check_produce(&self) -> Result<(), ProduceError> {
        if self.enough_in_sync() {
            Ok(())
        } else {
            Err(ProduceError::NotEnoughReplicas)
        }
    }

    /// Stops leading (new metadata made this replica a follower or removed
    /// it): every waiting produce fails.
    pub fn resign(mut self) -> Vec<LeaderCommand> {
        let ids = self.waiters.take_all();
        ids.into_iter().map(|id| LeaderCommand::FailProduce { id, error: ProduceError::NotLeaderOrFollower }).collect()
    }

    pub fn replica_id(&self) -> ReplicaId {
        self.me
    }

    pub fn leader_epoch(&self) -> u32 {
        self.leader_epoch
    }

    pub fn partition_epoch(&self) -> u32 {
        self.isr.partition_epoch()
    }

    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    pub fn log_end_offset(&self) -> u64 {
        self.log_end
    }

    pub fn replicas(&self) -> &[ReplicaId] {
        &self.replicas
    }

    /// The ISR the controller committed, ascending.
    pub fn isr(&self) -> Vec<ReplicaId> {
        self.isr.committed().iter().copied().collect()
    }

    /// The ISR the high watermark waits for: committed plus pending
    /// additions, ascending.
    pub fn maximal_isr(&self) -> Vec<ReplicaId> {
        self.isr.maximal().into_iter().collect()
    }

    /// The ISR of the AlterPartition in flight, if any.
    pub fn pending_isr(&self) -> Option<Vec<ReplicaId>> {
        self.isr.pending().map(|p| p.iter().copied().collect())
    }

    pub fn follower_replicated_end(&self, replica: ReplicaId) -> Option<u64> {
        self.followers.get(&replica).and_then(|p| p.replicated_end)
    }

    pub fn waiting_produces(&self) -> usize {
        self.waiters.len()
    }

    fn enough_in_sync(&self) -> bool {
        self.isr.committed().len() >= self.min_insync_replicas as usize
    }

    fn follower_fetch(&mut self, now_ms: u64, request: FetchRequest, out: &mut Vec<LeaderCommand>) {
        let replica = request.replica;
        let reply = |reply| LeaderCommand::FetchReply { replica, reply };
        if request.leader_epoch < self.leader_epoch {
            out.push(reply(FetchReply::Error(FetchError::FencedLeaderEpoch)));
            return;
        }
        if request.leader_epoch > self.leader_epoch {
            out.push(reply(FetchReply::Error(FetchError::UnknownLeaderEpoch)));
            return;
        }
        if replica == self.me || !self.followers.contains_key(&replica) {
            out.push(reply(FetchReply::Error(FetchError::NotLeader)));
            return;
        }
        if let Some(last_epoch) = request.last_fetched_epoch {
            // KIP-320/595: does the follower's last epoch end, here, at or
            // past its fetch offset? If not, its log diverges from ours.
            let end = self.epoch_history.end_offset_for(last_epoch, self.log_end);
            let diverging = match end {
                Some(e) => e.epoch < last_epoch || e.end_offset < request.fetch_offset,
                // An epoch newer than ours: nothing past our own latest
                // epoch's end can be ours.
                None => true,
            };
            if diverging {
                let (epoch, end_offset) = match end {
                    Some(e) => (e.epoch, e.end_offset),
                    None => (self.leader_epoch, self.log_end),
                };
                out.push(reply(FetchReply::Diverging { epoch, end_offset, high_watermark: self.high_watermark }));
                return;
            }
        }
        if request.fetch_offset < self.log_start || request.fetch_offset > self.log_end {
            out.push(reply(FetchReply::OffsetOutOfRange {
                log_start_offset: self.log_start,
                log_end_offset: self.log_end,
            }));
            return;
        }
        if let Some(progress) = self.followers.get_mut(&replica) {
            // A durable end past the fetch offset cannot be: it counts as
            // the fetch offset.
            let durable_end = request.durable_end.min(request.fetch_offset);
            progress.record_fetch(request.fetch_offset, durable_end, self.log_end, now_ms);
        }
        self.advance_high_watermark(out);
        self.maybe_expand_isr(now_ms, out);
        out.push(reply(FetchReply::Read {
            from: request.fetch_offset,
            high_watermark: self.high_watermark,
            log_start_offset: self.log_start,
        }));
    }

    /// Takes the controller's ISR at a newer partition epoch. A state
    /// without this leader in its ISR cannot come at the same leader epoch
    /// (the controller elects anew); it is ignored.
    fn adopt(
        &mut self,
        partition_epoch: u32,
        isr: &[ReplicaId],
        replicas: Option<&[ReplicaId]>,
        out: &mut Vec<LeaderCommand>,
    ) {
        let Some(isr_set) = unique_set(isr) else { return };
        let replicas = replicas.unwrap_or(&self.replicas).to_vec();
        if !isr_set.contains(&self.me)
            || !isr_set.iter().all(|r| replicas.contains(r))
            || unique_set(&replicas).is_none()
        {
            return;
        }
        if !self.isr.adopt(partition_epoch, isr_set) {
            return;
        }
        self.followers.retain(|r, _| replicas.contains(r));
        for &r in replicas.iter().filter(|&&r| r != self.me) {
            // A replica new to the assignment starts outside the ISR.
            self.followers.entry(r).or_insert_with(|| FollowerProgress::new(false, 0));
        }
        self.replicas = replicas;
        if !self.enough_in_sync() {
            for id in self.waiters.take_all() {
                out.push(LeaderCommand::FailProduce { id, error: ProduceError::NotEnoughReplicasAfterAppend });
            }
        }
        self.advance_high_watermark(out);
    }

    fn maybe_shrink_isr(&mut self, now_ms: u64, out: &mut Vec<LeaderCommand>) {
        if !self.isr.can_propose(now_ms) {
            return;
        }
        let lag_max = self.config.replica_lag_time_max_ms;
        let lagging: BTreeSet<ReplicaId> = self
            .isr
            .committed()
            .iter()
            .copied()
            .filter(|r| *r != self.me)
            .filter(|r| self.followers.get(r).is_none_or(|p| !p.is_caught_up(self.log_end, now_ms, lag_max)))
            .collect();
        if lagging.is_empty() {
            return;
        }
        let new_isr: BTreeSet<ReplicaId> = self.isr.committed().difference(&lagging).copied().collect();
        self.propose(new_isr, now_ms, out);
    }

    fn maybe_expand_isr(&mut self, now_ms: u64, out: &mut Vec<LeaderCommand>) {
        if !self.isr.can_propose(now_ms) {
            return;
        }
        let threshold = self.high_watermark.max(self.epoch_start_offset);
        let joining: Vec<ReplicaId> = self
            .followers
            .iter()
            .filter(|(r, p)| !self.isr.committed().contains(r) && p.replicated_end.is_some_and(|end| end >= threshold))
            .map(|(r, _)| *r)
            .collect();
        if joining.is_empty() {
            return;
        }
        let mut new_isr = self.isr.committed().clone();
        new_isr.extend(joining);
        self.propose(new_isr, now_ms, out);
    }

    fn propose(&mut self, new_isr: BTreeSet<ReplicaId>, now_ms: u64, out: &mut Vec<LeaderCommand>) {
        let partition_epoch = self.isr.partition_epoch();
        out.push(self.propose_command(&new_isr, partition_epoch));
        self.isr.propose(new_isr, now_ms);
    }

    fn propose_command(&self, isr: &BTreeSet<ReplicaId>, partition_epoch: u32) -> LeaderCommand {
        LeaderCommand::ProposeIsr {
            new_isr: isr.iter().copied().collect(),
            leader_epoch: self.leader_epoch,
            partition_epoch,
        }
    }

    /// High watermark = min(own durable end, replicated end of every member
    /// of the maximal ISR); it only moves forward, and not at all until
    /// every member has fetched from this leader.
    fn advance_high_watermark(&mut self, out: &mut Vec<LeaderCommand>) {
        let mut candidate = self.durable_end;
        for r in self.isr.maximal() {
            if r == self.me {
                continue;
            }
            match self.followers.get(&r).and_then(|p| p.replicated_end) {
                Some(end) => candidate = candidate.min(end),
                None => return,
            }
        }
        if candidate <= self.high_watermark {
            return;
        }
        self.high_watermark = candidate;
        out.push(LeaderCommand::HighWatermarkChanged(candidate));
        let reached = self.waiters.take_reached(candidate);
        let enough = self.enough_in_sync();
        for id in reached {
            out.push(if enough {
                LeaderCommand::AckProduce { id }
            } else {
                LeaderCommand::FailProduce { id, error: ProduceError::NotEnoughReplicasAfterAppend }
            });
        }
    }
}

fn unique_set(ids: &[ReplicaId]) -> Option<BTreeSet<ReplicaId>> {
    let set: BTreeSet<ReplicaId> = ids.iter().copied().collect();
    (set.len() == ids.len()).then_some(set)
}
