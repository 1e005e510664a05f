//! Appending and flushing (group commit); rolling is in `roll.rs`.

use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;

use super::guards::{ChunkWriteGuard, FailOnDrop, LeaderGuard, StateFlag};
use super::leader_epochs::EpochEntry;
use super::replica_append::{check_replica_batches, ReplicaAppendError};
use super::roll::Sealing;
use super::{now_ms, AppendInfo, FlushPolicy, LogState, Mark, PartitionLog, Pending, WriteBehind};
use crate::disk::{Storage, StorageFile};
use crate::error::{LogError, LogResult};
use crate::limits::MAX_SEGMENT_BYTES;
use crate::segment::active::ChunkWrite;
use crate::segment::index_file::persist_planned;
use crate::segment::{ActiveSegment, FlushPlan, SegmentFiles};
use corelog_format::{BatchError, ValidBatch, ValidBatches};

impl<S: Storage> PartitionLog<S> {
    /// Appends one encoded batch (as built by `BatchBuilder` or received from
    /// a producer), assigning its offsets. Returns once the batch is durable
    /// under the flush policy: fdatasync'd for `Always`, written to the file
    /// (surviving a process crash) for `Interval`.
    ///
    /// Cancel safety: dropping the future before it first suspends appends
    /// nothing; dropped later, the batch may still be appended (and made
    /// durable by later flushes), exactly as if the caller had stopped
    /// waiting. Dropping it while its own chunk write is in flight puts the
    /// log into the failed state, since that write's fate is unknown.
    pub async fn append(&self, batch: BytesMut) -> LogResult<AppendInfo> {
        self.append_batches(vec![batch]).await
    }

