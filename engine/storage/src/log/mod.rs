//! The partition log: an ordered, durable, offset-addressed sequence of
//! batches made of sealed segments and one active segment.
//!
//! Concurrency model (one core, many tasks): `state` holds everything that
//! changes in memory and is never borrowed across an await; `io` is a fair
//! (FIFO) async lock that serializes every operation that mutates files (flush, roll,
//! truncate, retention). Appenders stage their bytes without waiting for the
//! disk and then wait for a flush to cover them, so one flush (one
//! fdatasync) covers every batch staged before it: group commit.
//!
//! Byte sequence: `appended_seq` counts bytes appended since open; a flush
//! records the sequence it covers in `written_seq` / `durable_seq`, which is
//! how an appender knows its batch is on disk, across segment rolls.
//!
//! High watermark: readers see only committed batches: fdatasync'd under
//! `Always`, written under `Interval` (what the policy promises to keep). A
//! consumer therefore never reads a record that a crash could take back.
//! With replication, consumers also wait for the in-sync replicas: the
//! replication layer owns that (the cluster's) high watermark and sets it on
//! the log (`set_replicated_high_watermark`); consumers read with
//! `read_bounded` up to `consumer_high_watermark` (the replicated value
//! capped at the local one). Either moving up wakes the `committed_changed`
//! waiters: one list serves both, each checking its own watermark on
//! waking. Followers read with `read_staged` up to the log end (staged
//! batches from the tail cache, as Kafka's followers read up to the
//! leader's log end), woken by `appended_changed`; that is safe because a
//! batch counts as replicated only once durable on the leader and on every
//! in-sync follower. A follower appends in two steps (`stage_replica`,
//! `finish_replica_append`) so its next fetch overlaps its write and sync.
//!
//! Leader epochs (KIP-101/279): the log keeps which epoch each stretch of it
//! was written under, in memory and in a small file, and an epoch's entry is
//! durable before its first batch is staged (`epochs.rs`). Leaders assign
//! offsets and stamp their epoch (`append_valid`); followers keep the
//! leader's (`append_replica`); both go through the same staging and group
//! commit (`append.rs`).
//!
//! Batches are of either stored format (native, or Kafka v2 as a Kafka
//! client sent it plus zero padding; `corelog_format::stored`). Everything
//! here reads them through the format-neutral `StoredBatch` / `ValidBatch`
//! accessors, so offsets, indexes, timestamps, retention, recovery,
//! truncation and the damage checks treat both alike.
//!
//! Lives on: the core that owns the partition; `PartitionLog` is `!Send`.

mod append;
mod cache;
pub mod config;
mod epoch_file;
mod epochs;
mod guards;
mod leader_epochs;
mod producer_state;
mod read;
mod readahead;
mod recovery;
mod replace_file;
mod replica_append;
pub mod retention;
mod roll;
mod truncate;
mod waiters;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

pub use cache::CachedBatch;
pub use config::{FlushPolicy, LogConfig, WriteBehind};
pub use epoch_file::FILE_NAME as LEADER_EPOCH_FILE_NAME;
pub(crate) use leader_epochs::file_len as leader_epoch_file_len;
pub use leader_epochs::EpochEntry;
pub use recovery::RecoveryReport;
pub use replica_append::{ReplicaAppendError, StagedAppend};

use crate::disk::{DmaStorage, Storage, StorageFile};
use crate::error::{LogError, LogResult};
use crate::segment::{ActiveSegment, FdCache, SealedSegment};
use cache::TailCache;
use corelog_runtime::ReadBuf;

/// Result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: u64,
    pub last_offset: u64,
}

/// Whole batches returned by a read. Each slice holds whole batches exactly
/// as stored (and as sent on the wire); a cached one holds them in two pieces.
///
/// Lives on: the core owning the partition (a disk slice is a core-local DMA
/// buffer).
#[derive(Clone)]
pub enum BatchSlice {
    /// One batch from the tail cache: its stored header, then the rest of
    /// the batch in the buffer it was appended from (no copy), then a Kafka
    /// batch's padding. A sender sends the pieces one after the other
    /// ([`CachedBatch::into_pieces`]).
    Memory(CachedBatch),
    /// From a segment file, in the DMA read buffer (no copy).
    Disk(ReadBuf),
}

