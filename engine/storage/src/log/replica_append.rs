//! Follower appends: batches fetched from the partition's leader, stored with
//! the base offsets and leader epochs the leader gave them (byte for byte as
//! the leader stores them), through the same staging, group commit and
//! tail cache as a leader's appends (`append.rs`).

use super::append::{Staged, Stamp};
use super::leader_epochs::EpochEntry;
use super::{AppendInfo, LogState, PartitionLog};
use crate::disk::{Storage, StorageFile};
use crate::error::LogError;
use crate::error::LogResult;
use corelog_format::ValidBatches;

/// Why a follower append was refused (nothing was appended), or the log's
/// own error.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaAppendError {
    /// The first batch does not start at the log end: a gap (records
    /// missing) or an overlap (records already there). The fetcher asked
    /// from the wrong offset, or the log moved under it (a truncation).
    #[error("replica batches start at offset {base_offset}, but the log ends at {log_end_offset}")]
    NotAtLogEnd { base_offset: u64, log_end_offset: u64 },
    /// A later batch does not start where the one before it ends.
    #[error("replica batch at offset {base_offset} does not follow the previous batch, which ends at {expected}")]
    NotContiguous { base_offset: u64, expected: u64 },
    /// A batch's offsets run past the largest offset.
    #[error("replica batch at offset {base_offset} runs past the largest offset")]
    OffsetOverflow { base_offset: u64 },
    /// A batch's epoch is below the latest epoch already in the log (or
    /// below the batch before it): the leader's log never goes back.
    #[error("replica batch at offset {base_offset} has leader epoch {epoch}, below the log's latest {latest}")]
    EpochWentBack { base_offset: u64, epoch: u32, latest: u32 },
    #[error(transparent)]
    Log(#[from] LogError),
}

impl<S: Storage> PartitionLog<S> {
    /// Appends batches fetched from the leader, keeping each one's base
    /// offset and leader epoch (from its header) instead of assigning them.
    /// The first must start at the log end and each next one where the one
    /// before ends; epochs never go below the latest in the log. A batch
    /// whose epoch is above the latest first records `(epoch, base offset)`
    /// in the leader-epoch file, durably (once per leader change). Returns
    /// once durable under the flush policy, as [`Self::append_valid`] (with
    /// `Always`, after the fdatasync: the follower then reports the offsets
    /// as replicated). Refusals append nothing.
    ///
    /// Cancel safety as [`Self::append_valid`].
    pub async fn append_replica(&self, batches: ValidBatches) -> Result<AppendInfo, ReplicaAppendError> {
        self.append_stamped(batches, Stamp::Keep).await
    }

    /// [`Self::append_replica`] in two steps, so a follower can fetch its
    /// next records while these are written and synced: this one checks and
    /// stages them (the log end moves past them; refusals stage nothing),
    /// [`Self::finish_replica_append`] writes and syncs them.
    ///
    /// The [`StagedAppend`] must be finished, and soon: its chunk writes are
    /// its own, and a flush that must cover everything appended (a roll, a
    /// truncation) waits for them. Spawn the finish at once.
    pub async fn stage_replica(&self, batches: ValidBatches) -> Result<StagedAppend<S::File>, ReplicaAppendError> {
        Ok(StagedAppend(self.stage_stamped(batches, Stamp::Keep).await?))
    }

    /// Writes and syncs what [`Self::stage_replica`] staged; returns once it
    /// is durable under the flush policy. Cancel safety as
    /// [`Self::append_valid`].
    pub async fn finish_replica_append(&self, staged: StagedAppend<S::File>) -> LogResult<AppendInfo> {
        self.finish_staged(staged.0).await
    }
}

/// Replica batches staged in the log, their writes and sync still to come
/// ([`PartitionLog::stage_replica`]). Lives on the partition's core.
#[must_use = "staged batches must be finished: their chunk writes belong to them"]
pub struct StagedAppend<F: StorageFile>(Staged<F>);

impl<F: StorageFile> StagedAppend<F> {
    /// Offsets of the staged batches.
    pub fn info(&self) -> AppendInfo {
        self.0.info
    }
}

/// Checks replica batches against the log (see [`PartitionLog::append_replica`])
/// and returns the epoch entries they start, in order.
pub(super) fn check_replica_batches<F: StorageFile>(
    st: &LogState<F>,
    batches: &ValidBatches,
) -> Result<Vec<EpochEntry>, ReplicaAppendError> {
    let log_end_offset = st.next_offset();
    let mut expected = log_end_offset;
    let mut latest = st.epochs.latest_epoch();
    let mut starts = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let header = batch.header();
        let base_offset = header.base_offset();
        if base_offset != expected {
            return Err(if i == 0 {
                ReplicaAppendError::NotAtLogEnd { base_offset, log_end_offset }
            } else {
                ReplicaAppendError::NotContiguous { base_offset, expected }
            });
        }
        let epoch = header.leader_epoch();
        match latest {
            Some(latest) if epoch < latest => {
                return Err(ReplicaAppendError::EpochWentBack { base_offset, epoch, latest })
            }
            Some(latest) if epoch == latest => {}
            _ => {
                starts.push(EpochEntry { epoch, start_offset: base_offset });
                latest = Some(epoch);
            }
        }
        expected = base_offset
            .checked_add(u64::from(header.last_offset_delta()) + 1)
            .ok_or(ReplicaAppendError::OffsetOverflow { base_offset })?;
    }
    Ok(starts)
}
