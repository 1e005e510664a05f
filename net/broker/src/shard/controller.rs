//! The controller of a one-node cluster: the one core (core 0) that owns
//! the metadata, applies admin commands to it, persists it and fans the
//! effects out to the cores. (In a cluster the controller quorum does this
//! and core 0 only adopts its images; see `adopt`.)
//!
//! Commands are handled one at a time, in arrival order, so two admin
//! requests never interleave their effects.

use std::sync::Arc;

use futures::channel::oneshot;

use super::effects::{diff, open_all, Effect};
use super::messages::ControlMessage;
use super::state::Shard;
use corelog_replication::metadata::cluster::{ClusterError, ClusterMetadata, ClusterStore, Command, KafkaListener};
use corelog_replication::metadata::MetadataError;

/// Who this one-node cluster's broker is, as it registers with itself.
#[derive(Debug, Clone)]
pub struct LocalBroker {
    pub node_id: u32,
    pub host: String,
    pub base_port: u16,
    /// Its Kafka listener, if it runs one.
    pub kafka: Option<KafkaListener>,
}

/// Lives on: core 0 of a broker started without controllers.
pub struct Controller {
    metadata: ClusterMetadata,
    node_id: u32,
}

impl Controller {
    /// Takes over the saved metadata (read by [`ShardSet::start`] before the
    /// cores start, so a damaged file fails the start at once) and registers
    /// this process as the cluster's one broker: a new incarnation, so like
    /// any restarted Kafka broker it is fenced (its partitions' leader
    /// epochs move on) and, being caught up with itself, unfenced at once.
    /// A restart with fewer cores moves the partitions of missing cores.
    ///
    /// [`ShardSet::start`]: super::ShardSet::start
    pub fn load(
        shard: &Shard,
        mut metadata: ClusterMetadata,
        broker: &LocalBroker,
    ) -> Result<(Controller, Vec<Effect>), ClusterError> {
        let incarnation = rand::random::<u64>() | 1;
        metadata.apply(Command::RegisterBroker {
            node_id: broker.node_id,
            incarnation,
            host: broker.host.clone(),
            base_port: broker.base_port,
            cores: shard.cores,
            kafka: broker.kafka.clone(),
        })?;
        let broker_epoch = metadata.broker(broker.node_id)?.broker_epoch;
        metadata.apply(Command::UnfenceBroker { node_id: broker.node_id, broker_epoch })?;
        ClusterStore::new(shard.data_dir()).save(&metadata)?;
        let effects = open_all(&metadata, broker.node_id);
        Ok((Controller { metadata, node_id: broker.node_id }, effects))
    }

    pub fn metadata(&self) -> &ClusterMetadata {
        &self.metadata
    }

    /// Validates, persists and distributes one command, all or nothing for
    /// new partitions: every one is opened on its core first, and only if
    /// all open is the new metadata saved and adopted. If one cannot be
    /// opened (out of file descriptors, disk full) or the save fails, every
    /// core closes and removes what it opened, the metadata stays as it was
    /// and the error is the answer.
    pub async fn handle(&mut self, shard: &Shard, command: Command) -> Result<Arc<ClusterMetadata>, ClusterError> {
        let mut next = self.metadata.clone();
        next.apply(command)?;
        let effects = diff(&self.metadata, &next, self.node_id);
        let (opens, others): (Vec<Effect>, Vec<Effect>) = effects.into_iter().partition(Effect::is_open);
        if !opens.is_empty() {
            if let Err(e) = prepare(shard, &opens).await {
                discard(shard).await;
                return Err(e.into());
            }
        }
        // Write, fsync, rename, fsync dir: milliseconds on a busy disk, which
        // would stall every partition of this core, so off the executor.
        let (dir, saved) = (shard.data_dir().to_path_buf(), next.clone());
        if let Err(e) = corelog_runtime::blocking(move || ClusterStore::new(&dir).save(&saved)).await {
            discard(shard).await;
            return Err(e.into());
        }
        self.metadata = next;
        let snapshot = Arc::new(self.metadata.clone());
        distribute(shard, snapshot.clone(), others).await.map_err(MetadataError::Storage)?;
        if !opens.is_empty() {
            warn_past_budget(shard, &self.metadata);
        }
        Ok(snapshot)
    }
}

/// Opens new partitions on their cores (held back from serving until
/// committed); waits for every core, so none is still opening when the
/// caller discards.
async fn prepare(shard: &Shard, opens: &[Effect]) -> Result<(), MetadataError> {
    let mut waits = Vec::new();
    for core in 0..shard.cores {
        let mine: Vec<Effect> = opens.iter().filter(|e| e.core() == core).cloned().collect();
        if core == shard.core || mine.is_empty() {
            continue;
        }
        let (done, rx) = oneshot::channel();
        let msg = ControlMessage::Prepare { effects: mine, done };
        shard.peer(core).send_async(msg).await.map_err(|_| MetadataError::Storage(format!("core {core} is gone")))?;
        waits.push((core, rx));
    }
    let mut result = shard.prepare(opens).await;
    for (core, rx) in waits {
        let r = rx.await.unwrap_or_else(|_| Err(MetadataError::Storage(format!("core {core} dropped the update"))));
        if result.is_ok() {
            result = r;
        }
    }
    result
}

/// Every core closes and removes the partitions it prepared.
async fn discard(shard: &Shard) {
    let mut waits = Vec::new();
    for core in (0..shard.cores).filter(|c| *c != shard.core) {
        let (done, rx) = oneshot::channel();
        if shard.peer(core).send_async(ControlMessage::Discard { done }).await.is_ok() {
            waits.push(rx);
        }
    }
    shard.discard_pending().await;
    for rx in waits {
        let _ = rx.await;
    }
}

/// Partitions past what the open-file limit leaves room for still open
/// (connections use the reserve), but the operator should know.
fn warn_past_budget(shard: &Shard, metadata: &ClusterMetadata) {
    let partitions = metadata.partitions_replicated_by(shard.node_id()).count() as u64;
    let budget = shard.fd_budget();
    if partitions > budget.partitions {
        tracing::warn!(
            partitions,
            room = budget.partitions,
            limit = budget.limit,
            "more partitions than the open-file limit leaves room for: connections may be refused; raise the limit"
        );
    }
}

/// Sends every core its effects and the new snapshot; this core applies its
/// own directly (its control loop is the caller). Waits for all.
pub async fn distribute(shard: &Shard, metadata: Arc<ClusterMetadata>, effects: Vec<Effect>) -> Result<(), String> {
    let mut waits = Vec::new();
    for core in 0..shard.cores {
        if core == shard.core {
            continue;
        }
        let mine: Vec<Effect> = effects.iter().filter(|e| e.core() == core).cloned().collect();
        let (done, rx) = oneshot::channel();
        let msg = ControlMessage::Apply { metadata: metadata.clone(), effects: mine, done };
        shard.peer(core).send_async(msg).await.map_err(|_| format!("core {core} is gone"))?;
        waits.push((core, rx));
    }
    let mine: Vec<Effect> = effects.iter().filter(|e| e.core() == shard.core).cloned().collect();
    let mut result = shard.apply(metadata, &mine).await;
    for (core, rx) in waits {
        let r = rx.await.unwrap_or_else(|_| Err(format!("core {core} dropped the update")));
        if result.is_ok() {
            result = r;
        }
    }
    result
}
