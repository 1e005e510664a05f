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
    /// truncateFromStart), in memory once the segments are deleted; the
    /// file drops them with its next save.
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
    ///
    /// Holds the log's `io` lock only to choose the victims and take them
    /// out of the log, and again to drop the leader epochs before the new
    /// start (in memory; see below): deleting (or
    /// recycling) their files and syncing the directory happen without it,
    /// so appends and their flushes go on meanwhile (the pass took 2–9 ms
    /// on the dev machine, a stall in every flush behind it). Nothing else
    /// touches those files: they are below the log start, which only
    /// retention moves, and reads can no longer pick them.
    pub async fn enforce_retention_at(&self, now_ms: u64) -> LogResult<RetentionOutcome> {
        let _pass = self.retention.acquire().await;
        let victims = {
            let _io = self.io.acquire().await;
            self.take_victims(now_ms)
        };
        let mut outcome = RetentionOutcome::default();
        // A victim may still be sealing (a roll's seal runs after the roll).
        // Let go before `io` is taken below: `sealing` is the last lock.
        let sealed = if victims.is_empty() { None } else { Some(self.sealing.acquire().await) };
        for victim in &victims {
            if victim.recyclable {
                let path = recycled::recycle(&self.storage, &self.dir, victim.base).await?;
                let mut st = self.state.borrow_mut();
                st.recycled = Some(path);
                st.stats.segments_recycled += 1;
            } else {
                SegmentFiles::remove(&self.storage, &self.dir, victim.base).await?;
            }
            outcome.deleted_segments += 1;
            outcome.deleted_bytes += victim.size;
        }
        drop(sealed);
        if outcome.deleted_segments > 0 {
            self.storage.sync_dir(&self.dir).await?;
            // In memory only: entries below the log start are harmless in
            // the file (recovery clamps them to the start, and nothing can
            // be appended there), and the next save drops them. Saving here
            // held `io` for a write, two fsyncs and a rename (0.8-2.5 ms on
            // the dev machine), a stall in every flush behind it; Kafka no
            // longer flushes this truncation either (KAFKA-15046). Under
            // `io`, so a save in flight cannot put the entries back.
            let _io = self.io.acquire().await;
            let start = self.log_start_offset();
            self.state.borrow_mut().epochs.truncate_from_start(start);
            tracing::info!(dir = %self.dir.display(), ?outcome, "retention deleted segments");
        }
        Ok(outcome)
    }

    /// Chooses the oldest sealed segments past the limits and takes them
    /// out of the log, the start moving past them (caller holds `io`). At
    /// most one is marked for recycling: none if a recycled file is kept
    /// already or one is coming from an earlier victim.
    fn take_victims(&self, now_ms: u64) -> Vec<Victim> {
        let config = self.config.borrow().clone();
        let mut st = self.state.borrow_mut();
        st.rolled_since_retention = false;
        let mut remaining = st.size_bytes();
        let mut victims = Vec::new();
        let mut recycling = st.recycled.is_some();
        while let Some((&base, seg)) = st.sealed.iter().next() {
            let expired = config.retention_ms.is_some_and(|ms| seg.max_timestamp < now_ms.saturating_sub(ms) as i64);
            let oversize = config.retention_bytes.is_some_and(|limit| remaining - seg.size >= limit);
            if !(expired || oversize) {
                break;
            }
            remaining -= seg.size;
            let segment = st.sealed.remove(&base).expect("the first sealed segment is there");
            // A read still holding the segment reads its file: that file
            // must not be overwritten under it, so it is deleted (an open
            // file outlives its name) rather than recycled.
            let recyclable = !recycling && !segment.file_in_use();
            recycling |= recyclable;
            victims.push(Victim { base, size: segment.size, recyclable });
        }
        if !victims.is_empty() {
            // No read may pick a segment being deleted.
            st.read_ahead = None;
            st.log_start_offset = st.sealed.keys().next().copied().unwrap_or(st.active.base_offset());
            st.stats.segments_deleted += victims.len() as u64;
        }
        victims
    }
}

/// A sealed segment retention took out of the log.
struct Victim {
    base: u64,
    size: u64,
    /// Its log becomes the recycled file instead of being deleted.
    recyclable: bool,
}
