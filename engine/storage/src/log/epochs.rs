//! The log's leader epochs: starting one (a new leader), the
//! OffsetsForLeaderEpoch query (a follower finding where to truncate), and
//! keeping the cache (`leader_epochs.rs`) and its file (`epoch_file.rs`)
//! covering every batch of the log.
//!
//! The rule every change keeps: the file covers every batch on disk. A new
//! entry `(E, S)` is durable before any batch of epoch E is staged at S (the
//! appenders wait meanwhile, see [`PartitionLog::append_valid`]); an entry
//! made ahead of its batches (a leader that has appended nothing yet, or a
//! crash before they reached the disk) starts at or past the log end, and
//! opening drops exactly those. Truncation cuts the log first and the file
//! after, retention deletes segments first: a crash between the two leaves
//! extra entries past the end or before the start, which opening also
//! drops (or clamps), never a batch without its entry.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::rc::Rc;

use super::epoch_file;
use super::guards::{FailOnDrop, StateFlag};
use super::leader_epochs::{EpochEntry, LeaderEpochs};
use super::PartitionLog;
use crate::disk::{Storage, StorageFile};
use crate::error::{LogError, LogResult};
use crate::limits::MAX_LEADER_EPOCH_ENTRIES;
use crate::segment::scan::scan;
use crate::segment::{ActiveSegment, SealedSegment};

impl<S: Storage> PartitionLog<S> {
    /// Makes `epoch` the log's leader epoch from its current end: records
    /// `(epoch, log end offset)` durably, then stamps every batch appended
    /// from then on with it. A leader calls it when it takes over, before
    /// accepting appends, so its followers' OffsetsForLeaderEpoch queries
    /// are answered from the start. Appenders wait while the entry is saved.
    ///
    /// An epoch below the log's is ignored (epochs never go back: reads
    /// refuse a stored batch whose epoch is above the log's); the current
    /// one again is a no-op. A failed save fails the log (what the file
    /// holds is unknown until it is reopened).
    pub async fn begin_leader_epoch(&self, epoch: u32) -> LogResult<()> {
        let _io = self.io.acquire().await;
        let _exclusive = StateFlag::exclusive(self);
        let start = {
            let st = self.state.borrow();
            st.check_failed()?;
            if epoch < st.leader_epoch || st.epochs.latest_epoch() == Some(epoch) {
                return Ok(());
            }
            EpochEntry { epoch, start_offset: st.next_offset() }
        };
        self.record_epoch_starts_locked(&[start]).await?;
        tracing::info!(dir = %self.dir.display(), epoch, start_offset = start.start_offset, "began leader epoch");
        Ok(())
    }

    /// Kafka's OffsetsForLeaderEpoch answer for `requested`: the largest
    /// cached epoch at or below it and where that epoch ends (the next
    /// epoch's start, or the log end offset for the latest). A requested
    /// epoch below every cached one (retention deleted their start) gets
    /// `(requested, start of the first cached epoch)`; one above every cached
    /// epoch, or an empty cache, gets None (Kafka's UNDEFINED_EPOCH_OFFSET).
    pub fn end_offset_for_epoch(&self, requested: u32) -> Option<(u32, u64)> {
        let st = self.state.borrow();
        st.epochs.end_offset_for(requested, st.next_offset())
    }

    /// The latest epoch in the cache (the one the last batches, or the
    /// leader's first coming batch, carry); None while the log is empty.
    pub fn latest_epoch(&self) -> Option<u32> {
        self.state.borrow().epochs.latest_epoch()
    }

    /// The cache's entries, oldest first (tests, metrics, tools).
    pub fn epoch_entries(&self) -> Vec<EpochEntry> {
        self.state.borrow().epochs.entries().to_vec()
    }

    /// The epoch [`Self::append_valid`] stamps into the next batch.
    pub fn leader_epoch(&self) -> u32 {
        self.state.borrow().leader_epoch
    }

