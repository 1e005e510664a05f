//! One core's shard: the partitions this core owns, its snapshot of the
//! metadata, and the handles to talk to the other cores.
//!
//! Lives on: exactly one core; `Shard` is `!Send` and every partition in it
//! is touched only by tasks of this core's executor.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use futures::channel::oneshot;
use futures::future::Shared;
use futures::FutureExt;

use super::effects::Effect;
use super::messages::{AdminError, ControlMessage};
use super::partition::{partition_dir, Partition};
use crate::limits::{FdBudget, DIR_REMOVE_ATTEMPTS, DIR_REMOVE_RETRY_PAUSE};
use crate::producer_ids::ProducerIds;
use crate::replica::{resign, role_for, Role};
use corelog_protocol::Endpoint;
use corelog_replication::metadata::cluster::{ClusterMetadata, Command, PartitionAssignment};
use corelog_replication::metadata::{MetadataError, TopicConfig};
use corelog_replication::replica::{LeaderEvent, PartitionChange, ReplicaConfig};
use corelog_runtime::ControlSender;
use corelog_storage::disk::DmaStorage;
use corelog_storage::log::PartitionLog;
use corelog_storage::{FdCache, LogError};

/// Where a partition is led, from this core's point of view.
pub enum Locate {
    /// This core leads it.
    Local(Rc<Partition>),
    /// Another core of this broker, or another broker, leads it (this core
    /// may hold a follower replica of it).
    Elsewhere(Endpoint),
    /// It has no leader right now (an election is under way, or every
    /// in-sync replica is down), or its leader's endpoint is not known.
    NoLeader,
    UnknownTopic,
    UnknownPartition,
}

pub struct Shard {
    pub core: u32,
    pub cores: u32,
    /// This broker's node id.
    node_id: u32,
    /// The replication protocol's timing (replica.lag.time.max.ms...).
    replica_config: ReplicaConfig,
    data_dir: PathBuf,
    tail_cache_bytes: usize,
    /// How the open-file limit is spent (the same on every core).
    fd_budget: FdBudget,
    /// The sealed-segment files open on this core, shared by its partitions.
    fds: Rc<FdCache<DmaStorage>>,
    partitions: RefCell<HashMap<(String, u32), Rc<Partition>>>,
    /// Partitions whose log failed since this core started, with how their
    /// reopening goes (see reopen.rs).
    pub(super) reopening: RefCell<HashMap<(String, u32), super::reopen::Reopening>>,
    /// Partitions opened for a command the controller has not committed yet:
    /// not served, and removed again if the command fails.
    pending: RefCell<HashMap<(String, u32), Rc<Partition>>>,
    metadata: RefCell<Arc<ClusterMetadata>>,
    /// Control channel of every core, indexed by core id (this one included).
    peers: Vec<ControlSender<ControlMessage>>,
    ready_tx: RefCell<Option<oneshot::Sender<()>>>,
    ready: Shared<oneshot::Receiver<()>>,
    stop_tx: RefCell<Option<oneshot::Sender<()>>>,
    stopped: Shared<oneshot::Receiver<()>>,
    /// This core's producer ids (InitProducerId).
    producer_ids: ProducerIds,
}

