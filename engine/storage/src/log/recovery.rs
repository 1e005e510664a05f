//! Opening a partition log: find its segments, check the tail of each from
//! its last index entry, cut the log at the first bad batch, rebuild what the
//! indexes are missing.
//!
//! What a crash can leave, and what recovery does about it:
//! - a torn or partial last batch in the active segment: CRC fails, the file
//!   is cut there (counted in `bad_batches` and `truncated_bytes`);
//! - zero padding or preallocated space after the last batch: not data, cut;
//! - index files behind the log, missing, or pointing at garbage: entries
//!   rebuilt by scanning (counted in `indexes_rebuilt`);
//! - a sealed segment that doesn't end where the next one starts (a crash
//!   mid-roll): every later segment is removed, since the log must stay
//!   contiguous (counted in `segments_removed`).
//!
//! A segment with a successor was synced whole before the successor was
//! created (a roll flushes and syncs it first; trims it and writes its
//! sealed indexes after, `roll.rs`), so a bad batch in its tail is damage,
//! not a torn write: if its sealed indexes are intact (then it was trimmed
//! too) it is kept whole (counted in `bad_batches`, logged) and reads refuse the damaged
//! batch, instead of cutting it and removing every later segment. Only each
//! segment's tail (from its last index entry) is scanned here, to keep the
//! start fast; damage anywhere else is found when it is read.
//!
//! The log's leader epoch resumes at the last batch's (or the leader-epoch
//! file's latest, if above): epochs never go back, and reads refuse a batch
//! whose epoch is above the log's. The leader-epoch file is then made to fit
//! the recovered log (`epochs.rs`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use super::cache::TailCache;
use super::roll::{create_active_synced, roll_deadline, write_sealed_indexes};
use super::{LogConfig, LogState, LogStats, Mark, PartitionLog};
use crate::disk::{Storage, StorageFile};
use crate::error::LogResult;
use crate::limits::{preallocation_end, BLOCK_SIZE, DEFAULT_FD_CACHE_PER_LOG};
use crate::segment::files::parse_log_name;
use crate::segment::index_file::{IndexFile, IndexForm};
use crate::segment::indexer::Indexer;
use crate::segment::offset_index::OffsetEntry;
use crate::segment::recycled;
use crate::segment::scan::{scan, ScanOutcome, ScanStop};
use crate::segment::time_index::TimeEntry;
use crate::segment::{ActiveSegment, FdCache, OpenSegment, SealedSegment, SegmentFiles};

/// What recovery found and fixed when the log was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments: u64,
    /// Batches that failed their check (torn writes, corruption).
    pub bad_batches: u64,
    /// Bytes cut from segment tails (bad batches and padding).
    pub truncated_bytes: u64,
    pub indexes_rebuilt: u64,
    pub segments_removed: u64,
}

/// One segment after its tail was checked, its three files still open.
pub(super) struct Checked<F: StorageFile> {
    files: OpenSegment<F>,
    outcome: ScanOutcome,
    offsets: IndexFile<OffsetEntry>,
    times: IndexFile<TimeEntry>,
    indexer: Indexer,
    /// The segment's indexes must be written again in sealed form.
    rewrite_index: bool,
    /// Leader epoch of the last batch the tail scan saw.
    last_epoch: Option<u32>,
}

impl<S: Storage> PartitionLog<S> {
    /// Opens (creating if needed) the log in `dir`, recovering it. Its
    /// sealed segments' files go through a cache of its own, of
    /// [`DEFAULT_FD_CACHE_PER_LOG`] files; logs that should share one
    /// descriptor budget (a core's) use [`Self::open_with_cache`].
    pub async fn open(storage: S, dir: &Path, config: LogConfig) -> LogResult<Self> {
        Self::open_with_cache(&FdCache::new(storage, DEFAULT_FD_CACHE_PER_LOG), dir, config).await
    }