impl BatchSlice {
    /// Bytes of the batches.
    pub fn len(&self) -> usize {
        match self {
            BatchSlice::Memory(b) => b.len(),
            BatchSlice::Disk(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches in one buffer: borrowed from a disk read, a copy of a
    /// cached batch (whose header and rest live apart). For callers that
    /// walk the batches (replays, checks); the fetch path sends the pieces.
    pub fn to_contiguous(&self) -> Cow<'_, [u8]> {
        match self {
            BatchSlice::Memory(b) => Cow::Owned([&b.header[..], &b.rest[..], &b.padding[..]].concat()),
            BatchSlice::Disk(r) => Cow::Borrowed(r),
        }
    }
}

/// What a read returns.
#[derive(Clone, Default)]
pub struct Fetched {
    pub slices: Vec<BatchSlice>,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    /// Offset below which everything is committed (and readable).
    pub high_watermark: u64,
}

impl Fetched {
    pub fn byte_len(&self) -> usize {
        self.slices.iter().map(|s| s.len()).sum()
    }
}

/// Counters a partition exposes (metrics read them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    pub appended_batches: u64,
    pub appended_bytes: u64,
    pub fsyncs: u64,
    pub fsync_micros_total: u64,
    /// Full chunks handed to their appenders to write at once (write-behind),
    /// rather than left to the next flush.
    pub chunks_written_early: u64,
    pub segments_rolled: u64,
    pub segments_deleted: u64,
    /// Deleted segments whose log was kept to write a new segment into, and
    /// new segments written into such a log (`segment/recycled.rs`).
    pub segments_recycled: u64,
    pub segments_reused: u64,
    /// Disk reads served from a read-ahead window (see `readahead.rs`).
    pub read_ahead_hits: u64,
    pub recovery: RecoveryReport,
    /// Distribution of the fdatasync latencies counted in `fsyncs` (whose
    /// sum is `fsync_micros_total`).
    pub fsync_latency: MicrosHistogram,
}

/// Buckets of a [`MicrosHistogram`].
pub const MICROS_HISTOGRAM_BUCKETS: usize = 26;

/// A fixed log2-bucket histogram of durations in microseconds: bucket `i`
/// (for `i < MICROS_HISTOGRAM_BUCKETS - 1`) counts durations in
/// `(2^(i-1), 2^i]` µs (bucket 0: at most 1 µs), the last one everything
/// above `2^24` µs (about 16.8 s). Recording is a shift and an add, so it
/// sits on the flush path; metrics turn it into whatever format they export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MicrosHistogram {
    buckets: [u64; MICROS_HISTOGRAM_BUCKETS],
}

impl MicrosHistogram {
    /// Counts one duration of `micros` microseconds.
    pub fn record(&mut self, micros: u64) {
        // ceil(log2(micros)), 0 for 0 and 1.
        let i = (u64::BITS - micros.saturating_sub(1).leading_zeros()) as usize;
        self.buckets[i.min(MICROS_HISTOGRAM_BUCKETS - 1)] += 1;
    }

    /// Per-bucket counts (not cumulative).
    pub fn buckets(&self) -> &[u64; MICROS_HISTOGRAM_BUCKETS] {
        &self.buckets
    }

    /// Inclusive upper bound of bucket `i` in microseconds; None for the last
    /// (unbounded) bucket.
    pub fn upper_bound_micros(i: usize) -> Option<u64> {
        (i < MICROS_HISTOGRAM_BUCKETS - 1).then(|| 1u64 << i)
    }

