//! Driving the group protocol from `poll`: joining, taking and giving up
//! partitions, callbacks, auto-commit and the metadata watch.

use super::*;

impl GroupConsumer {
    /// LeaveGroup, best effort (the session timeout removes the member otherwise).
    pub(super) async fn leave(&self) {
        let member_id = self.session.member_id();
        if member_id.is_empty() {
            return;
        }
        let request = Request::LeaveGroup(LeaveGroupRequest {
            group_id: self.config.group_id.clone(),
            member_id: member_id.clone(),
        });
        for _ in 0..3 {
            match self.session.send(&request, self.session.request_timeout()).await {
                Ok((addr, Response::LeaveGroup(resp))) if is_coordinator_error(resp.error) => {
                    self.session.forget_coordinator(addr);
                }
                Ok((_, Response::LeaveGroup(resp))) => {
                    if !resp.error.is_ok() && resp.error != ErrorCode::UnknownMemberId {
                        tracing::warn!(group = %self.config.group_id, error = %resp.error, "leaving the group failed");
                    }
                    tracing::debug!(group = %self.config.group_id, %member_id, "left the group");
                    return;
                }
                Ok((_, other)) => {
                    tracing::warn!(api = other.api_key_raw(), "leave group answered with another api");
                    return;
                }
                Err(e) => tracing::debug!(group = %self.config.group_id, error = %e, "leave group failed"),
            }
        }
    }

    /// Makes sure the member is in a generation with its assignment applied,
    /// waiting for a join until `deadline`: `Ok(false)` if it is not done by then.
    pub(super) async fn ensure_active(&mut self, deadline: Instant) -> ClientResult<bool> {
        loop {
            if let Some(rejoin) = self.session.take_rejoin() {
                if self.active {
                    tracing::info!(group = %self.config.group_id, reason = rejoin.reason, "rejoining the group");
                    self.give_up_partitions(rejoin.lost).await;
                }
            }
            if self.active {
                return Ok(true);
            }
            if self.joining.is_none() {
                self.start_join();
            }
            let joining = self.joining.as_mut().expect("a join was started");
            let wait = deadline.saturating_duration_since(Instant::now());
            let Some(result) = corelog_runtime::timeout(wait, &mut joining.result).await else {
                return Ok(false);
            };
            self.joining = None;
            let joined = result.unwrap_or(Err(ClientError::Closed))?;
            self.on_joined(joined).await?;
        }
    }

    pub(super) fn start_join(&mut self) {
        // Whatever was flagged before concerns the old generation.
        let _ = self.session.take_rejoin();
        let params = JoinParams {
            session: self.session.clone(),
            client_id: self.config.client_id.clone(),
            session_timeout: self.config.session_timeout,
            rebalance_timeout: self.config.rebalance_timeout,
            assignors: self.config.assignors.clone(),
            topics: self.subscription.clone(),
            owned: self.owned.clone(),
            owned_generation: self.owned_generation,
            retries: self.config.consumer.retries,
        };
        let (tx, rx) = oneshot::channel();
        let task = corelog_runtime::spawn(async move {
            let _ = tx.send(join::join(params).await);
        });
        self.joining = Some(Joining { result: rx, _task: task });
    }

    /// Applies a new generation's assignment: each partition starts at the
    /// group's committed offset (else per `auto_offset_reset`).
    pub(super) async fn on_joined(&mut self, joined: Joined) -> ClientResult<()> {
        let Joined { generation, member_id, leader, protocol, assignment, committed, partition_counts } = joined;
        tracing::info!(
            group = %self.config.group_id, %member_id, generation, leader, %protocol,
            partitions = assignment.len(), "joined the group"
        );
        if let Err(e) = self.assign_partitions(&assignment, &committed).await {
            // Undo; the next poll joins again (and gets this generation back).
            for tp in &assignment {
                self.consumer.unassign(&tp.topic, &[tp.partition]);
            }
            return Err(e);
        }
        self.session.forget_committed();
        let known: BTreeMap<TopicPartition, u64> =
            committed.iter().filter_map(|(tp, o)| o.map(|o| (tp.clone(), o))).collect();
        self.session.record_committed(&known);
        self.assignment = assignment.clone();
        self.owned = assignment.clone();
        self.owned_generation = generation;
        self.leader = leader;
        self.partition_counts = partition_counts;
        self.active = true;
        let now = Instant::now();
        self.next_metadata_check = now + self.config.metadata_refresh;
        self.next_auto_commit = now + self.config.auto_commit.unwrap_or_default();
        let interval = self.config.effective_heartbeat_interval();
        let max_poll_interval = self.config.rebalance_timeout;
        self.heartbeat =
            Some(corelog_runtime::spawn(heartbeat::run(self.session.clone(), interval, max_poll_interval)));
        self.callback(Callback::Assigned, &assignment).await;
        Ok(())
    }

