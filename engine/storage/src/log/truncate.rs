//! truncate-to: cutting the log back to an offset (replication needs it to
//! discard a diverged suffix after a leader change), and restarting an
//! emptied log at a later offset (a follower that fell below its leader's
//! log start).

use super::cache::TailCache;
use super::guards::{FailOnDrop, StateFlag};
use super::recovery::{check_segment, resume_active, RecoveryReport};
use super::roll::create_active_synced;
use super::PartitionLog;
use crate::disk::{Storage, StorageFile};
use crate::error::{LogError, LogResult};
use crate::segment::scan::scan;
use crate::segment::SegmentFiles;

impl<S: Storage> PartitionLog<S> {
    /// Removes every record at or after `offset`. Batches are never split:
    /// the batch containing `offset` goes whole, so the new log end is that
    /// batch's base offset (<= `offset`), which is returned. Leader epochs
    /// that start at or after the new end go too (Kafka's truncateFromEnd),
    /// saved after the log is cut (`epochs.rs`).
    pub async fn truncate_to(&self, offset: u64) -> LogResult<u64> {
        let _io = self.io.acquire().await;
        let _exclusive = StateFlag::exclusive(self);
        // The last rolled segment may still be sealing: its files are cut
        // or removed here.
        let _sealed = self.sealing.acquire().await;
        self.truncate_inner(offset).await
    }

    /// Empties the log and restarts it at `offset`, at or past its end
    /// (Kafka's `truncateFullyAndStartAt`): a follower whose log ends below
    /// its leader's log start can only replicate from there. Offsets are not
    /// reused: the new start is never below the old end. Every segment goes,
    /// newest first, so a crash midway leaves a prefix of the old log (whose
    /// next fetch lands below the leader's start again); then an empty
    /// segment is created at `offset` and the leader epochs are cleared.
    /// Afterwards log start, log end and high watermark are all `offset`.
    pub async fn restart_at(&self, offset: u64) -> LogResult<()> {
        let _io = self.io.acquire().await;
        let _exclusive = StateFlag::exclusive(self);
        let _sealed = self.sealing.acquire().await;
        self.flush_locked(true, true, true).await?;
        let bases: Vec<u64> = {
            let st = self.state.borrow();
            let (log_start, log_end) = (st.log_start_offset, st.next_offset());
            if offset < log_end {
                return Err(LogError::OffsetOutOfRange { offset, log_start, log_end });
            }
            st.sealed.keys().copied().chain([st.active.base_offset()]).collect()
        };
        self.remove_producer_snapshot().await?;
        let guard = FailOnDrop { log: self, what: "restarting the log" };
        for base in bases.iter().rev() {
            self.state.borrow_mut().sealed.remove(base);
            SegmentFiles::remove(&self.storage, &self.dir, *base)
                .await
                .map_err(|e| self.fail("removing segment", &e))?;
        }
        self.storage.sync_dir(&self.dir).await.map_err(|e| self.fail("syncing the directory", &e))?;
        let config = self.config.borrow().clone();
        let active = create_active_synced(&self.fds, &self.dir, offset, &config).await;
        guard.disarm();
        let active = active.map_err(|e| self.fail("creating segment", &e))?;
        let mut epochs = {
            let mut st = self.state.borrow_mut();
            st.active = active;
            st.cache = TailCache::default();
            st.append_waiters.wake_all();
            st.producers = Some(Default::default());
            st.read_ahead = None;
            st.truncations += 1;
            st.pending.clear();
            st.log_start_offset = offset;
            st.committed = st.end_mark();
            st.stats.segments_deleted += bases.len() as u64;
            st.epochs.clone()
        };
        if epochs.truncate_from_end(0) {
            self.save_epochs_locked(epochs).await?;
        }
        tracing::info!(dir = %self.dir.display(), offset, "emptied the log and restarted it");
        Ok(())
    }

    async fn truncate_inner(&self, offset: u64) -> LogResult<u64> {
        self.flush_locked(true, true, true).await?;
        let (files, start, expected, limit, later) = {
            let st = self.state.borrow();
            let (log_start, log_end) = (st.log_start_offset, st.next_offset());
            if offset >= log_end {
                return Ok(log_end);
            }
            if offset < log_start {
                return Err(LogError::OffsetOutOfRange { offset, log_start, log_end });
            }
            let active_base = st.active.base_offset();
            if offset >= active_base {
                let (pos, base) = st.active.lookup(offset);
                (st.active.files.clone(), pos, base, st.active.size(), Vec::new())
            } else {
                let (&target, seg) = st.sealed.range(..=offset).next_back().expect("offset >= log start has a segment");
                let (pos, base) = seg.lookup(offset);
                let mut later: Vec<u64> = st.sealed.range(target + 1..).map(|(b, _)| *b).collect();
                later.push(active_base);
                (seg.files.clone(), pos, base, seg.size, later)
            }
        };
        let mut cut = None;
        scan(&files.log, start, limit, expected, |b| {
            if b.next_offset > offset {
                cut = Some((b.position, b.base_offset));
                return false;
            }
            true
        })
        .await?;
        let Some((cut_position, new_end)) = cut else {
            return Err(LogError::Corrupt {
                segment: files.base_offset,
                position: start,
                reason: format!("no batch holds offset {offset}"),
            });
        };

        self.remove_producer_snapshot().await?;
        // Later segments go first, newest first, so a crash midway leaves a
        // contiguous prefix that recovery accepts.
        let guard = FailOnDrop { log: self, what: "truncating" };
        for base in later.iter().rev() {
            self.state.borrow_mut().sealed.remove(base);
            SegmentFiles::remove(&self.storage, &self.dir, *base)
                .await
                .map_err(|e| self.fail("removing segment", &e))?;
        }
        self.state.borrow_mut().sealed.remove(&files.base_offset);
        files.log.truncate(cut_position).await.map_err(|e| self.fail("truncating segment", &e))?;
        files.log.fdatasync().await.map_err(|e| self.fail("fdatasync", &e))?;
        self.storage.sync_dir(&self.dir).await?;
        let base = files.base_offset;
        drop(files);

        let mut report = RecoveryReport::default();
        let checked = check_segment(&self.storage, base, &self.dir, &mut report, None).await?;
        let config = self.config.borrow().clone();
        let active = resume_active(checked, &self.fds, &self.dir, &config).await;
        guard.disarm();
        let active = active?;
        let mut epochs = {
            let mut st = self.state.borrow_mut();
            debug_assert_eq!(active.next_offset(), new_end);
            st.active = active;
            st.cache.truncate(new_end);
            st.append_waiters.wake_all();
            if let Some(producers) = &mut st.producers {
                producers.truncate_to(new_end);
            }
            st.read_ahead = None;
            st.truncations += 1;
            st.pending.clear();
            // Truncation may move the watermark back: it is exactly the new end.
            st.committed = st.end_mark();
            st.stats.segments_deleted += later.len() as u64;
            st.epochs.clone()
        };
        if epochs.truncate_from_end(new_end) {
            self.save_epochs_locked(epochs).await?;
        }
        tracing::info!(dir = %self.dir.display(), offset, new_end, "truncated log");
        Ok(new_end)
    }
}
