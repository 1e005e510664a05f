//! Retention: deleting whole sealed segments by age and by partition size.
//! One deleted segment's log is kept to write the next segment into
//! (`segment/recycled.rs`) when no reader holds it and none is kept yet.

use super::{now_ms, PartitionLog};
use crate::disk::Storage;
use crate::error::LogResult;
use crate::segment::{recycled, SegmentFiles};

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub deleted_segments: u64,
    pub deleted_bytes: u64,
}

impl<S: Storage> PartitionLog<S> {
    /// Deletes the oldest sealed segments that are past `retention_ms`
    /// (their newest record is older) or that the partition can lose and
    /// still hold at least `retention_bytes`. The active segment is never
    /// deleted. Advances the log start offset; the leader epoch covering the
    /// new start is clamped to it and earlier ones go (Kafka's
    /// truncateFromStart), saved after the segments are deleted.
    pub async fn enforce_retention(&self) -> LogResult<RetentionOutcome> {
        self.enforce_retention_at(now_ms()).await
    }

    /// Whether retention should run before its next periodic check: a
    /// segment was rolled since it last ran and the log has a limit, so a
    /// partition at its limit deletes one segment per roll and the next roll
    /// writes into its file.
    pub fn retention_due(&self) -> bool {
        let config = self.config.borrow();
        self.state.borrow().rolled_since_retention
            && (config.retention_bytes.is_some() || config.retention_ms.is_some())
    }

    /// [`Self::enforce_retention`] with an explicit clock (tests).
    pub async fn enforce_retention_at(&self, now_ms: u64) -> LogResult<RetentionOutcome> {
        let _io = self.io.acquire().await;
        self.state.borrow_mut().rolled_since_retention = false;
        let config = self.config.borrow().clone();
        let victims: Vec<(u64, u64)> = {
            let st = self.state.borrow();
            let mut remaining = st.size_bytes();
            let mut victims = Vec::new();
            for seg in st.sealed.values() {
                let expired =
                    config.retention_ms.is_some_and(|ms| seg.max_timestamp < now_ms.saturating_sub(ms) as i64);
                let oversize = config.retention_bytes.is_some_and(|limit| remaining - seg.size >= limit);
                if !(expired || oversize) {
                    break;
                }
                remaining -= seg.size;
                victims.push((seg.base_offset, seg.size));
            }
            victims
        };
        let mut outcome = RetentionOutcome::default();
        for (base, size) in victims {
            let recyclable = {
                // Move the start first: no read may pick a segment being deleted.
                let mut st = self.state.borrow_mut();
                let segment = st.sealed.remove(&base);
                st.read_ahead = None;
                st.log_start_offset = st.sealed.keys().next().copied().unwrap_or(st.active.base_offset());
                st.stats.segments_deleted += 1;
                // A read still holding the segment reads its file: that file
                // must not be overwritten under it, so it is deleted (an
                // open file outlives its name) rather than recycled.
                st.recycled.is_none() && segment.is_some_and(|s| !s.file_in_use())
            };
            if recyclable {
                let path = recycled::recycle(&self.storage, &self.dir, base).await?;
                let mut st = self.state.borrow_mut();
                st.recycled = Some(path);
                st.stats.segments_recycled += 1;
            } else {
                SegmentFiles::remove(&self.storage, &self.dir, base).await?;
            }
            outcome.deleted_segments += 1;
            outcome.deleted_bytes += size;
        }
        if outcome.deleted_segments > 0 {
            self.storage.sync_dir(&self.dir).await?;
            let mut epochs = self.state.borrow().epochs.clone();
            if epochs.truncate_from_start(self.log_start_offset()) {
                self.save_epochs_locked(epochs).await?;
            }
            tracing::info!(dir = %self.dir.display(), ?outcome, "retention deleted segments");
        }
        Ok(outcome)
    }
}
