//! Rolling: sealing the active segment and starting a new one at the log
//! end (the sealed files trimmed, indexed and synced), and the producer
//! snapshot each roll leaves.
//!
//! A roll holds the log (`io`, exclusive) only to flush the active segment
//! whole and create its successor; putting the old segment's files in
//! sealed form (log trimmed to its length, both indexes written whole, three
//! fdatasyncs) and writing the producer snapshot the roll took are a
//! [`PendingSeal`] the appender that rolled carries out after letting the
//! log go, alongside its own group commit. Holding the
//! log for it stalled every append and flush of the partition 2-11 ms per
//! roll. Until the seal is done the segment's files are what they were
//! while it was active, synced: a crash then leaves a segment with a
//! successor whose indexes are not sealed, which recovery scans whole and
//! cuts at the end of its batches (preallocated zeros or a recycled file's
//! older batches follow them), as it does an active segment.
//!
//! Lives on: the partition's core.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use rand::Rng;

use super::guards::{FailOnDrop, StateFlag};
use super::producer_state::{write_producer_snapshot, ProducerSnapshot};
use super::{now_ms, LogConfig, PartitionLog};
use crate::disk::{Storage, StorageFile};
use crate::error::LogResult;
use crate::limits::{preallocation_end, SEGMENT_ROLL_JITTER_FRACTION};
use crate::segment::files::{segment_path, LOG_SUFFIX};
use crate::segment::index_file::IndexFile;
use crate::segment::indexer::Indexer;
use crate::segment::{ActiveSegment, FdCache, OpenSegment, SealedSegment, SegmentFiles};

impl<S: Storage> PartitionLog<S> {
    /// Seals the active segment and starts a new one at the log end. Caller
    /// holds `io`; the old segment's seal goes on after the roll returns,
    /// and the caller awaits its outcome once it has let the log go.
    pub(super) async fn roll_locked(&self) -> LogResult<Sealing> {
        let _exclusive = StateFlag::exclusive(self);
        self.roll_inner().await
    }

    pub(super) async fn roll_inner(&self) -> LogResult<Sealing> {
        self.flush_locked(true, true, true).await?;
        // The previous roll's seal first: one segment unsealed at a time.
        let sealing = self.sealing.acquire().await;
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
        let config = self.config.borrow().clone();
        let recycled = self.state.borrow_mut().recycled.take();
        let guard = FailOnDrop { log: self, what: "rolling segment" };
        let created = create_active(&self.fds, &self.dir, next_offset, &config, recycled).await;
        guard.disarm();
        let active = match created {
            Ok(a) => a,
            Err(e) => return Err(self.fail("creating segment", &e)),
        };
        let segment = Rc::new(
            SealedSegment::new(Rc::new(files.to_sealed()), next_offset, size, max_timestamp, offsets, times)
                .rolled_from(&files),
        );
        {
            let mut st = self.state.borrow_mut();
            let old = std::mem::replace(&mut st.active, active);
            debug_assert_eq!(old.size(), size);
            debug_assert!(st.pending.is_empty(), "a complete synced flush covered every batch");
            st.pending.clear();
            let start = st.end_mark();
            st.commit(start);
            st.sealed.insert(files.base_offset, segment.clone());
            st.stats.segments_rolled += 1;
            st.stats.segments_reused += u64::from(st.active.is_recycled());
            st.rolled_since_retention = true;
        }
        // Everything below `next_offset` is durable and nothing was staged
        // since (the roll holds the log): the snapshot covers exactly it.
        // Written by the seal task, off the log: saving it here held `io`
        // for a write, two fsyncs and a rename (0.8-3 ms on the dev
        // machine), a stall in every flush behind it.
        let snapshot = self.producer_snapshot(next_offset);
        let seal = PendingSeal { files, segment, snapshot, sealing }.start();
        tracing::debug!(dir = %self.dir.display(), base_offset = next_offset, "rolled segment");
        Ok(seal)
    }
}

/// A rolled segment whose files are not yet in sealed form (its files as
/// they were while active, and the sealed segment the log now reads, whose
/// size and index entries the seal writes), and the log's `sealing` permit,
/// held until they are.
///
/// Lives on: the partition's core.
pub(super) struct PendingSeal<F: StorageFile> {
    files: Rc<SegmentFiles<F>>,
    segment: Rc<SealedSegment<F>>,
    /// The producer snapshot the roll took, written beside the seal.
    snapshot: Option<ProducerSnapshot>,
    sealing: corelog_runtime::sync::Permit,
}

/// A seal under way, as a task of its own: it needs no lock but its
/// permit, so nothing its roller waits for afterwards (the log, for a new
/// epoch's entry or a flush) can wait for it in turn. The roller awaits
/// [`Self::finished`] with its group commit.
pub(super) struct Sealing(futures::channel::oneshot::Receiver<std::io::Result<()>>);

impl<F: StorageFile + 'static> PendingSeal<F> {
    pub(super) fn start(self) -> Sealing {
        let (done, finished) = futures::channel::oneshot::channel();
        corelog_runtime::spawn_detached(async move {
            let PendingSeal { files, segment, snapshot, sealing } = self;
            let seal = seal_files(&files, segment.size, segment.offset_entries(), segment.time_entries());
            let save = async {
                match snapshot {
                    Some(snapshot) => write_producer_snapshot(snapshot).await,
                    None => Ok(()),
                }
            };
            let (sealed, saved) = futures::join!(seal, save);
            drop(sealing);
            // A failed save only makes a later load replay more.
            if let Err(e) = saved {
                tracing::warn!(segment = files.base_offset, error = %e, "cannot save the producer snapshot");
            }
            // The roller fails the log with it; with no roller left to
            // receive it, it is only logged.
            if let Err(Err(e)) = done.send(sealed) {
                tracing::error!(segment = files.base_offset, error = %e, "sealing a rolled segment failed");
            }
        });
        Sealing(finished)
    }
}

