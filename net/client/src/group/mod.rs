//! [`GroupConsumer`]: a consumer that is a member of a consumer group (Kafka's
//! `subscribe` consumer): the group's members share the partitions of the
//! subscribed topics (each partition is read by one member), and the group's
//! committed offsets say where a member taking over a partition starts.
//! Groups are independent: every group reads every record (queue semantics
//! within a group, publish-subscribe across groups).
//!
//! # How it works
//!
//! `poll` drives everything on the caller's task; background tasks only
//! talk to the coordinator.
//!
//! - **Coordinator.** FindCoordinator on any core names the core that
//!   coordinates the group; the consumer opens a connection of its own to it
//!   (JoinGroup and SyncGroup are held there, so they must not share a
//!   connection with fetches). `NotCoordinator` / `CoordinatorNotAvailable` /
//!   a broken connection: find it again and retry.
//! - **Join.** The first `poll` starts a join task: JoinGroup (held by the
//!   coordinator until the generation forms), the leader's assignment with
//!   the chosen [`Assignor`] (the first of [`GroupConfig::assignors`] that
//!   every member offers, by votes), SyncGroup, then OffsetFetch for the
//!   partitions received. `poll` waits for it only up to its timeout (a
//!   later `poll` picks it up), so one task can drive several consumers.
//!   Each partition starts at the group's committed offset, or, when the
//!   group has none for it, per [`GroupConfig::auto_offset_reset`].
//! - **Heartbeats** every [`GroupConfig::heartbeat_interval`] from a
//!   background task. `RebalanceInProgress` (a member came or went, or the
//!   leader saw a topic grow) makes the next `poll` commit (with auto-commit
//!   on), call [`RebalanceListener::on_partitions_revoked`], give up every
//!   partition and rejoin with the same member id (the eager protocol).
//!   `IllegalGeneration` / `UnknownMemberId` (the member missed a rebalance
//!   or its session timed out) mean the partitions are already someone
//!   else's: [`RebalanceListener::on_partitions_lost`], no commit, and a
//!   rejoin (as a new member after `UnknownMemberId`).
//! - **Fetching** reuses [`Consumer`]: the assigned partitions are assigned
//!   to an inner consumer, which fetches from their owning cores.
//! - **Commits** carry the generation and member id: a member that is no
//!   longer in the generation cannot commit (so a partition's new owner is
//!   never overwritten by its old one). [`GroupConsumer::commit_sync`]
//!   commits the position of every assigned partition (the offset after the
//!   last record `poll` returned), [`GroupConsumer::commit_async`] the same
//!   in the background; with [`GroupConfig::auto_commit`], `poll` commits
//!   positions that changed every interval, and before partitions are
//!   revoked and on [`GroupConsumer::close`].
//! - **Metadata.** The leader re-reads the partition counts of the group's
//!   topics every [`GroupConfig::metadata_refresh`] and rejoins (so the group
//!   rebalances) when one changed, e.g. a subscribed topic gained partitions
//!   or was created.
//! - **Leaving.** [`GroupConsumer::close`] leaves the group at once (the
//!   others rebalance right away); a consumer dropped without `close` (or a
//!   crashed process) stays a member until its session times out, and its
//!   partitions move then. A member that does not call `poll` for
//!   [`GroupConfig::rebalance_timeout`] leaves the group from its heartbeat
//!   task (it is stuck, or processing takes too long); its next `poll` finds
//!   its partitions lost and joins again.
//!
//! Delivery is at least once: records returned by `poll` but not committed
//! when a partition moves are read again by its next owner.
//!
//! Lives on: the core that created it (`!Send`), like the rest of the client.
//!
//! ```no_run
//! use std::time::Duration;
//! use corelog_client::*;
//!
//! # async fn demo(cluster: &Cluster) -> Result<(), ClientError> {
//! let config = GroupConfig { auto_commit: None, ..GroupConfig::new("billing") };
//! let mut consumer = GroupConsumer::new(cluster, config)?;
//! consumer.subscribe(&["orders"])?;
//! loop {
//!     let records = consumer.poll(Duration::from_secs(1)).await?;
//!     for record in &records {
//!         println!("{}/{}@{}", record.topic, record.partition, record.offset);
//!     }
//!     if !records.is_empty() {
//!         consumer.commit_sync().await?; // processed: commit
//!     }
//! }
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use corelog_runtime::Task;
use futures::channel::oneshot;
use futures::future::LocalBoxFuture;