    /// Opens (creating if needed) the log in `dir`, recovering it, with its
    /// sealed segments' files opened through `fds`, the cache of the core it
    /// lives on. While open it holds one descriptor of its own (its active
    /// segment's log); recovery opens one segment's three files at a time.
    pub async fn open_with_cache(fds: &Rc<FdCache<S>>, dir: &Path, config: LogConfig) -> LogResult<Self> {
        let storage = fds.storage().clone();
        std::fs::create_dir_all(dir)?;
        let mut bases: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(parse_log_name))
            .collect();
        bases.sort_unstable();

        let mut report = RecoveryReport::default();
        let mut sealed = BTreeMap::new();
        let mut active = None;
        let mut leader_epoch = 0;
        let mut i = 0;
        while i < bases.len() {
            let base = bases[i];
            let c = check_segment(&storage, base, dir, &mut report, bases.get(i + 1).copied()).await?;
            leader_epoch = c.last_epoch.unwrap_or(leader_epoch);
            let end = c.outcome.end;
            let mut is_last = i + 1 == bases.len();
            if !is_last && c.outcome.next_offset != bases[i + 1] {
                tracing::warn!(dir = %dir.display(), segment = base, ends_at = c.outcome.next_offset, next = bases[i + 1],
                    "segments are not contiguous; removing every later segment");
                for later in bases.drain(i + 1..) {
                    SegmentFiles::remove(&storage, dir, later).await?;
                    report.segments_removed += 1;
                }
                storage.sync_dir(dir).await?;
                is_last = true;
            }
            report.segments += 1;
            if is_last {
                active = Some(resume_active(c, fds, dir, &config).await?);
            } else {
                if c.rewrite_index {
                    write_sealed_indexes(
                        &c.files.offset_index,
                        &c.files.time_index,
                        c.offsets.entries(),
                        c.times.entries(),
                    )
                    .await?;
                }
                // The files checked here close; reads open the log again
                // through the cache.
                let segment = SealedSegment::new(
                    Rc::new(SegmentFiles::sealed(fds, dir, base)),
                    c.outcome.next_offset,
                    end,
                    c.indexer.running_max(),
                    c.offsets.entries().to_vec(),
                    c.times.entries().to_vec(),
                );
                sealed.insert(base, Rc::new(segment));
            }
            i += 1;
        }
        let active = match active {
            Some(a) => a,
            None => create_active_synced(fds, dir, 0, &config).await?,
        };
        let recycled = keep_one_recycled(&storage, dir).await?;
        let log_start_offset = sealed.keys().next().copied().unwrap_or(active.base_offset());
        let epochs = super::epochs::recover(dir, &sealed, &active, log_start_offset).await?;
        let leader_epoch = leader_epoch.max(epochs.latest_epoch().unwrap_or(0));
        let committed = Mark { offset: active.next_offset(), position: active.size() };
        if report.bad_batches > 0 || report.segments_removed > 0 || report.indexes_rebuilt > 0 {
            tracing::warn!(dir = %dir.display(), ?report, "recovered partition log");
        }
        Ok(PartitionLog {
            dir: dir.to_path_buf(),
            storage,
            fds: fds.clone(),
            config: RefCell::new(config),
            state: RefCell::new(LogState {
                sealed,
                active,
                cache: TailCache::default(),
                log_start_offset,
                leader_epoch,
                epochs,
                replicated_high_watermark: None,
                appended_seq: 0,
                written_seq: 0,
                durable_seq: 0,
                committed,
                commit_waiters: Default::default(),
                append_waiters: Default::default(),
                producers: None,
                read_ahead: None,
                truncations: 0,
                recycled,
                rolled_since_retention: false,
                last_sync: Instant::now(),
                exclusive: false,
                flushing: false,
                flushing_io: false,
                flush_waiters: Vec::new(),
                chunks_in_flight: Default::default(),
                pending: Default::default(),
                chunk_waiters: Vec::new(),
                failed: None,
                stats: LogStats { recovery: report, ..LogStats::default() },
            }),
            io: corelog_runtime::sync::Semaphore::new(1),
            producers_loading: corelog_runtime::sync::Semaphore::new(1),
            staging: corelog_runtime::sync::Semaphore::new(1),
            retention: corelog_runtime::sync::Semaphore::new(1),
            sealing: corelog_runtime::sync::Semaphore::new(1),
        })
    }
}