impl Shard {
    pub fn new(
        core: u32,
        node_id: u32,
        replica_config: ReplicaConfig,
        data_dir: &Path,
        tail_cache_bytes: usize,
        fd_budget: FdBudget,
        peers: Vec<ControlSender<ControlMessage>>,
    ) -> Self {
        let (tx, rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        Shard {
            core,
            cores: peers.len() as u32,
            node_id,
            replica_config,
            data_dir: data_dir.to_path_buf(),
            tail_cache_bytes,
            fd_budget,
            fds: FdCache::new(DmaStorage, fd_budget.fd_cache_per_core),
            partitions: RefCell::default(),
            reopening: RefCell::default(),
            pending: RefCell::default(),
            metadata: RefCell::default(),
            peers,
            ready_tx: RefCell::new(Some(tx)),
            ready: rx.shared(),
            stop_tx: RefCell::new(Some(stop_tx)),
            stopped: stop_rx.shared(),
            producer_ids: ProducerIds::new(data_dir, node_id, core),
        }
    }

    /// This core's producer-id allocator.
    pub fn producer_ids(&self) -> &ProducerIds {
        &self.producer_ids
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn node_id(&self) -> u32 {
        self.node_id
    }

    pub fn fd_budget(&self) -> FdBudget {
        self.fd_budget
    }

    /// This core's cache of open sealed-segment files.
    pub fn fd_cache(&self) -> &Rc<FdCache<DmaStorage>> {
        &self.fds
    }

    /// Resolves once this core has opened its partitions at start.
    pub async fn ready(&self) {
        let _ = self.ready.clone().await;
    }

    /// Resolves when the shard is stopping: endpoints stop accepting and
    /// close their connections, so clients see the broker go away at once.
    pub async fn stopped(&self) {
        let _ = self.stopped.clone().await;
    }

    pub(super) fn stop_serving(&self) {
        if let Some(tx) = self.stop_tx.borrow_mut().take() {
            let _ = tx.send(());
        }
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.metadata.borrow().clone()
    }

    /// Where `topic`/`partition` is led. A partition open here but led
    /// elsewhere (a follower replica) is `Elsewhere`: produce and consumer
    /// fetches go to the leader.
    pub fn locate(&self, topic: &str, partition: u32) -> Locate {
        if let Some(p) = self.partitions.borrow().get(&(topic.to_string(), partition)) {
            if p.is_led_by(self.node_id) {
                return Locate::Local(p.clone());
            }
        }
        let metadata = self.metadata.borrow();
        let Some(t) = metadata.topics.get(topic) else { return Locate::UnknownTopic };
        let Some(assignment) = t.partitions.get(partition as usize) else { return Locate::UnknownPartition };
        match assignment.leader {
            // Led here, on this core, but not open yet (startup or a create
            // in flight).
            Some(leader) if leader == self.node_id && assignment.core == self.core => Locate::UnknownPartition,
            Some(leader) => endpoint_of(&metadata, leader, assignment.core).map_or(Locate::NoLeader, Locate::Elsewhere),
            None => Locate::NoLeader,
        }
    }

    /// Whether `partition` (this very instance) is the one this core serves.
    pub(super) fn holds(&self, partition: &Rc<Partition>) -> bool {
        let key = (partition.topic.clone(), partition.id);
        self.partitions.borrow().get(&key).is_some_and(|p| Rc::ptr_eq(p, partition))
    }

    /// Serves `fresh` instead of `old` (same topic and partition), unless
    /// `old` was removed or replaced meanwhile; true if it was swapped.
    pub(super) fn replace_partition(&self, old: &Rc<Partition>, fresh: Rc<Partition>) -> bool {
        let mut partitions = self.partitions.borrow_mut();
        match partitions.get_mut(&(old.topic.clone(), old.id)) {
            Some(current) if Rc::ptr_eq(current, old) => {
                *current = fresh;
                true
            }
            _ => false,
        }
    }

    /// Every partition this core owns.
    pub fn partitions(&self) -> Vec<Rc<Partition>> {
        self.partitions.borrow().values().cloned().collect()
    }

    /// Runs an admin command on the controller core and waits until every
    /// core has applied it.
    pub async fn admin(&self, command: Command) -> Result<Arc<ClusterMetadata>, AdminError> {
        let (reply, rx) = oneshot::channel();
        self.peers[0]
            .send_async(ControlMessage::Admin { command, reply })
            .await
            .map_err(|_| MetadataError::Storage("controller core is gone".into()))?;
        rx.await.map_err(|_| MetadataError::Storage("controller core dropped the request".into()))?
    }

    pub(super) fn peer(&self, core: u32) -> &ControlSender<ControlMessage> {
        &self.peers[core as usize]
    }

    /// Opens the new partitions `effects` give this core, without serving
    /// them (see [`ControlMessage::Prepare`]). If any fails, the ones opened
    /// are closed and every directory made is removed.
    pub(super) async fn prepare(&self, effects: &[Effect]) -> Result<(), MetadataError> {
        let mut failed = Vec::new();
        for (topic, partition, opened) in self.open_partitions(effects).await {
            match opened {
                Ok(part) => {
                    self.pending.borrow_mut().insert((topic.to_owned(), partition), part);
                }
                Err(e) => failed.push((topic, partition, e)),
            }
        }
        // Opens run together, so the first to fail in order may only have
        // seen a log failed by an error met before (its own epoch save
        // running out of descriptors, say): name a plain I/O error if any,
        // which carries the cause (and the descriptor advice).
        let Some((topic, partition, e)) =
            failed.iter().find(|(_, _, e)| matches!(e, LogError::Io(_))).or(failed.first())
        else {
            return Ok(());
        };
        let (topic, partition, reason) = (topic.to_string(), *partition, self.explain(e));
        tracing::warn!(core = self.core, %topic, partition, %reason, "cannot open a new partition; undoing the command");
        self.discard_pending().await;
        // Opening may have made their directories before failing.
        for (topic, partition, _) in &failed {
            self.remove_partition_dir(topic, *partition).await;
        }
        Err(MetadataError::CannotOpenPartition { topic, partition, reason })
    }

    /// Closes the partitions prepared on this core and removes their
    /// directories (and their topic's, once empty).
    pub(super) async fn discard_pending(&self) {
        let pending: Vec<_> = self.pending.borrow_mut().drain().collect();
        for ((topic, partition), part) in pending {
            drop(part);
            self.remove_partition_dir(&topic, partition).await;
        }
    }

    /// Why opening a partition failed, in words an operator can act on.
    fn explain(&self, e: &LogError) -> String {
        let LogError::Io(io) = e else { return e.to_string() };
        if corelog_runtime::os_error(io) == Some(libc::EMFILE) {
            format!(
                "{io}; the open-file limit of {} leaves room for about {} partitions (raise it: ulimit -n, LimitNOFILE=)",
                self.fd_budget.limit, self.fd_budget.partitions
            )
        } else {
            io.to_string()
        }
    }

    pub(super) async fn open_partition(
        &self,
        topic: &str,
        partition: u32,
        config: &TopicConfig,
        assignment: &PartitionAssignment,
        min_insync_replicas: u32,
    ) -> Result<Rc<Partition>, LogError> {
        let dir = partition_dir(&self.data_dir, topic, partition);
        let log = PartitionLog::open_with_cache(&self.fds, &dir, config.log_config(self.tail_cache_bytes)).await?;
        let part = Rc::new(Partition {
            topic: topic.to_string(),
            id: partition,
            log,
            assignment: RefCell::new(assignment.clone()),
            role: RefCell::new(Role::Offline),
            min_insync_replicas: Cell::new(min_insync_replicas),
        });
        self.take_role(&part).await?;
        Ok(part)
    }

    /// Acts on the partition's current assignment: as its leader, records
    /// the leader epoch (durably, before any batch of that epoch) so every
    /// batch appended from now on carries it; then takes the role (leader,
    /// follower, sole replica or offline) the assignment gives this broker.
    /// The previous role's waiting produces fail.
    pub(crate) async fn take_role(&self, part: &Partition) -> Result<(), LogError> {
        let assignment = part.assignment.borrow().clone();
        let leads = assignment.leader == Some(self.node_id);
        if leads && part.log.latest_epoch().is_none_or(|e| e < assignment.leader_epoch) {
            part.log.begin_leader_epoch(assignment.leader_epoch).await?;
        }
        // The same leader at the same epoch (an ISR change): the role goes
        // on, told of the change, so nothing in flight is lost.
        {
            let mut role = part.role.borrow_mut();
            match &mut *role {
                // (A new min.insync.replicas makes a new leader state: it
                // is part of how the state decides.)
                Role::Leader(l)
                    if leads
                        && l.state.leader_epoch() == assignment.leader_epoch
                        && l.min_insync_replicas == part.min_insync_replicas.get() =>
                {
                    drop(role);
                    crate::replica::leader_event(
                        part,
                        LeaderEvent::PartitionChanged(PartitionChange {
                            leader_epoch: assignment.leader_epoch,
                            partition_epoch: assignment.partition_epoch,
                            replicas: assignment.replicas.clone(),
                            isr: assignment.isr.clone(),
                        }),
                    );
                    return Ok(());
                }
                Role::Follower(f)
                    if assignment.leader == Some(f.state.leader())
                        && f.state.leader_epoch() == assignment.leader_epoch =>
                {
                    return Ok(());
                }
                Role::Sole if leads && assignment.replicas.len() == 1 => return Ok(()),
                _ => {}
            }
        }
        let role = role_for(part, self.node_id, &assignment, part.min_insync_replicas.get(), self.replica_config);
        resign(part.role.replace(role));
        Ok(())
    }

    /// Sleeps `pause` unless the shard stops first; false if it stopped.
    pub async fn wait_or_stop(&self, pause: std::time::Duration) -> bool {
        corelog_runtime::timeout(pause, self.stopped()).await.is_none()
    }

    /// Removes a partition's directory (after its log was dropped).
    ///
    /// Walking the directory takes a descriptor. Right after a create ran out
    /// of them there is none until the closes of the partitions just dropped
    /// reach the kernel, at the executor's next I/O cycle; so "too many open
    /// files" is retried after a pause (which is such a cycle).
    async fn remove_partition_dir(&self, topic: &str, partition: u32) {
        let dir = partition_dir(&self.data_dir, topic, partition);
        let mut attempt = 1;
        loop {
            match corelog_runtime::fs::remove_dir_all(&dir).await {
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) && attempt < DIR_REMOVE_ATTEMPTS => {
                    attempt += 1;
                    corelog_runtime::sleep(DIR_REMOVE_RETRY_PAUSE).await;
                }
                Err(e) => {
                    tracing::warn!(core = self.core, dir = %dir.display(), error = %e, "cannot remove a partition directory");
                    break;
                }
                Ok(()) => break,
            }
        }
        // The topic directory goes once its last partition is gone.
        if let Some(topic_dir) = dir.parent() {
            corelog_runtime::fs::remove_dir_if_empty(topic_dir).await;
        }
    }

    /// Serves the partitions prepared on this core, carries out the effects
    /// addressed to it and adopts `metadata`.
    pub(super) async fn apply(&self, metadata: Arc<ClusterMetadata>, effects: &[Effect]) -> Result<(), String> {
        // The metadata naming them is saved: they may be served from now on.
        let prepared: Vec<_> = self.pending.borrow_mut().drain().collect();
        self.partitions.borrow_mut().extend(prepared);
        let mut first_error = None;
        // Runs of opens (all of a start) go together; anything else in turn.
        let mut effects = effects.iter().peekable();
        while effects.peek().is_some() {
            let opens = std::iter::from_fn(|| effects.next_if(|e| matches!(e, Effect::Open { .. })));
            for (topic, partition, opened) in self.open_partitions(opens).await {
                match opened {
                    Ok(part) => {
                        self.partitions.borrow_mut().insert((topic.to_owned(), partition), part);
                    }
                    Err(e) => {
                        let e = format!("opening {topic}/{partition}: {}", self.explain(&e));
                        tracing::error!(core = self.core, error = %e, "could not apply metadata effect");
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(effect) = effects.next_if(|e| !matches!(e, Effect::Open { .. })) {
                if let Err(e) = self.apply_one(effect).await {
                    tracing::error!(core = self.core, ?effect, error = %e, "could not apply metadata effect");
                    first_error.get_or_insert(e);
                }
            }
        }
        *self.metadata.borrow_mut() = metadata;
        if let Some(tx) = self.ready_tx.borrow_mut().take() {
            let _ = tx.send(());
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn apply_one(&self, effect: &Effect) -> Result<(), String> {
        match effect {
            // Opens (partitions already in the metadata at start; new ones
            // come prepared) are `apply`'s, several at a time.
            Effect::Close { topic, partition, core } if *core == self.core => {
                let closed = self.partitions.borrow_mut().remove(&(topic.clone(), *partition));
                if let Some(p) = closed {
                    resign(p.role.replace(Role::Offline));
                    p.log.flush().await.map_err(|e| format!("closing {topic}/{partition}: {e}"))?;
                }
            }
            Effect::Assign { topic, partition, core, assignment, min_insync_replicas } if *core == self.core => {
                let part = self.partitions.borrow().get(&(topic.clone(), *partition)).cloned();
                if let Some(p) = part {
                    *p.assignment.borrow_mut() = assignment.clone();
                    p.min_insync_replicas.set(*min_insync_replicas);
                    self.take_role(&p).await.map_err(|e| format!("leading {topic}/{partition}: {e}"))?;
                }
            }
            Effect::Remove { topic, partition, core } if *core == self.core => {
                let removed = self.partitions.borrow_mut().remove(&(topic.clone(), *partition));
                if let Some(p) = removed {
                    resign(p.role.replace(Role::Offline));
                }
                let dir = partition_dir(&self.data_dir, topic, *partition);
                corelog_runtime::fs::remove_dir_all(&dir)
                    .await
                    .map_err(|e| format!("removing {}: {e}", dir.display()))?;
                // The topic directory goes once its last partition is gone.
                if let Some(topic_dir) = dir.parent() {
                    corelog_runtime::fs::remove_dir_if_empty(topic_dir).await;
                }
            }
            Effect::Reconfigure { topic, partition, core, config } if *core == self.core => {
                if let Some(p) = self.partitions.borrow().get(&(topic.clone(), *partition)) {
                    p.log.set_config(config.log_config(self.tail_cache_bytes));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Flushes every partition (indexes included) before a clean stop.
    pub(super) async fn close_all(&self) {
        for p in self.partitions() {
            if let Err(e) = p.log.flush().await {
                tracing::warn!(topic = %p.topic, partition = p.id, error = %e, "flush at shutdown failed");
            }
        }
        self.partitions.borrow_mut().clear();
    }
}

/// The client endpoint of `core` on broker `node`, if it is registered.
pub fn endpoint_of(metadata: &ClusterMetadata, node: u32, core: u32) -> Option<Endpoint> {
    let broker = metadata.brokers.get(&node)?;
    Some(Endpoint { node_id: node, core_id: core as u16, host: broker.host.clone(), port: broker.port_of(core)? })
}