    /// Durations recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

pub(crate) struct LogState<F: StorageFile> {
    sealed: BTreeMap<u64, Rc<SealedSegment<F>>>,
    active: ActiveSegment<F>,
    cache: TailCache,
    log_start_offset: u64,
    /// Epoch stamped into appended batches, and the largest a stored batch
    /// may carry: never below the cache's latest epoch.
    leader_epoch: u32,
    /// Which epoch each stretch of the log was written under (`epochs.rs`).
    epochs: leader_epochs::LeaderEpochs,
    /// Set by the replication layer: the cluster's high watermark, which
    /// consumers read up to (see the module docs). None until first set.
    replicated_high_watermark: Option<u64>,
    appended_seq: u64,
    written_seq: u64,
    durable_seq: u64,
    /// Everything below `committed.offset` (at `committed.position` in the
    /// active segment) is committed: the high watermark.
    committed: Mark,
    /// Readers waiting for the high watermark to move (fetch long-polls).
    commit_waiters: waiters::Waiters,
    /// Replica fetches waiting for records to be staged.
    append_waiters: waiters::Waiters,
    /// Idempotent producers' recent batches; None until first needed
    /// (`producer_state.rs`).
    producers: Option<crate::producers::ProducerStates>,
    last_sync: Instant,
    /// A roll or truncation is rearranging segments: appenders must wait.
    exclusive: bool,
    /// A group-commit leader is flushing; others wait in `flush_waiters`.
    flushing: bool,
    /// A flush's writes or fdatasync are in flight (`flush_locked`): under
    /// `WriteBehind::BetweenFlushes` chunks that fill meanwhile are left to
    /// a flush's plan.
    flushing_io: bool,
    flush_waiters: Vec<futures::channel::oneshot::Sender<()>>,
    /// Positions (in the active segment) of chunks handed out for early
    /// writing whose writes haven't completed.
    chunks_in_flight: std::collections::BTreeSet<u64>,
    /// Batches of the active segment not yet durable, in log order.
    pending: std::collections::VecDeque<Pending>,
    chunk_waiters: Vec<futures::channel::oneshot::Sender<()>>,
    /// Set by a failed write/sync; cleared only by reopening.
    failed: Option<String>,
    stats: LogStats,
    /// The next window of the segment a consumer is reading from disk.
    read_ahead: Option<readahead::ReadAhead>,
    /// Truncations since open (a read-ahead never outlives one).
    truncations: u64,
    /// A deleted segment's log kept for the next roll (`segment/recycled.rs`).
    recycled: Option<PathBuf>,
    /// A segment was rolled since retention last ran: a partition at its
    /// limit can delete one now ([`PartitionLog::retention_due`]).
    rolled_since_retention: bool,
}

/// The end of one appended batch: where the high watermark may move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Position just past the batch in the active segment.
    end_pos: u64,
    /// Offset after the batch.
    next_offset: u64,
    /// `appended_seq` once the batch was staged.
    seq_end: u64,
}

/// An offset and the byte position where it starts in the active segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    offset: u64,
    position: u64,
}

impl<F: StorageFile> LogState<F> {
    /// Byte sequence known written (or durable, if `sync`).
    fn covered(&self, sync: bool) -> u64 {
        if sync {
            self.durable_seq
        } else {
            self.written_seq
        }
    }

    /// The last pending batch ending at or before `pos`.
    fn boundary_at(&self, pos: u64) -> Option<Pending> {
        let n = self.pending.partition_point(|p| p.end_pos <= pos);
        n.checked_sub(1).map(|i| self.pending[i])
    }

    fn end_mark(&self) -> Mark {
        Mark { offset: self.active.next_offset(), position: self.active.size() }
    }

    /// Moves the high watermark and wakes readers waiting on it.
    fn commit(&mut self, mark: Mark) {
        if mark.offset > self.committed.offset || mark.position != self.committed.position {
            let advanced = mark.offset > self.committed.offset;
            self.committed = mark;
            if advanced {
                self.wake_commit_waiters();
            }
        }
    }

    fn wake_commit_waiters(&mut self) {
        self.commit_waiters.wake_all();
    }

    /// Where consumers may read up to: the replicated high watermark, never
    /// past what is committed here.
    fn consumer_high_watermark(&self) -> u64 {
        let committed = self.committed.offset;
        self.replicated_high_watermark.map_or(committed, |hw| hw.min(committed))
    }