/// The recycled file to keep (the newest), after deleting any others:
/// retention recycles only while none is kept, so more than
/// `MAX_RECYCLED_PER_LOG` means files this log did not leave; they go.
async fn keep_one_recycled<S: Storage>(storage: &S, dir: &Path) -> LogResult<Option<std::path::PathBuf>> {
    let mut found = recycled::list(dir)?;
    let keep = found.pop();
    if !found.is_empty() {
        for extra in &found {
            storage.remove(extra).await?;
        }
        storage.sync_dir(dir).await?;
    }
    Ok(keep)
}

/// Turns a checked last segment into the active one: its partial tail block
/// read back into memory, space preallocated ahead. The log stays open; the
/// index files close (they are opened again when next written).
pub(super) async fn resume_active<S: Storage>(
    c: Checked<S::File>,
    fds: &Rc<FdCache<S>>,
    dir: &Path,
    config: &LogConfig,
) -> LogResult<ActiveSegment<S::File>> {
    let end = c.outcome.end;
    // The active index grows in place: drop a sealed trailer and anything
    // past the entries already kept.
    c.files.offset_index.truncate(c.offsets.written_len()).await?;
    c.files.time_index.truncate(c.times.written_len()).await?;
    let tail_start = end / BLOCK_SIZE as u64 * BLOCK_SIZE as u64;
    let tail = if end > tail_start {
        c.files.log.read_at(tail_start, (end - tail_start) as usize).await?.to_vec()
    } else {
        Vec::new()
    };
    c.files.log.preallocate(preallocation_end(end)).await?;
    let OpenSegment { base_offset, log, .. } = c.files;
    Ok(ActiveSegment::resume(
        Rc::new(SegmentFiles::active(fds, dir, base_offset, log)),
        c.outcome.next_offset,
        end,
        &tail,
        c.offsets,
        c.times,
        c.indexer,
        roll_deadline(config),
        config.write_chunk_bytes,
    ))
}

/// Opens one segment's files, loads its indexes and checks its tail; cuts
/// the log file at the end of the valid prefix. A segment with a successor
/// (whose base offset is `successor`) must have intact sealed indexes, or
/// they are rebuilt whole; with them, damage in its tail is kept (module
/// docs), and the segment ends where the successor begins.
pub(super) async fn check_segment<S: Storage>(
    storage: &S,
    base: u64,
    dir: &Path,
    report: &mut RecoveryReport,
    successor: Option<u64>,
) -> LogResult<Checked<S::File>> {
    let sealed = successor.is_some();
    let files = OpenSegment::open(storage, dir, base, false).await?;
    let size_on_disk = files.log.size().await?;
    let (mut offsets, offsets_form) = IndexFile::load(&files.offset_index, size_on_disk).await?;
    let (mut times, times_form) = IndexFile::load(&files.time_index, size_on_disk).await?;
    let damaged = offsets_form == IndexForm::Damaged || times_form == IndexForm::Damaged;
    let mut rewrite_index = sealed && (offsets_form != IndexForm::Sealed || times_form != IndexForm::Sealed);
    // Sealed indexes are checksummed, and written after the log was synced
    // whole: they describe the file as it was sealed.
    let trusted = sealed && !rewrite_index;
    if damaged || rewrite_index {
        report.indexes_rebuilt += 1;
        offsets.replace(Vec::new());
        times.replace(Vec::new());
    }
    let mut scanned = tail_scan(&files, size_on_disk, &mut offsets, &mut times).await?;
    if scanned.failed_at_entry && !trusted {
        // The index points at something that isn't the batch it names.
        report.indexes_rebuilt += 1;
        rewrite_index = sealed;
        offsets.replace(Vec::new());
        times.replace(Vec::new());
        scanned = tail_scan(&files, size_on_disk, &mut offsets, &mut times).await?;
        debug_assert!(!scanned.failed_at_entry, "a scan from the segment start always completes");
    }
    let TailScan { mut outcome, indexer, last_epoch, .. } = scanned;
    match (&outcome.stop, successor.filter(|_| trusted)) {
        // A trusted sealed segment was trimmed to its last batch: stopping
        // anywhere before its end (even at zeroes) is damage.
        (stop, Some(next_base)) if outcome.end < size_on_disk => {
            report.bad_batches += 1;
            let reason = match stop {
                ScanStop::Corrupt(reason) => reason.as_str(),
                _ => "zeroes where a batch should be",
            };
            tracing::warn!(dir = %dir.display(), segment = base, position = outcome.end, reason,
                "damaged batch in a sealed segment; keeping the segment whole (reads refuse the batch)");
            outcome.end = size_on_disk;
            outcome.next_offset = next_base;
        }
        (ScanStop::Corrupt(reason), _) => {
            report.bad_batches += 1;
            report.truncated_bytes += size_on_disk - outcome.end;
            tracing::warn!(dir = %dir.display(), segment = base, position = outcome.end, %reason,
                "bad batch; truncating the segment here");
        }
        _ => {}
    }
    let end = outcome.end;
    if end < size_on_disk {
        files.log.truncate(end).await?;
        rewrite_index = sealed;
    }
    offsets.truncate_to_position(end);
    times.truncate_to_position(end);
    rewrite_index |= sealed && (offsets.is_dirty() || times.is_dirty());
    Ok(Checked { files, outcome, offsets, times, indexer, rewrite_index, last_epoch })
}