impl Sealing {
    /// The seal's outcome (Ok also if its task never ran to the end: an
    /// executor going away, which leaves the files as they were while
    /// active, for the next open to seal).
    pub(super) async fn finished(self) -> std::io::Result<()> {
        self.0.await.unwrap_or(Ok(()))
    }
}

/// Creates the files of a new, empty active segment at `base_offset`; its
/// log stays open, its index files close until next written. With a
/// `recycled` file (`segment/recycled.rs`), that file becomes the log: its
/// old bytes are overwritten from the start, and the space it already has
/// needs no preallocation.
///
/// The directory is not synced: the segment comes back marked so, and its
/// first fdatasync syncs the directory beside it (`flush_locked`), which a
/// roll wants (syncing here held the log 0.1-1.2 ms per roll on the dev
/// machine). A crash before then loses only the empty segment's names: the
/// log recovers to the end of the segment before it. A log started anew
/// needs the names durable at once: [`create_active_synced`].
pub(super) async fn create_active<S: Storage>(
    fds: &Rc<FdCache<S>>,
    dir: &Path,
    base_offset: u64,
    config: &LogConfig,
    recycled: Option<PathBuf>,
) -> std::io::Result<ActiveSegment<S::File>> {
    let storage = fds.storage();
    let log_path = segment_path(dir, base_offset, LOG_SUFFIX);
    let reused = match recycled {
        // Failing to reuse it only costs the speed-up: a fresh file instead
        // (the next open keeps the file left over, or deletes it if another
        // was recycled since).
        Some(from) => match storage.rename(&from, &log_path).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(from = %from.display(), error = %e, "cannot reuse a recycled segment file");
                false
            }
        },
        None => false,
    };
    let files = OpenSegment::open(storage, dir, base_offset, true).await?;
    // Index files left by an earlier segment at this offset (a crash while
    // removing it) must not leak stale entries into the new one.
    files.offset_index.truncate(0).await?;
    files.time_index.truncate(0).await?;
    let written_space = if reused { files.log.size().await? } else { 0 };
    if written_space < preallocation_end(0) {
        files.log.preallocate(preallocation_end(0)).await?;
    }
    let mut active = ActiveSegment::resume(
        Rc::new(SegmentFiles::active(fds, dir, base_offset, files.log)),
        base_offset,
        0,
        &[],
        IndexFile::default(),
        IndexFile::default(),
        Indexer::new(base_offset, 0, i64::MIN, i64::MIN),
        roll_deadline(config),
        config.write_chunk_bytes,
    );
    if reused {
        active.reuse_written_space(written_space);
    }
    active.set_dir_synced(false);
    Ok(active)
}

/// [`create_active`] with the directory synced at once and the segment
/// marked so: a log started anew (empty, or restarted at an offset), whose
/// empty directory would otherwise recover as a log at 0.
pub(super) async fn create_active_synced<S: Storage>(
    fds: &Rc<FdCache<S>>,
    dir: &Path,
    base_offset: u64,
    config: &LogConfig,
) -> std::io::Result<ActiveSegment<S::File>> {
    let mut active = create_active(fds, dir, base_offset, config, None).await?;
    fds.storage().sync_dir(dir).await?;
    active.set_dir_synced(true);
    Ok(active)
}

/// Now plus the max segment age minus a random jitter, so partitions
/// created together don't roll together.
pub(super) fn roll_deadline(config: &LogConfig) -> u64 {
    let age = config.segment_max_age_ms;
    let jitter = (age as f64 * SEGMENT_ROLL_JITTER_FRACTION) as u64;
    let jitter = if jitter > 0 { rand::thread_rng().gen_range(0..jitter) } else { 0 };
    now_ms().saturating_add(age - jitter)
}

/// Turns a fully flushed active segment's files into their sealed form:
/// the log trimmed to its exact length and synced before the indexes are
/// written (sealed indexes are trusted to describe a trimmed log), both
/// indexes complete, all synced.
async fn seal_files<F: StorageFile>(
    files: &SegmentFiles<F>,
    size: u64,
    offsets: &[crate::segment::offset_index::OffsetEntry],
    times: &[crate::segment::time_index::TimeEntry],
) -> std::io::Result<()> {
    files.log.truncate(size).await?;
    files.log.fdatasync().await?;
    // Opened here (and closed once written), not held while the segment is active.
    let (offset_index, time_index) = (files.offset_index.open().await?, files.time_index.open().await?);
    write_sealed_indexes(&*offset_index, &*time_index, offsets, times).await
}

/// Writes both indexes whole, trimmed to their exact length, and syncs them.
pub(super) async fn write_sealed_indexes<F: StorageFile>(
    offset_index: &F,
    time_index: &F,
    offsets: &[crate::segment::offset_index::OffsetEntry],
    times: &[crate::segment::time_index::TimeEntry],
) -> std::io::Result<()> {
    let mut oi = IndexFile::default();
    oi.replace(offsets.to_vec());
    let mut ti = IndexFile::default();
    ti.replace(times.to_vec());
    let (write, len) = oi.plan_sealed_write(offset_index);
    offset_index.write_at(write.buf, write.pos).await?;
    offset_index.truncate(len).await?;
    offset_index.fdatasync().await?;
    let (write, len) = ti.plan_sealed_write(time_index);
    time_index.write_at(write.buf, write.pos).await?;
    time_index.truncate(len).await?;
    time_index.fdatasync().await
}