    pub(super) async fn assign_partitions(
        &mut self,
        assignment: &[TopicPartition],
        committed: &BTreeMap<TopicPartition, Option<u64>>,
    ) -> ClientResult<()> {
        // The leader may have seen partitions our metadata cache has not.
        let stale: BTreeSet<&str> = assignment
            .iter()
            .filter(|tp| self.cluster.topic(&tp.topic).is_none_or(|t| tp.partition >= t.partition_count()))
            .map(|tp| tp.topic.as_str())
            .collect();
        if !stale.is_empty() {
            let names: Vec<&str> = stale.into_iter().collect();
            if let Err(e) = self.cluster.refresh_topics(&names).await {
                tracing::debug!(error = %e, "metadata refresh for the assignment failed");
            }
        }
        let reset = match self.config.auto_offset_reset {
            OffsetReset::Earliest => Some(StartAt::Earliest),
            OffsetReset::Latest => Some(StartAt::Latest),
            OffsetReset::None => None,
        };
        // One assign per topic and starting point.
        let mut groups: BTreeMap<(&str, StartKey), Vec<u32>> = BTreeMap::new();
        for tp in assignment {
            let start = match committed.get(tp).copied().flatten() {
                Some(offset) => StartAt::Offset(offset),
                None => reset.ok_or_else(|| {
                    ClientError::InvalidArgument(format!(
                        "group {:?} has no committed offset for {tp} and auto_offset_reset is none",
                        self.config.group_id
                    ))
                })?,
            };
            groups.entry((tp.topic.as_str(), StartKey(start))).or_default().push(tp.partition);
        }
        for ((topic, StartKey(start)), partitions) in groups {
            self.consumer.assign(topic, &partitions, start).await?;
        }
        Ok(())
    }

    /// Before rejoining: commit (auto-commit) and tell the listener, or
    /// report the partitions lost; then stop fetching them.
    pub(super) async fn give_up_partitions(&mut self, lost: bool) {
        self.stop_heartbeat();
        if !self.assignment.is_empty() {
            let partitions = self.assignment.clone();
            if lost {
                self.callback(Callback::Lost, &partitions).await;
            } else {
                if self.config.auto_commit.is_some() {
                    if let Err(e) = self.commit_sync().await {
                        tracing::warn!(group = %self.config.group_id, error = %e, "commit before the rebalance failed");
                    }
                }
                self.callback(Callback::Revoked, &partitions).await;
            }
        }
        self.release_partitions();
        self.active = false;
        self.partition_counts = None;
        self.leader = false;
    }

    pub(super) fn release_partitions(&mut self) {
        for tp in std::mem::take(&mut self.assignment) {
            self.consumer.unassign(&tp.topic, &[tp.partition]);
        }
    }

    pub(super) fn stop_heartbeat(&mut self) {
        self.heartbeat = None;
    }

    pub(super) async fn callback(&mut self, which: Callback, partitions: &[TopicPartition]) {
        let Some(mut listener) = self.listener.take() else { return };
        self.in_callback = true;
        match which {
            Callback::Revoked => listener.on_partitions_revoked(self, partitions).await,
            Callback::Assigned => listener.on_partitions_assigned(self, partitions).await,
            Callback::Lost => listener.on_partitions_lost(self, partitions).await,
        }
        self.in_callback = false;
        if self.listener.is_none() {
            self.listener = Some(listener);
        }
    }

    /// Commits changed positions in the background when the interval is up.
    pub(super) fn maybe_auto_commit(&mut self) {
        let Some(interval) = self.config.auto_commit else { return };
        let now = Instant::now();
        if now < self.next_auto_commit {
            return;
        }
        self.next_auto_commit = now + interval;
        let changed: BTreeMap<TopicPartition, u64> =
            self.positions().into_iter().filter(|(tp, o)| self.session.committed(tp) != Some(*o)).collect();
        if changed.is_empty() {
            return;
        }
        let group = self.config.group_id.clone();
        self.spawn_commit(changed, move |result| {
            if let Err(e) = result {
                tracing::debug!(%group, error = %e, "auto-commit failed");
            }
        });
    }

    /// As the leader: rejoin when a topic's partition count changed.
    pub(super) async fn maybe_check_metadata(&mut self) {
        let Some(counts) = &self.partition_counts else { return };
        if Instant::now() < self.next_metadata_check {
            return;
        }
        self.next_metadata_check = Instant::now() + self.config.metadata_refresh;
        let topics: BTreeSet<&str> = counts.keys().map(String::as_str).collect();
        let fresh = join::partition_counts(&self.cluster, &topics).await;
        if &fresh != counts {
            tracing::info!(group = %self.config.group_id, before = ?counts, now = ?fresh, "partition counts changed");
            let generation = self.session.generation();
            let why = "a subscribed topic's partition count changed";
            self.session.request_rejoin(generation, Rejoin { reason: why, lost: false });
        }
    }
}

/// [`StartAt`] as a map key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct StartKey(pub(super) StartAt);

impl StartKey {
    pub(super) fn rank(&self) -> (u8, i128) {
        match self.0 {
            StartAt::Earliest => (0, 0),
            StartAt::Latest => (1, 0),
            StartAt::Offset(o) => (2, i128::from(o)),
            StartAt::Timestamp(t) => (3, i128::from(t)),
        }
    }
}

impl PartialOrd for StartKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StartKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}