    /// Adds `starts` (in order, each above the cache's latest) to the cache
    /// and saves it. Caller holds `io`, and appenders are held off
    /// (`StateFlag::exclusive`) until the batches the entries are for are staged.
    pub(super) async fn record_epoch_starts_locked(&self, starts: &[EpochEntry]) -> LogResult<()> {
        if starts.is_empty() {
            return Ok(());
        }
        let mut next = self.state.borrow().epochs.clone();
        for start in starts {
            if next.is_full() {
                return Err(LogError::Io(io::Error::other(format!(
                    "{}: leader epoch {} would be entry {} of the leader-epoch file, over the limit of {MAX_LEADER_EPOCH_ENTRIES}",
                    self.dir.display(),
                    start.epoch,
                    MAX_LEADER_EPOCH_ENTRIES + 1
                ))));
            }
            next.assign(start.epoch, start.start_offset);
        }
        self.save_epochs_locked(next).await
    }

    /// Saves `next` and makes it the cache (raising the log's epoch to its
    /// latest). Caller holds `io`.
    pub(super) async fn save_epochs_locked(&self, next: LeaderEpochs) -> LogResult<()> {
        let guard = FailOnDrop { log: self, what: "saving leader epochs" };
        let saved = epoch_file::save(&self.dir, &next).await;
        guard.disarm();
        saved.map_err(|e| self.fail("saving leader epochs", &e))?;
        let mut st = self.state.borrow_mut();
        if let Some(latest) = next.latest_epoch() {
            st.leader_epoch = st.leader_epoch.max(latest);
        }
        st.epochs = next;
        Ok(())
    }
}

/// The cache of a log being opened, whose segments are recovered: the file's
/// entries past the recovered end dropped (saved again if any were, so a
/// later append at those offsets is not misattributed), the one covering
/// the log start clamped to it. No file on a log that has batches (written
/// before leader epochs were kept): rebuilt once from the batch headers and
/// saved. With the file there, opening reads one small file and scans
/// nothing.
pub(super) async fn recover<F: StorageFile>(
    dir: &Path,
    sealed: &BTreeMap<u64, Rc<SealedSegment<F>>>,
    active: &ActiveSegment<F>,
    log_start: u64,
) -> LogResult<LeaderEpochs> {
    let log_end = active.next_offset();
    let mut epochs = match epoch_file::load(dir).await? {
        Some(mut epochs) => {
            if epochs.truncate_from_end(log_end) {
                tracing::warn!(dir = %dir.display(), log_end, "dropped leader epochs that start past the recovered log end");
                epoch_file::save(dir, &epochs).await?;
            }
            epochs
        }
        None if log_end > log_start => {
            let epochs = rebuild(sealed, active).await?;
            tracing::info!(dir = %dir.display(), entries = epochs.entries().len(), "rebuilt the leader-epoch file from batch headers");
            epoch_file::save(dir, &epochs).await?;
            epochs
        }
        None => LeaderEpochs::default(),
    };
    // Entries before the start are harmless on disk (nothing can be
    // appended there); the next save drops them.
    epochs.truncate_from_start(log_start);
    Ok(epochs)
}

/// Every segment's batch headers, walked in log order. A damaged batch
/// kept in a sealed segment (recovery keeps such a segment whole) ends that
/// segment's walk; the next segment goes on.
async fn rebuild<F: StorageFile>(
    sealed: &BTreeMap<u64, Rc<SealedSegment<F>>>,
    active: &ActiveSegment<F>,
) -> LogResult<LeaderEpochs> {
    let mut epochs = LeaderEpochs::default();
    for seg in sealed.values() {
        scan(&seg.files.log, 0, seg.size, seg.base_offset, |b| {
            epochs.observe_batch(b.leader_epoch, b.base_offset);
            true
        })
        .await?;
    }
    scan(&active.files.log, 0, active.size(), active.base_offset(), |b| {
        epochs.observe_batch(b.leader_epoch, b.base_offset);
        true
    })
    .await?;
    Ok(epochs)
}