use super::assignors::{Assignor, TopicPartition};
use super::consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, StartAt};
use super::error::{ClientError, ClientResult};
use super::metadata::Cluster;
use corelog_protocol::{ErrorCode, LeaveGroupRequest, Request, Response, NO_GENERATION};

pub mod admin;
mod commit;
mod config;
mod heartbeat;
mod join;
mod listener;
mod rebalance;
mod session;

pub use admin::{GroupDescription, GroupListing, GroupMember};

use join::{JoinParams, Joined};
use session::{is_coordinator_error, Rejoin, Session};

pub use config::GroupConfig;
pub use listener::{CommitFuture, RebalanceListener};

/// A join in progress: its task and where it reports.
struct Joining {
    result: oneshot::Receiver<ClientResult<Joined>>,
    _task: Task<()>,
}

#[derive(Clone, Copy)]
enum Callback {
    Revoked,
    Assigned,
    Lost,
}

/// A consumer-group member. See the [module docs](self).
pub struct GroupConsumer {
    cluster: Cluster,
    config: GroupConfig,
    consumer: Consumer,
    session: Session,
    subscription: Vec<String>,
    /// The partitions of the current generation, assigned to `consumer`
    /// (empty between giving them up and the next generation).
    assignment: Vec<TopicPartition>,
    /// The last generation's partitions and that generation, reported in
    /// the next join (for the sticky assignor).
    owned: Vec<TopicPartition>,
    owned_generation: i32,
    /// In a generation, with its assignment applied.
    active: bool,
    joining: Option<Joining>,
    heartbeat: Option<Task<()>>,
    /// As the leader: the partition counts the assignment used.
    partition_counts: Option<BTreeMap<String, u32>>,
    leader: bool,
    next_metadata_check: Instant,
    next_auto_commit: Instant,
    listener: Option<Box<dyn RebalanceListener>>,
    in_callback: bool,
}

impl GroupConsumer {
    /// A member of `config.group_id` sharing `cluster`'s metadata and
    /// connections (it opens one more, to the group's coordinator). Nothing
    /// happens on the network before [`GroupConsumer::poll`].
    pub fn new(cluster: &Cluster, config: GroupConfig) -> ClientResult<GroupConsumer> {
        config.validate()?;
        let session = Session::new(cluster, &config.group_id);
        let consumer = Consumer::new(cluster, config.consumer.clone());
        let now = Instant::now();
        Ok(GroupConsumer {
            cluster: cluster.clone(),
            consumer,
            session,
            subscription: Vec::new(),
            assignment: Vec::new(),
            owned: Vec::new(),
            owned_generation: NO_GENERATION,
            active: false,
            joining: None,
            heartbeat: None,
            partition_counts: None,
            leader: false,
            next_metadata_check: now + config.metadata_refresh,
            next_auto_commit: now + config.auto_commit.unwrap_or_default(),
            listener: None,
            in_callback: false,
            config,
        })
    }

    /// Sets the listener called on assignment changes.
    pub fn set_rebalance_listener(&mut self, listener: impl RebalanceListener + 'static) {
        self.listener = Some(Box::new(listener));
    }

