//! Appending, flushing (group commit) and rolling.

use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use rand::Rng;

use std::path::Path;

use super::{now_ms, AppendInfo, FlushPolicy, LogConfig, PartitionLog};
use crate::batch::{self, BatchHeader};
use crate::error::{LogError, LogResult};
use crate::limits::{MAX_SEGMENT_BYTES, SEGMENT_PREALLOCATE_STEP, SEGMENT_ROLL_JITTER_FRACTION};
use crate::segment::index_file::{write_planned, IndexFile};
use crate::segment::indexer::Indexer;
use crate::segment::{ActiveSegment, FlushPlan, SealedSegment, SegmentFiles};
use crate::storage::{Storage, StorageFile};

impl<S: Storage> PartitionLog<S> {
    /// Appends one encoded batch (as built by `BatchBuilder` or received from
    /// a producer), assigning its offsets. Returns once the batch is durable
    /// under the flush policy: fdatasync'd for `Always`, written to the file
    /// (surviving a process crash) for `Interval`.
    pub async fn append(&self, mut batch: BytesMut) -> LogResult<AppendInfo> {
        let max = self.config.borrow().max_batch_bytes;
        if batch.len() > max {
            return Err(LogError::BatchTooLarge { size: batch.len(), max });
        }
        let len = batch::validate(&batch, max)?.batch_length();
        if len != batch.len() {
            return Err(LogError::NotOneBatch { batch_length: len, received: batch.len() });
        }
        self.make_room(len as u64).await?;

        let (info, seq) = {
            let mut st = self.state.borrow_mut();
            st.check_failed()?;
            let base_offset = st.active.next_offset();
            let header = BatchHeader::parse_mut(&mut batch).expect("validated above");
            header.base_offset.set(base_offset);
            header.leader_epoch.set(st.leader_epoch);
            let staged = st.active.stage(&batch);
            st.appended_seq += len as u64;
            st.stats.appended_batches += 1;
            st.stats.appended_bytes += len as u64;
            let seq = st.appended_seq;
            st.cache.push(base_offset, staged.next_offset, seq, batch.freeze());
            let (budget, written) = (self.config.borrow().tail_cache_bytes, st.written_seq);
            st.cache.evict(budget, written);
            (AppendInfo { base_offset, last_offset: staged.next_offset - 1 }, seq)
        };
        let sync = self.config.borrow().flush == FlushPolicy::Always;
        self.wait_for(seq, sync).await?;
        Ok(info)
    }

    /// Makes everything appended so far durable (written and fdatasync'd),
    /// and writes the index tails.
    pub async fn flush(&self) -> LogResult<()> {
        let _io = self.io.lock().await;
        self.flush_locked(true, true).await
    }

    /// For the `Interval` policy: syncs if the interval has passed since the
    /// last fdatasync. Cheap to call often (the broker ticks it).
    pub async fn flush_if_due(&self) -> LogResult<()> {
        let FlushPolicy::Interval(interval) = self.config.borrow().flush else { return Ok(()) };
        let due = {
            let st = self.state.borrow();
            st.durable_seq < st.appended_seq && st.last_sync.elapsed() >= interval
        };
        if due {
            self.flush().await?;
        }
        Ok(())
    }

    /// Rolls first if the batch would overflow the active segment or the
    /// segment is past its age; waits out a roll or truncation in progress.
    async fn make_room(&self, len: u64) -> LogResult<()> {
        loop {
            let (exclusive, roll) = {
                let st = self.state.borrow();
                st.check_failed()?;
                (st.exclusive, self.needs_roll(&st.active, len))
            };
            if exclusive {
                drop(self.io.lock().await);
            } else if roll {
                let _io = self.io.lock().await;
                let still = self.needs_roll(&self.state.borrow().active, len);
                if still {
                    self.roll_locked().await?;
                }
            } else {
                return Ok(());
            }
        }
    }