    /// Appends several batches back to back (no other append lands between
    /// them), returning the first base offset and the last offset. Each
    /// buffer must hold exactly one batch in its stored form (a Kafka one
    /// with its zero padding); they are checked (framing and CRC) here.
    pub async fn append_batches(&self, batches: Vec<BytesMut>) -> LogResult<AppendInfo> {
        let max = self.config.borrow().max_batch_bytes;
        let mut valid = Vec::with_capacity(batches.len());
        for batch in batches {
            if batch.len() > max {
                return Err(LogError::BatchTooLarge { size: batch.len(), max });
            }
            match ValidBatch::new(batch.freeze(), max) {
                Ok(batch) => valid.push(batch),
                Err(BatchError::NotOneBatch { batch_length, received }) => {
                    return Err(LogError::NotOneBatch { batch_length, received })
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.append_valid(ValidBatches::from_batches(valid)?).await
    }

    /// [`Self::append_batches`] for batches already checked (the broker
    /// checks a producer's with the full network checks): nothing is parsed
    /// or checked again but the size limit, which may have changed since.
    /// The batches may be native or Kafka v2 ones. Their bytes are not
    /// modified: the stored header (base offset, leader epoch, in the
    /// batch's own format) is written into the segment's staging buffer
    /// along with the rest of each batch and a Kafka batch's padding (the
    /// one copy), and the tail cache keeps the given bytes with a copy of
    /// that header. A Kafka batch cannot carry an offset past i64::MAX or
    /// an epoch past i32::MAX: such an append is refused
    /// ([`LogError::InvalidBatch`]) and appends nothing.
    ///
    /// The first batch under a new leader epoch (after
    /// [`Self::set_leader_epoch`], or on a log without one) first records
    /// the epoch's start in the leader-epoch file, durably, while other
    /// appenders wait (`epochs.rs`); dropping the future during that save
    /// fails the log, as during a chunk write.
    pub async fn append_valid(&self, batches: ValidBatches) -> LogResult<AppendInfo> {
        match self.append_stamped(batches, Stamp::Assign).await {
            Ok(info) => Ok(info),
            Err(ReplicaAppendError::Log(e)) => Err(e),
            Err(refusal) => unreachable!("only replica appends are checked against the log: {refusal}"),
        }
    }

    /// The append path of leaders and followers: stages the batches (base
    /// offsets and epochs as `stamp` says), writes full chunks early, and
    /// waits for the flush policy's durability (group commit).
    pub(super) async fn append_stamped(
        &self,
        batches: ValidBatches,
        stamp: Stamp,
    ) -> Result<AppendInfo, ReplicaAppendError> {
        let staged = self.stage_stamped(batches, stamp).await?;
        Ok(self.finish_staged(staged).await?)
    }

    /// The first half of [`Self::append_stamped`]: checks the batches and
    /// stages them (they count in the log end and are readable by
    /// [`Self::read_staged`]), handing back the chunk writes that are now
    /// the caller's to do, with [`Self::finish_staged`].
    pub(super) async fn stage_stamped(
        &self,
        batches: ValidBatches,
        stamp: Stamp,
    ) -> Result<Staged<S::File>, ReplicaAppendError> {
        // Taken at the first poll when free, so appends stage in the order
        // they were called (see `PartitionLog::staging`).
        let _turn = self.staging.acquire().await;
        let max = self.config.borrow().max_batch_bytes;
        if let Some(batch) = batches.iter().find(|b| b.len() > max) {
            return Err(LogError::BatchTooLarge { size: batch.len(), max }.into());
        }
        let total = batches.byte_len() as u64;
        if stamp == Stamp::Assign {
            self.ensure_producers(&batches).await?;
        }
        let sealing = self.make_room(total).await?;
        let starts = {
            let st = self.state.borrow();
            st.check_failed()?;
            epoch_starts(&st, &batches, stamp)?
        };
        let mut staged = if starts.is_empty() {
            self.stage(batches, stamp)?
        } else {
            self.stage_starting_epochs(batches, stamp, total).await?
        };
        staged.sealing = staged.sealing.or(sealing);
        Ok(staged)
    }

    /// The second half of [`Self::append_stamped`]: writes the staged
    /// batches' full chunks and waits for the flush policy's durability
    /// (group commit). Dropping it while its chunk writes are in flight
    /// fails the log, as for an append.
    pub(super) async fn finish_staged(&self, staged: Staged<S::File>) -> LogResult<AppendInfo> {
        let Staged { info, seq, files, early, preallocate, sealing } = staged;
        let committed = async {
            if !early.is_empty() {
                self.write_early(&files, early, preallocate).await?;
            }
            let sync = self.config.borrow().flush == FlushPolicy::Always;
            self.wait_for(seq, sync).await
        };
        // The segment this append rolled is sealed while its group commit
        // runs.
        let sealed = async {
            match sealing {
                Some(s) => s.finished().await.map_err(|e| self.fail("sealing segment", &e)),
                None => Ok(()),
            }
        };
        let (committed, sealed) = futures::join!(committed, sealed);
        committed?;
        sealed?;
        Ok(info)
    }

    /// [`Self::stage`] for batches that start a new epoch (once per leader
    /// change): its entry is made durable first, and no other append may
    /// land between it and these batches, so the log is held for both.
    async fn stage_starting_epochs(
        &self,
        batches: ValidBatches,
        stamp: Stamp,
        total: u64,
    ) -> Result<Staged<S::File>, ReplicaAppendError> {
        let _io = self.io.acquire().await;
        let _exclusive = StateFlag::exclusive(self);
        // Others may have staged while this waited for the lock.
        let roll = self.needs_roll(&self.state.borrow().active, total);
        let sealing = if roll { Some(self.roll_inner().await?) } else { None };
        let starts = {
            let st = self.state.borrow();
            st.check_failed()?;
            epoch_starts(&st, &batches, stamp)?
        };
        self.record_epoch_starts_locked(&starts).await?;
        let mut staged = self.stage(batches, stamp)?;
        staged.sealing = sealing;
        Ok(staged)
    }

    /// Puts the batches into the active segment's staging buffer and the
    /// tail cache, and hands out the chunks that filled up. Never awaits:
    /// the caller checked the log (room, epochs, contiguity) just before.
    /// Each batch's header is stamped in its own format first, all before
    /// anything is staged, so a batch that cannot carry its offset or epoch
    /// (a Kafka batch past i64/i32) stages nothing.
    fn stage(&self, batches: ValidBatches, stamp: Stamp) -> LogResult<Staged<S::File>> {
        let mut st = self.state.borrow_mut();
        // Checked here, with no await before the staging: a concurrent
        // append of the same producer cannot slip in between.
        if stamp == Stamp::Assign {
            super::producer_state::check_sequences(&st, &batches)?;
        }
        let first_offset = st.active.next_offset();
        let budget = self.config.borrow().tail_cache_bytes;
        let mut stamped = Vec::with_capacity(batches.len());
        let mut base_offset = first_offset;
        for batch in &batches {
            let epoch = match stamp {
                Stamp::Assign => st.leader_epoch,
                Stamp::Keep => batch.header().leader_epoch(),
            };
            debug_assert!(stamp == Stamp::Assign || batch.header().base_offset() == base_offset, "checked");
            stamped.push((base_offset, epoch, batch.stamped_header(base_offset, epoch)?));
            base_offset = base_offset.saturating_add(u64::from(batch.last_offset_delta()) + 1);
        }
        for (batch, (base_offset, epoch, header)) in batches.into_iter().zip(stamped) {
            let len = batch.len() as u64;
            debug_assert!(
                st.epochs.entries().iter().any(|e| e.epoch == epoch && e.start_offset <= base_offset),
                "its epoch's entry is recorded first"
            );
            st.leader_epoch = st.leader_epoch.max(epoch);
            let staged = st.active.stage(base_offset, &header, &batch);
            st.appended_seq += len;
            st.stats.appended_batches += 1;
            st.stats.appended_bytes += len;
            let seq = st.appended_seq;
            st.pending.push_back(Pending {
                end_pos: staged.position + len,
                next_offset: staged.next_offset,
                seq_end: seq,
            });
            super::producer_state::record(&mut st, &batch, base_offset, staged.next_offset - 1);
            let padding = batch.padding_len();
            st.cache.push(base_offset, staged.next_offset, seq, header, batch.into_bytes(), padding);
        }
        let written = st.written_seq;
        st.cache.evict(budget, written);
        st.append_waiters.wake_all();
        // Full chunks stay staged during a flush if the log's writes and
        // syncs alternate (`WriteBehind::BetweenFlushes`): that flush's plan,
        // or the next one's, writes them.
        let hold = st.flushing_io && self.config.borrow().write_behind == WriteBehind::BetweenFlushes;
        let (early, preallocate) = if hold { (Vec::new(), None) } else { st.active.take_full_chunks() };
        st.stats.chunks_written_early += early.len() as u64;
        for w in &early {
            st.chunks_in_flight.insert(w.pos);
        }
        let info = AppendInfo { base_offset: first_offset, last_offset: st.active.next_offset() - 1 };
        Ok(Staged { info, seq: st.appended_seq, files: st.active.files.clone(), early, preallocate, sealing: None })
    }

    /// Writes chunks that filled up, right away, so the device works on them
    /// while an fdatasync for earlier data is in flight.
    async fn write_early(
        &self,
        files: &SegmentFiles<S::File>,
        chunks: Vec<ChunkWrite>,
        preallocate: Option<u64>,
    ) -> LogResult<()> {
        let positions: Vec<u64> = chunks.iter().map(|c| c.pos).collect();
        let guard = ChunkWriteGuard { log: self, positions: &positions };
        let result = async {
            if let Some(len) = preallocate {
                files.log.preallocate(len).await?;
            }
            futures::future::try_join_all(chunks.into_iter().map(|c| files.log.write_at(c.buf, c.pos))).await
        }
        .await;
        std::mem::forget(guard);
        self.chunks_done(&positions);
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail("segment write", &e)),
        }
    }

    /// Forgets finished chunk writes and wakes whoever waits on them.
    pub(super) fn chunks_done(&self, positions: &[u64]) {
        let mut st = self.state.borrow_mut();
        for pos in positions {
            st.chunks_in_flight.remove(pos);
        }
        for waiter in st.chunk_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    /// Makes everything appended so far durable (written and fdatasync'd),
    /// and writes the index tails.
    pub async fn flush(&self) -> LogResult<()> {
        {
            let _io = self.io.acquire().await;
            self.flush_locked(true, true, true).await?;
        }
        // And a rolled segment's seal under way (a broker stopping flushes
        // every log: the next open then finds every sealed segment sealed).
        drop(self.sealing.acquire().await);
        Ok(())
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
    /// A roll's seal is handed back, for the append to await.
    async fn make_room(&self, len: u64) -> LogResult<Option<Sealing>> {
        let mut sealing = None;
        loop {
            let (exclusive, roll) = {
                let st = self.state.borrow();
                st.check_failed()?;
                (st.exclusive, self.needs_roll(&st.active, len))
            };
            if exclusive {
                drop(self.io.acquire().await);
            } else if roll {
                let _io = self.io.acquire().await;
                let still = self.needs_roll(&self.state.borrow().active, len);
                if still {
                    sealing = Some(self.roll_locked().await?);
                }
            } else {
                return Ok(sealing);
            }
        }
    }

    fn needs_roll(&self, active: &ActiveSegment<S::File>, len: u64) -> bool {
        let segment_bytes = self.config.borrow().segment_bytes.min(MAX_SEGMENT_BYTES);
        !active.is_empty() && (active.size() + len > segment_bytes || now_ms() >= active.roll_deadline_ms)
    }

    /// Waits until byte sequence `seq` is written (and synced if `sync`).
    ///
    /// Group commit by leader election: if no flush is running, this task
    /// becomes the leader and flushes what is written so far; otherwise it
    /// waits for the running flush and checks again. Every waiter is woken
    /// when a flush ends, so none is passed over: a batch whose bytes are
    /// written before a flush starts is covered by that flush. A leader that
    /// made no progress (an earlier chunk's write still in flight) waits for
    /// a chunk write to finish instead of spinning.
    async fn wait_for(&self, seq: u64, sync: bool) -> LogResult<()> {
        loop {
            let waiter = {
                let mut st = self.state.borrow_mut();
                if st.covered(sync) >= seq {
                    return Ok(());
                }
                st.check_failed()?;
                if st.flushing {
                    let (tx, rx) = futures::channel::oneshot::channel();
                    st.flush_waiters.push(tx);
                    Some(rx)
                } else {
                    st.flushing = true;
                    None
                }
            };
            match waiter {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => {
                    let before = self.state.borrow().covered(sync);
                    let leader = LeaderGuard { log: self };
                    let result = async {
                        let _io = self.io.acquire().await;
                        let due = match self.config.borrow().flush {
                            FlushPolicy::Always => true,
                            FlushPolicy::Interval(i) => self.state.borrow().last_sync.elapsed() >= i,
                        };
                        self.flush_locked(sync || due, false, false).await
                    }
                    .await;
                    drop(leader);
                    let stalled = {
                        let st = self.state.borrow();
                        result.is_ok() && st.covered(sync) == before && !st.chunks_in_flight.is_empty()
                    };
                    result?;
                    if stalled {
                        self.chunk_write_finished().await;
                    }
                }
            }
        }
    }

    /// Resolves when any early chunk write finishes.
    async fn chunk_write_finished(&self) {
        let rx = {
            let mut st = self.state.borrow_mut();
            if st.chunks_in_flight.is_empty() {
                return;
            }
            let (tx, rx) = futures::channel::oneshot::channel();
            st.chunk_waiters.push(tx);
            rx
        };
        let _ = rx.await;
    }

    /// Waits until no early chunk write below `end` is in flight.
    async fn chunks_written_below(&self, end: u64) -> LogResult<()> {
        loop {
            {
                let st = self.state.borrow();
                st.check_failed()?;
                if st.chunks_in_flight.range(..end).next().is_none() {
                    return Ok(());
                }
            }
            self.chunk_write_finished().await;
        }
    }

    /// Writes what is staged and not yet handed out, advances the written
    /// point over every byte now on disk (up to the first chunk still being
    /// written), and if `sync`, fdatasyncs to make that durable. With
    /// `complete`, first waits for every chunk in flight, so everything
    /// appended is covered (rolls, truncation, explicit flushes). Caller
    /// holds `io`.
    pub(super) async fn flush_locked(&self, sync: bool, force_index: bool, complete: bool) -> LogResult<()> {
        let policy = self.config.borrow().flush;
        let _flushing = StateFlag::flushing_io(self);
        // Alternating, the sync starts with no early write in flight.
        let complete = complete || (sync && self.config.borrow().write_behind == WriteBehind::BetweenFlushes);
        let (files, plan, end) = {
            let mut st = self.state.borrow_mut();
            st.check_failed()?;
            let end = st.active.size();
            (st.active.files.clone(), st.active.plan_flush(), end)
        };
        if let Some(plan) = plan {
            let guard = FailOnDrop { log: self, what: "segment write" };
            let result = execute(&files, plan).await;
            guard.disarm();
            if let Err(e) = result {
                return Err(self.fail("segment write", &e));
            }
            self.state.borrow_mut().active.plan_done();
        }
        if complete {
            self.chunks_written_below(end).await?;
        }
        let target = {
            let mut st = self.state.borrow_mut();
            // Chunks handed out after the plan start at or past `end`.
            let covered = st.chunks_in_flight.range(..end).next().copied().unwrap_or(end);
            st.active.set_written(covered);
            let target = st.boundary_at(covered);
            if let Some(t) = target {
                st.written_seq = st.written_seq.max(t.seq_end);
                let budget = self.config.borrow().tail_cache_bytes;
                let written = st.written_seq;
                st.cache.evict(budget, written);
                if policy != FlushPolicy::Always {
                    st.commit(Mark { offset: t.next_offset, position: t.end_pos });
                }
            }
            target
        };
        let (oi, ti) = self.state.borrow_mut().active.plan_index_writes(force_index);
        let oi = persist_planned(&files.offset_index, oi).await.map_err(|e| self.fail("index write", &e))?;
        let ti = persist_planned(&files.time_index, ti).await.map_err(|e| self.fail("index write", &e))?;
        self.state.borrow_mut().active.index_written(oi, ti);
        let Some(target) = target else { return Ok(()) };
        if sync && self.state.borrow().durable_seq < target.seq_end {
            let started = Instant::now();
            // A rolled segment's first sync also makes its files' names
            // durable (`create_active`), both at once.
            let dir_pending = !self.state.borrow().active.dir_synced();
            let synced = if dir_pending {
                futures::future::try_join(files.log.fdatasync(), self.storage.sync_dir(&self.dir)).await.map(|_| ())
            } else {
                files.log.fdatasync().await
            };
            if let Err(e) = synced {
                return Err(self.fail("fdatasync", &e));
            }
            let mut st = self.state.borrow_mut();
            if dir_pending {
                st.active.set_dir_synced(true);
            }
            st.durable_seq = st.durable_seq.max(target.seq_end);
            st.commit(Mark { offset: target.next_offset, position: target.end_pos });
            while st.pending.front().is_some_and(|p| p.end_pos <= target.end_pos) {
                st.pending.pop_front();
            }
            st.last_sync = Instant::now();
            st.stats.fsyncs += 1;
            let micros = started.elapsed().as_micros() as u64;
            st.stats.fsync_micros_total += micros;
            st.stats.fsync_latency.record(micros);
        }
        Ok(())
    }
}

/// Runs a flush plan: preallocation, the data writes (concurrently), and
/// the index tails. Returns how many index entries each file now holds.
async fn execute<F: StorageFile>(files: &SegmentFiles<F>, plan: FlushPlan) -> std::io::Result<()> {
    if let Some(len) = plan.preallocate {
        files.log.preallocate(len).await?;
    }
    let writes = plan.writes.into_iter().map(|(pos, buf)| files.log.write_at(buf, pos));
    futures::future::try_join_all(writes).await.map(|_| ())
}

/// How an append gives each batch its base offset and leader epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stamp {
    /// The log's: the next offset and the log's leader epoch (a leader).
    Assign,
    /// The batch's own, as its leader assigned them (a follower).
    Keep,
}

/// Epoch entries the batches start, which must be durable before they are
/// staged; for a follower's batches, after checking them against the log.
fn epoch_starts<F: StorageFile>(
    st: &LogState<F>,
    batches: &ValidBatches,
    stamp: Stamp,
) -> Result<Vec<EpochEntry>, ReplicaAppendError> {
    match stamp {
        Stamp::Keep => check_replica_batches(st, batches),
        Stamp::Assign => {
            debug_assert!(st.epochs.latest_epoch().is_none_or(|latest| latest <= st.leader_epoch));
            Ok(if st.epochs.latest_epoch() == Some(st.leader_epoch) {
                Vec::new()
            } else {
                vec![EpochEntry { epoch: st.leader_epoch, start_offset: st.next_offset() }]
            })
        }
    }
}

/// Batches staged by one append: what it writes and waits for next.
pub(super) struct Staged<F: StorageFile> {
    pub(super) info: AppendInfo,
    /// `appended_seq` once they were staged.
    seq: u64,
    files: Rc<SegmentFiles<F>>,
    early: Vec<ChunkWrite>,
    preallocate: Option<u64>,
    /// The seal of the segment this append rolled, if it rolled.
    sealing: Option<Sealing>,
}