    /// Subscribes to `topics` (replacing the previous subscription). Topics
    /// that do not exist yet are assigned once they do (within the leader's
    /// metadata refresh). A changed subscription makes the member rejoin at
    /// the next `poll`.
    pub fn subscribe<T: AsRef<str>>(&mut self, topics: &[T]) -> ClientResult<()> {
        let mut topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_owned()).collect();
        if topics.is_empty() || topics.iter().any(String::is_empty) {
            return Err(ClientError::InvalidArgument("subscribe to at least one topic, by name".into()));
        }
        topics.sort();
        topics.dedup();
        if topics == self.subscription {
            return Ok(());
        }
        self.subscription = topics;
        if self.active || self.joining.is_some() {
            // A join with the old subscription is abandoned (the next one
            // supersedes it at the coordinator).
            self.joining = None;
            let generation = self.session.generation();
            self.session.request_rejoin(generation, Rejoin { reason: "the subscription changed", lost: false });
        }
        Ok(())
    }

    /// The subscribed topics, sorted.
    pub fn subscription(&self) -> &[String] {
        &self.subscription
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.config.group_id
    }

    /// The member id the coordinator gave this member (empty before the
    /// first join completes).
    pub fn member_id(&self) -> String {
        self.session.member_id()
    }

    /// The generation this member is in with its current assignment, if any.
    pub fn generation(&self) -> Option<i32> {
        self.active.then(|| self.session.generation())
    }

    /// Whether this member leads its generation (computes the assignment).
    pub fn is_leader(&self) -> bool {
        self.active && self.leader
    }

    /// The partitions assigned to this member in its current generation.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    /// The offset of the next record `poll` returns for an assigned partition.
    pub fn position(&self, topic: &str, partition: u32) -> Option<u64> {
        self.consumer.position(topic, partition)
    }

    /// The high watermark of an assigned partition as of the last fetch.
    pub fn high_watermark(&self, topic: &str, partition: u32) -> Option<u64> {
        self.consumer.high_watermark(topic, partition)
    }

    /// Records between an assigned partition's position and its high
    /// watermark, as of the last fetch.
    pub fn lag(&self, topic: &str, partition: u32) -> Option<u64> {
        self.consumer.lag(topic, partition)
    }

    /// Moves an assigned partition's position to `offset` (the next `poll`
    /// reads from there; commits commit it).
    pub async fn seek(&mut self, topic: &str, partition: u32, offset: u64) -> ClientResult<()> {
        self.seek_to(topic, partition, StartAt::Offset(offset)).await
    }

    /// Moves an assigned partition's position to `to`.
    pub async fn seek_to(&mut self, topic: &str, partition: u32, to: StartAt) -> ClientResult<()> {
        if !self.assignment.contains(&TopicPartition::new(topic, partition)) {
            return Err(ClientError::InvalidArgument(format!(
                "partition {partition} of {topic:?} is not assigned to this member"
            )));
        }
        self.consumer.seek(topic, partition, to).await
    }

    /// The group's committed offset of a partition (any partition, assigned
    /// or not), asked of the coordinator: `None` if the group has none.
    pub async fn committed(&self, topic: &str, partition: u32) -> ClientResult<Option<u64>> {
        let tp = TopicPartition::new(topic, partition);
        let found =
            commit::fetch_committed(&self.session, std::slice::from_ref(&tp), self.config.consumer.retries).await?;
        Ok(found.get(&tp).copied().flatten())
    }

    /// The position of every assigned partition whose position is known.
    pub fn positions(&self) -> BTreeMap<TopicPartition, u64> {
        self.assignment
            .iter()
            .filter_map(|tp| self.consumer.position(&tp.topic, tp.partition).map(|p| (tp.clone(), p)))
            .collect()
    }

    /// Commits the position of every assigned partition (the offset after
    /// the last record `poll` returned) and waits for the coordinator's
    /// answer. Fails with the broker's `RebalanceInProgress`,
    /// `IllegalGeneration` or `UnknownMemberId` when the group has moved on
    /// (the next `poll` rejoins).
    pub async fn commit_sync(&self) -> ClientResult<()> {
        self.commit_offsets(&self.positions()).await
    }

    /// Commits `offsets` (per partition, the offset of the next record to
    /// process: the last processed one + 1) and waits for the answer.
    pub async fn commit_offsets(&self, offsets: &BTreeMap<TopicPartition, u64>) -> ClientResult<()> {
        commit::commit(&self.session, offsets, self.config.consumer.retries).await
    }

    /// Commits the positions of the assigned partitions in the background;
    /// the returned future (which need not be awaited) says how it went.
    pub fn commit_async(&self) -> CommitFuture {
        let (tx, rx) = oneshot::channel();
        self.spawn_commit(self.positions(), move |result| {
            let _ = tx.send(result);
        });
        CommitFuture { rx }
    }

    /// Like [`GroupConsumer::commit_async`], calling `callback` with the
    /// outcome (on this core, from the commit's task).
    pub fn commit_async_with(&self, callback: impl FnOnce(ClientResult<BTreeMap<TopicPartition, u64>>) + 'static) {
        self.spawn_commit(self.positions(), callback);
    }

    fn spawn_commit(
        &self,
        offsets: BTreeMap<TopicPartition, u64>,
        callback: impl FnOnce(ClientResult<BTreeMap<TopicPartition, u64>>) + 'static,
    ) {
        let session = self.session.clone();
        let retries = self.config.consumer.retries;
        corelog_runtime::spawn_detached(async move {
            let result = commit::commit(&session, &offsets, retries).await.map(|()| offsets);
            callback(result);
        });
    }

    /// Returns the next records of the partitions assigned to this member,
    /// waiting up to `timeout` for some (an empty vector if none came in
    /// time). Joins the group first (and rejoins whenever the group
    /// rebalances); commits on the auto-commit interval.
    pub async fn poll(&mut self, timeout: Duration) -> ClientResult<Vec<ConsumerRecord>> {
        if self.in_callback {
            return Err(ClientError::InvalidArgument("poll called from a rebalance listener".into()));
        }
        if self.subscription.is_empty() {
            return Err(ClientError::InvalidArgument("poll before subscribe".into()));
        }
        let _polling = self.session.polling();
        let deadline = Instant::now() + timeout;
        loop {
            if !self.ensure_active(deadline).await? {
                return Ok(Vec::new());
            }
            self.maybe_auto_commit();
            self.maybe_check_metadata().await;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let records = self.consumer.poll_or_wake(remaining, Some(self.session.wake())).await?;
            if !records.is_empty() || Instant::now() >= deadline {
                return Ok(records);
            }
        }
    }

    /// Leaves the group: commits (with auto-commit on), calls
    /// [`RebalanceListener::on_partitions_revoked`], sends LeaveGroup so
    /// the group rebalances at once, and closes the coordinator connection
    /// (the [`Cluster`] stays open). Returns the auto-commit's error, if any.
    pub async fn close(mut self) -> ClientResult<()> {
        self.joining = None;
        self.stop_heartbeat();
        let mut result = Ok(());
        let lost = self.session.take_rejoin().is_some_and(|r| r.lost);
        if self.active && !self.assignment.is_empty() {
            let partitions = self.assignment.clone();
            if lost {
                self.callback(Callback::Lost, &partitions).await;
            } else {
                if self.config.auto_commit.is_some() {
                    result = self.commit_sync().await;
                    if let Err(e) = &result {
                        tracing::warn!(group = %self.config.group_id, error = %e, "commit on close failed");
                    }
                }
                self.callback(Callback::Revoked, &partitions).await;
            }
        }
        self.release_partitions();
        self.active = false;
        self.leave().await;
        self.session.close();
        result
    }
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group_id", &self.config.group_id)
            .field("member_id", &self.session.member_id())
            .field("generation", &self.generation())
            .field("subscription", &self.subscription)
            .field("assignment", &self.assignment)
            .finish()
    }
}

#[cfg(test)]
mod tests;
