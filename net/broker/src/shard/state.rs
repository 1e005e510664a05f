//! One core's shard: the partitions this core owns, its snapshot of the
//! metadata, and the handles to talk to the other cores.
//!
//! Lives on: exactly one core; `Shard` is `!Send` and every partition in it
//! is touched only by tasks of this core's executor.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use futures::channel::oneshot;
use futures::future::Shared;
use futures::FutureExt;

use super::messages::ControlMessage;
use super::partition::{partition_dir, Partition};
use crate::limits::{FdBudget, DIR_REMOVE_ATTEMPTS, DIR_REMOVE_RETRY_PAUSE};
use corelog_replication::metadata::{Command, Effect, Metadata, MetadataError, TopicConfig};
use corelog_runtime::ControlSender;
use corelog_storage::disk::DmaStorage;
use corelog_storage::log::PartitionLog;
use corelog_storage::{FdCache, LogError};

/// Where a partition lives, from this core's point of view.
pub enum Locate {
    Local(Rc<Partition>),
    /// Owned by another core of this broker.
    Remote {
        core: u32,
    },
    UnknownTopic,
    UnknownPartition,
}

pub struct Shard {
    pub core: u32,
    pub cores: u32,
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
    metadata: RefCell<Arc<Metadata>>,
    /// Control channel of every core, indexed by core id (this one included).
    peers: Vec<ControlSender<ControlMessage>>,
    ready_tx: RefCell<Option<oneshot::Sender<()>>>,
    ready: Shared<oneshot::Receiver<()>>,
    stop_tx: RefCell<Option<oneshot::Sender<()>>>,
    stopped: Shared<oneshot::Receiver<()>>,
}

impl Shard {
    pub fn new(
        core: u32,
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
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
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
    pub fn metadata(&self) -> Arc<Metadata> {
        self.metadata.borrow().clone()
    }

    pub fn locate(&self, topic: &str, partition: u32) -> Locate {
        if let Some(p) = self.partitions.borrow().get(&(topic.to_string(), partition)) {
            return Locate::Local(p.clone());
        }
        let metadata = self.metadata.borrow();
        match metadata.topics.get(topic) {
            None => Locate::UnknownTopic,
            Some(t) => match t.partitions.get(partition as usize) {
                None => Locate::UnknownPartition,
                // Assigned here but not open yet (startup or a create in flight).
                Some(core) if *core == self.core => Locate::UnknownPartition,
                Some(core) => Locate::Remote { core: *core },
            },
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
    pub async fn admin(&self, command: Command) -> Result<Arc<Metadata>, MetadataError> {
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
    /// them (see [`ControlMessage::Prepare`]). On the first that fails, the
    /// ones opened are closed and every directory made is removed.
    pub(super) async fn prepare(&self, effects: &[Effect]) -> Result<(), MetadataError> {
        for effect in effects {
            let Effect::Open { topic, partition, core, config } = effect else { continue };
            if *core != self.core {
                continue;
            }
            match self.open_partition(topic, *partition, config).await {
                Ok(part) => {
                    self.pending.borrow_mut().insert((topic.clone(), *partition), part);
                }
                Err(e) => {
                    let reason = self.explain(&e);
                    tracing::warn!(core = self.core, %topic, partition, %reason, "cannot open a new partition; undoing the command");
                    self.discard_pending().await;
                    // Opening may have made its directory before failing.
                    self.remove_partition_dir(topic, *partition).await;
                    return Err(MetadataError::CannotOpenPartition {
                        topic: topic.clone(),
                        partition: *partition,
                        reason,
                    });
                }
            }
        }
        Ok(())
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

    async fn open_partition(
        &self,
        topic: &str,
        partition: u32,
        config: &TopicConfig,
    ) -> Result<Rc<Partition>, LogError> {
        let dir = partition_dir(&self.data_dir, topic, partition);
        let log = PartitionLog::open_with_cache(&self.fds, &dir, config.log_config(self.tail_cache_bytes)).await?;
        Ok(Rc::new(Partition { topic: topic.to_string(), id: partition, log }))
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
    pub(super) async fn apply(&self, metadata: Arc<Metadata>, effects: &[Effect]) -> Result<(), String> {
        // The metadata naming them is saved: they may be served from now on.
        let prepared: Vec<_> = self.pending.borrow_mut().drain().collect();
        self.partitions.borrow_mut().extend(prepared);
        let mut first_error = None;
        for effect in effects {
            if let Err(e) = self.apply_one(effect).await {
                tracing::error!(core = self.core, ?effect, error = %e, "could not apply metadata effect");
                first_error.get_or_insert(e);
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
            // Partitions already in the metadata (at start); new ones come
            // prepared.
            Effect::Open { topic, partition, core, config } if *core == self.core => {
                let part = self
                    .open_partition(topic, *partition, config)
                    .await
                    .map_err(|e| format!("opening {topic}/{partition}: {}", self.explain(&e)))?;
                self.partitions.borrow_mut().insert((topic.clone(), *partition), part);
            }
            Effect::Remove { topic, partition, core } if *core == self.core => {
                let removed = self.partitions.borrow_mut().remove(&(topic.clone(), *partition));
                drop(removed);
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