    fn check_failed(&self) -> LogResult<()> {
        match &self.failed {
            Some(reason) => Err(LogError::Failed(reason.clone())),
            None => Ok(()),
        }
    }

    fn next_offset(&self) -> u64 {
        self.active.next_offset()
    }

    fn size_bytes(&self) -> u64 {
        self.sealed.values().map(|s| s.size).sum::<u64>() + self.active.size()
    }
}

/// One partition's log. See the module docs for the concurrency model.
pub struct PartitionLog<S: Storage = DmaStorage> {
    dir: PathBuf,
    storage: S,
    /// Where sealed segments' files are opened (the core's cache, shared
    /// with its other logs); `storage` is the cache's own.
    fds: Rc<FdCache<S>>,
    config: RefCell<LogConfig>,
    state: RefCell<LogState<S::File>>,
    io: corelog_runtime::sync::Semaphore,
    /// One load of the producer state at a time.
    producers_loading: corelog_runtime::sync::Semaphore,
    /// Appends stage one at a time, in the order they asked (a FIFO turn
    /// taken before anything else an append awaits): a producer's
    /// pipelined batches, sent in order on one connection and handled by
    /// tasks spawned in that order, are staged in that order even when one
    /// of them waits for a roll or the producer state, so their sequences
    /// arrive in order.
    staging: corelog_runtime::sync::Semaphore,
    /// One retention pass at a time (it holds `io` only in part).
    retention: corelog_runtime::sync::Semaphore,
    /// Held by a rolled segment until its files are in sealed form
    /// (`roll.rs`, [`roll::PendingSeal`]): the roll lets the log go before
    /// that, so whatever removes or cuts a sealed segment's files
    /// (retention, truncation, a restart of the log) and the next roll
    /// take it first. Always the last lock taken: a seal takes no other.
    sealing: corelog_runtime::sync::Semaphore,
}

impl<S: Storage> PartitionLog<S> {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> u64 {
        self.state.borrow().log_start_offset
    }

    /// Offset the next appended record gets.
    pub fn log_end_offset(&self) -> u64 {
        self.state.borrow().next_offset()
    }

    /// Offset below which records are committed here (durable under the
    /// flush policy): the end of what [`Self::read`] serves.
    pub fn high_watermark(&self) -> u64 {
        self.state.borrow().committed.offset
    }

    /// Sets the replicated high watermark (the replication layer owns it:
    /// the smallest log end over the in-sync replicas on a leader, the
    /// leader's value on a follower). Consumers read up to
    /// [`Self::consumer_high_watermark`]. Moving it up wakes the
    /// [`Self::committed_changed`] waiters. It may move down (a new leader's
    /// can start lower); once set, it stays in force until the log is
    /// reopened.
    pub fn set_replicated_high_watermark(&self, high_watermark: u64) {
        let mut st = self.state.borrow_mut();
        let advanced = st.replicated_high_watermark.is_none_or(|old| high_watermark > old);
        st.replicated_high_watermark = Some(high_watermark);
        if advanced {
            st.wake_commit_waiters();
        }
    }

    /// The replicated high watermark as last set; None if never.
    pub fn replicated_high_watermark(&self) -> Option<u64> {
        self.state.borrow().replicated_high_watermark
    }

    /// Offset below which consumers may read: the replicated high watermark,
    /// capped at the local one ([`Self::high_watermark`]); the local one
    /// alone while no replicated one was set (a partition that is not
    /// replicated). Pass it to [`Self::read_bounded`].
    pub fn consumer_high_watermark(&self) -> u64 {
        self.state.borrow().consumer_high_watermark()
    }

    /// Resolves when the high watermark or the replicated high watermark
    /// next moves up (or the log is dropped). A waiter that cares about
    /// only one of them checks it again on waking. Dropped receivers are
    /// pruned (`waiters.rs`).
    pub fn committed_changed(&self) -> futures::channel::oneshot::Receiver<()> {
        self.state.borrow_mut().commit_waiters.subscribe()
    }