    fn needs_roll(&self, active: &ActiveSegment<S::File>, len: u64) -> bool {
        let segment_bytes = self.config.borrow().segment_bytes.min(MAX_SEGMENT_BYTES);
        !active.is_empty() && (active.size() + len > segment_bytes || now_ms() >= active.roll_deadline_ms)
    }

    /// Waits until byte sequence `seq` is written (and synced if `sync`),
    /// flushing if nobody else is. Whoever takes the lock flushes everything
    /// staged so far, so waiters queued behind it usually find their bytes
    /// already covered.
    async fn wait_for(&self, seq: u64, sync: bool) -> LogResult<()> {
        loop {
            {
                let st = self.state.borrow();
                if (if sync { st.durable_seq } else { st.written_seq }) >= seq {
                    return Ok(());
                }
                st.check_failed()?;
            }
            let _io = self.io.lock().await;
            let done = {
                let st = self.state.borrow();
                (if sync { st.durable_seq } else { st.written_seq }) >= seq
            };
            if !done {
                let due = match self.config.borrow().flush {
                    FlushPolicy::Always => true,
                    FlushPolicy::Interval(i) => self.state.borrow().last_sync.elapsed() >= i,
                };
                self.flush_locked(sync || due, false).await?;
            }
        }
    }

    /// Writes what is staged and, if `sync`, fdatasyncs. Caller holds `io`.
    pub(super) async fn flush_locked(&self, sync: bool, force_index: bool) -> LogResult<()> {
        let policy = self.config.borrow().flush;
        let (files, plan, seq, mark) = {
            let mut st = self.state.borrow_mut();
            st.check_failed()?;
            let seq = st.appended_seq;
            (st.active.files.clone(), st.active.plan_flush(force_index), seq, st.end_mark())
        };
        if let Some(plan) = plan {
            let end = plan.end;
            let (oi, ti) = match execute(&files, plan).await {
                Ok(done) => done,
                Err(e) => return Err(self.fail("segment write", &e)),
            };
            let mut st = self.state.borrow_mut();
            st.active.flushed(end, oi, ti);
            st.written_seq = seq;
            let budget = self.config.borrow().tail_cache_bytes;
            st.cache.evict(budget, seq);
            if policy != FlushPolicy::Always {
                st.commit(mark);
            }
        }
        if sync && self.state.borrow().durable_seq < seq {
            let started = Instant::now();
            if let Err(e) = files.log.fdatasync().await {
                return Err(self.fail("fdatasync", &e));
            }
            let mut st = self.state.borrow_mut();
            st.durable_seq = seq;
            st.commit(mark);
            st.last_sync = Instant::now();
            st.stats.fsyncs += 1;
            st.stats.fsync_micros_total += started.elapsed().as_micros() as u64;
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at the log end. Caller
    /// holds `io`.
    pub(super) async fn roll_locked(&self) -> LogResult<()> {
        self.state.borrow_mut().exclusive = true;
        let result = self.roll_inner().await;
        self.state.borrow_mut().exclusive = false;
        result
    }

    async fn roll_inner(&self) -> LogResult<()> {
        self.flush_locked(true, true).await?;
        let sealed = {
            let st = self.state.borrow();
            let a = &st.active;
            (a.files.clone(), a.next_offset(), a.size(), a.max_timestamp())
        };
        let (files, next_offset, size, max_timestamp) = sealed;
        let (offsets, times) = {
            let st = self.state.borrow();
            (st.active.offset_index.entries().to_vec(), st.active.time_index.entries().to_vec())
        };
        if let Err(e) = seal_files(&files, size, &offsets, &times).await {
            return Err(self.fail("sealing segment", &e));
        }
        let config = self.config.borrow().clone();
        let active = match create_active(&self.storage, &self.dir, next_offset, &config).await {
            Ok(a) => a,
            Err(e) => return Err(self.fail("creating segment", &e)),
        };
        let mut st = self.state.borrow_mut();
        let old = std::mem::replace(&mut st.active, active);
        debug_assert_eq!(old.size(), size);
        let start = st.end_mark();
        st.commit(start);
        st.sealed.insert(
            files.base_offset,
            Rc::new(SealedSegment::new(files, next_offset, size, max_timestamp, offsets, times)),
        );
        st.stats.segments_rolled += 1;
        tracing::debug!(dir = %self.dir.display(), base_offset = next_offset, "rolled segment");
        Ok(())
    }
}

/// Creates the files of a new, empty active segment at `base_offset`.
pub(super) async fn create_active<S: Storage>(
    storage: &S,
    dir: &Path,
    base_offset: u64,
    config: &LogConfig,
) -> std::io::Result<ActiveSegment<S::File>> {
    let files = SegmentFiles::open(storage, dir, base_offset, true).await?;
    // Index files left by an earlier segment at this offset (a crash while
    // removing it) must not leak stale entries into the new one.
    files.offset_index.truncate(0).await?;
    files.time_index.truncate(0).await?;
    files.log.preallocate(SEGMENT_PREALLOCATE_STEP).await?;
    storage.sync_dir(dir).await?;
    Ok(ActiveSegment::resume(
        Rc::new(files),
        base_offset,
        0,
        &[],
        IndexFile::default(),
        IndexFile::default(),
        Indexer::new(base_offset, 0, i64::MIN, i64::MIN),
        roll_deadline(config),
    ))
}

/// Now plus the max segment age minus a random jitter, so partitions
/// created together don't roll together.
pub(super) fn roll_deadline(config: &LogConfig) -> u64 {
    let age = config.segment_max_age_ms;
    let jitter = (age as f64 * SEGMENT_ROLL_JITTER_FRACTION) as u64;
    let jitter = if jitter > 0 { rand::thread_rng().gen_range(0..jitter) } else { 0 };
    now_ms().saturating_add(age - jitter)
}

/// Runs a flush plan: preallocation, the data writes (concurrently), and
/// the index tails. Returns how many index entries each file now holds.
async fn execute<F: StorageFile>(
    files: &SegmentFiles<F>,
    plan: FlushPlan,
) -> std::io::Result<(Option<usize>, Option<usize>)> {
    if let Some(len) = plan.preallocate {
        files.log.preallocate(len).await?;
    }
    let writes = plan.writes.into_iter().map(|(pos, buf)| files.log.write_at(buf, pos));
    futures::future::try_join_all(writes).await?;
    let oi = write_planned(&files.offset_index, plan.offset_index).await?;
    let ti = write_planned(&files.time_index, plan.time_index).await?;
    Ok((oi, ti))
}

/// Turns a fully flushed active segment's files into their sealed form:
/// the log trimmed to its exact length, both indexes complete, all synced.
async fn seal_files<F: StorageFile>(
    files: &SegmentFiles<F>,
    size: u64,
    offsets: &[crate::segment::offset_index::OffsetEntry],
    times: &[crate::segment::time_index::TimeEntry],
) -> std::io::Result<()> {
    files.log.truncate(size).await?;
    files.log.fdatasync().await?;
    write_sealed_indexes(files, offsets, times).await
}

/// Writes both indexes whole, trimmed to their exact length, and syncs them.
pub(super) async fn write_sealed_indexes<F: StorageFile>(
    files: &SegmentFiles<F>,
    offsets: &[crate::segment::offset_index::OffsetEntry],
    times: &[crate::segment::time_index::TimeEntry],
) -> std::io::Result<()> {
    let mut oi = IndexFile::default();
    oi.replace(offsets.to_vec());
    let mut ti = IndexFile::default();
    ti.replace(times.to_vec());
    let (write, len) = oi.plan_sealed_write(&files.offset_index);
    files.offset_index.write_at(write.buf, write.pos).await?;
    files.offset_index.truncate(len).await?;
    files.offset_index.fdatasync().await?;
    let (write, len) = ti.plan_sealed_write(&files.time_index);
    files.time_index.write_at(write.buf, write.pos).await?;
    files.time_index.truncate(len).await?;
    files.time_index.fdatasync().await
}
