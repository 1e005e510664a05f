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
use corelog_replication::metadata::{Command, Effect, Metadata, MetadataError};
use corelog_runtime::ControlSender;
use corelog_storage::disk::DmaStorage;
use corelog_storage::log::PartitionLog;

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
    partitions: RefCell<HashMap<(String, u32), Rc<Partition>>>,
    /// Partitions whose log failed since this core started, with how their
    /// reopening goes (see reopen.rs).
    pub(super) reopening: RefCell<HashMap<(String, u32), super::reopen::Reopening>>,
    metadata: RefCell<Arc<Metadata>>,
    /// Control channel of every core, indexed by core id (this one included).
    peers: Vec<ControlSender<ControlMessage>>,
    ready_tx: RefCell<Option<oneshot::Sender<()>>>,
    ready: Shared<oneshot::Receiver<()>>,
    stop_tx: RefCell<Option<oneshot::Sender<()>>>,
    stopped: Shared<oneshot::Receiver<()>>,
}

impl Shard {
    pub fn new(core: u32, data_dir: &Path, tail_cache_bytes: usize, peers: Vec<ControlSender<ControlMessage>>) -> Self {
        let (tx, rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        Shard {
            core,
            cores: peers.len() as u32,
            data_dir: data_dir.to_path_buf(),
            tail_cache_bytes,
            partitions: RefCell::default(),
            reopening: RefCell::default(),
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

    /// Carries out the effects addressed to this core and adopts `metadata`.
    pub(super) async fn apply(&self, metadata: Arc<Metadata>, effects: &[Effect]) -> Result<(), String> {
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
            Effect::Open { topic, partition, core, config } if *core == self.core => {
                let dir = partition_dir(&self.data_dir, topic, *partition);
                let log = PartitionLog::open(DmaStorage, &dir, config.log_config(self.tail_cache_bytes))
                    .await
                    .map_err(|e| format!("opening {topic}/{partition}: {e}"))?;
                let part = Rc::new(Partition { topic: topic.clone(), id: *partition, log });
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
