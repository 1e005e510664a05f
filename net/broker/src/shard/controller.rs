//! The controller: the one core (core 0) that owns the metadata, applies
//! admin commands to it, persists it and fans the effects out to the cores.
//!
//! Commands are handled one at a time, in arrival order, so two admin
//! requests never interleave their effects.

use std::sync::Arc;

use futures::channel::oneshot;

use super::messages::ControlMessage;
use super::state::Shard;
use corelog_replication::metadata::{Command, Effect, Metadata, MetadataError, MetadataStore};

pub struct Controller {
    metadata: Metadata,
}

impl Controller {
    /// Takes over the saved metadata (read by [`ShardSet::start`] before the
    /// cores start, so a damaged file fails the start at once) and places every
    /// partition on this broker's cores (moving those whose core no longer
    /// exists).
    ///
    /// [`ShardSet::start`]: super::ShardSet::start
    pub fn load(shard: &Shard, mut metadata: Metadata) -> Result<(Controller, Vec<Effect>), MetadataError> {
        let store = MetadataStore::new(shard.data_dir());
        let before = metadata.version;
        let effects = metadata.start_on(shard.cores);
        if metadata.version != before {
            store.save(&metadata)?;
        }
        Ok((Controller { metadata }, effects))
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Validates, persists and distributes one command, all or nothing for
    /// new partitions: every one is opened on its core first, and only if
    /// all open is the new metadata saved and adopted. If one cannot be
    /// opened (out of file descriptors, disk full) or the save fails, every
    /// core closes and removes what it opened, the metadata stays as it was
    /// and the error is the answer.
    pub async fn handle(&mut self, shard: &Shard, command: Command) -> Result<Arc<Metadata>, MetadataError> {
        let mut next = self.metadata.clone();
        let effects = next.apply(command, shard.cores)?;
        let (opens, others): (Vec<Effect>, Vec<Effect>) =
            effects.into_iter().partition(|e| matches!(e, Effect::Open { .. }));
        if !opens.is_empty() {
            if let Err(e) = prepare(shard, &opens).await {
                discard(shard).await;
                return Err(e);
            }
        }
        // Write, fsync, rename, fsync dir: milliseconds on a busy disk, which
        // would stall every partition of this core, so off the executor.
        let (dir, saved) = (shard.data_dir().to_path_buf(), next.clone());
        if let Err(e) = corelog_runtime::blocking(move || MetadataStore::new(&dir).save(&saved)).await {
            discard(shard).await;
            return Err(e);
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
        let mine: Vec<Effect> = opens.iter().filter(|e| effect_core(e) == core).cloned().collect();
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
fn warn_past_budget(shard: &Shard, metadata: &Metadata) {
    let partitions: u64 = metadata.topics.values().map(|t| t.partitions.len() as u64).sum();
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
pub async fn distribute(shard: &Shard, metadata: Arc<Metadata>, effects: Vec<Effect>) -> Result<(), String> {
    let mut waits = Vec::new();
    for core in 0..shard.cores {
        if core == shard.core {
            continue;
        }
        let mine: Vec<Effect> = effects.iter().filter(|e| effect_core(e) == core).cloned().collect();
        let (done, rx) = oneshot::channel();
        let msg = ControlMessage::Apply { metadata: metadata.clone(), effects: mine, done };
        shard.peer(core).send_async(msg).await.map_err(|_| format!("core {core} is gone"))?;
        waits.push((core, rx));
    }
    let mine: Vec<Effect> = effects.iter().filter(|e| effect_core(e) == shard.core).cloned().collect();
    let mut result = shard.apply(metadata, &mine).await;
    for (core, rx) in waits {
        let r = rx.await.unwrap_or_else(|_| Err(format!("core {core} dropped the update")));
        if result.is_ok() {
            result = r;
        }
    }
    result
}

fn effect_core(effect: &Effect) -> u32 {
    match effect {
        Effect::Open { core, .. } | Effect::Remove { core, .. } | Effect::Reconfigure { core, .. } => *core,
    }
}