/// What a tail scan found.
struct TailScan {
    outcome: ScanOutcome,
    indexer: Indexer,
    /// The scan failed right at an index entry (a bad index, or a damaged
    /// batch there); no entries were added.
    failed_at_entry: bool,
    /// Leader epoch of the last batch seen.
    last_epoch: Option<u32>,
}

/// Scans from the last point both indexes cover, adding entries for what it
/// finds.
async fn tail_scan<F: StorageFile>(
    files: &OpenSegment<F>,
    size: u64,
    offsets: &mut IndexFile<OffsetEntry>,
    times: &mut IndexFile<TimeEntry>,
) -> std::io::Result<TailScan> {
    let base = files.base_offset;
    // Time entries are made together with offset entries, so the last time
    // entry is never past the last offset entry; resuming from it makes the
    // running max timestamp exact.
    let (start, expected, running_max) = match (offsets.last(), times.last()) {
        (Some(o), Some(t)) if t.position <= o.position => {
            (u64::from(t.position), base + u64::from(t.relative_offset), t.max_timestamp)
        }
        _ => (0, base, i64::MIN),
    };
    let indexed_through = if start == 0 { 0 } else { offsets.last().map_or(0, |o| u64::from(o.position)) };
    if start == 0 {
        offsets.replace(Vec::new());
        times.replace(Vec::new());
    }
    let last_time = if start == 0 { i64::MIN } else { running_max };
    let mut indexer = Indexer::new(base, indexed_through, running_max, last_time);
    let (mut new_offsets, mut new_times) = (Vec::new(), Vec::new());
    let mut last_epoch = None;
    let outcome = scan(&files.log, start, size, expected, |b| {
        let entries = indexer.observe(b.position, u64::from(b.len), b.base_offset, b.max_timestamp);
        new_offsets.extend(entries.offset);
        new_times.extend(entries.time);
        last_epoch = Some(b.leader_epoch);
        true
    })
    .await?;
    // An entry is made only for a batch that is there: finding none where
    // it points (garbage, or zeroes from a write lost with the power) means
    // the index can't be trusted, nor the data before it.
    if start > 0 && outcome.end == start {
        return Ok(TailScan { outcome, indexer, failed_at_entry: true, last_epoch });
    }
    for e in new_offsets {
        offsets.push(e);
    }
    for e in new_times {
        times.push(e);
    }
    Ok(TailScan { outcome, indexer, failed_at_entry: false, last_epoch })
}