    /// Waits until every offset below `end_offset` is committed here
    /// (durable under the flush policy): what a duplicate batch's answer
    /// waits for, as its first append's answer did. Fails if the log fails.
    pub async fn wait_committed(&self, end_offset: u64) -> LogResult<()> {
        loop {
            let changed = {
                let st = self.state.borrow();
                st.check_failed()?;
                if st.committed.offset >= end_offset {
                    return Ok(());
                }
                drop(st);
                self.committed_changed()
            };
            if changed.await.is_err() {
                return Err(LogError::Failed("the log was closed".into()));
            }
        }
    }

    /// Resolves when batches are next staged (or the log is truncated or
    /// dropped): what a replica fetch reading up to the log end
    /// ([`Self::read_staged`]) waits for.
    pub fn appended_changed(&self) -> futures::channel::oneshot::Receiver<()> {
        self.state.borrow_mut().append_waiters.subscribe()
    }

    /// Senders held for [`Self::committed_changed`] waiters, live or not yet
    /// pruned (what a fetch long-poll costs an idle partition).
    pub fn commit_waiters(&self) -> usize {
        self.state.borrow().commit_waiters.len()
    }

    /// Bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.state.borrow().size_bytes()
    }

    pub fn segment_count(&self) -> usize {
        self.state.borrow().sealed.len() + 1
    }

    /// Bytes held by the tail cache.
    pub fn cache_bytes(&self) -> usize {
        self.state.borrow().cache.bytes()
    }

    pub fn stats(&self) -> LogStats {
        self.state.borrow().stats.clone()
    }

    pub fn config(&self) -> LogConfig {
        self.config.borrow().clone()
    }

    /// Applies a new config; segment size and age apply from the next roll.
    pub fn set_config(&self, config: LogConfig) {
        *self.config.borrow_mut() = config;
    }

    /// Epoch stamped into every batch appended from now on (replication).
    /// Epochs never go back (a lower one is ignored): reads refuse a stored
    /// batch whose epoch is above the log's, as damage.
    ///
    /// Not durable by itself: the first append under the new epoch records
    /// its start in the leader-epoch file before staging (appenders wait for
    /// that save). A leader should rather call [`Self::begin_leader_epoch`],
    /// which records the start at once, so followers' OffsetsForLeaderEpoch
    /// queries are answered before its first append.
    pub fn set_leader_epoch(&self, epoch: u32) {
        let mut st = self.state.borrow_mut();
        st.leader_epoch = st.leader_epoch.max(epoch);
    }

    /// Whether an earlier I/O error put the log into the failed state.
    pub fn failure(&self) -> Option<String> {
        self.state.borrow().failed.clone()
    }

    fn fail(&self, what: &str, error: &std::io::Error) -> LogError {
        let reason = format!("{what}: {error}");
        tracing::error!(dir = %self.dir.display(), %reason, "partition log failed; appends refused until reopened");
        self.state.borrow_mut().failed = Some(reason.clone());
        LogError::Failed(reason)
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::{MicrosHistogram, MICROS_HISTOGRAM_BUCKETS};

    #[test]
    fn micros_histogram_buckets_by_ceil_log2() {
        let mut h = MicrosHistogram::default();
        for micros in [0, 1, 2, 3, 4, 5, 1024, 1025, u64::MAX] {
            h.record(micros);
        }
        let b = h.buckets();
        assert_eq!(b[0], 2, "0 and 1 µs");
        assert_eq!(b[1], 1, "2 µs");
        assert_eq!(b[2], 2, "3 and 4 µs");
        assert_eq!(b[3], 1, "5 µs");
        assert_eq!(b[10], 1, "1024 µs");
        assert_eq!(b[11], 1, "1025 µs");
        assert_eq!(b[MICROS_HISTOGRAM_BUCKETS - 1], 1, "overflow");
        assert_eq!(h.count(), 9);
        assert_eq!(MicrosHistogram::upper_bound_micros(0), Some(1));
        assert_eq!(MicrosHistogram::upper_bound_micros(24), Some(1 << 24));
        assert_eq!(MicrosHistogram::upper_bound_micros(MICROS_HISTOGRAM_BUCKETS - 1), None);
    }
}
