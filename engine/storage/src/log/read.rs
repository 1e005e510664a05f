//! Reading by offset and looking up offsets by timestamp.

use std::rc::Rc;

use super::readahead::ReadAhead;
use super::{BatchSlice, Fetched, PartitionLog};
use crate::disk::{Storage, StorageFile};
use crate::error::{LogError, LogResult};
use crate::segment::reader::{next_good_batch, read_batches, read_window, BatchRun, Boundary, Damage, ReadOutcome};
use crate::segment::scan::{scan, ScanStop};
use crate::segment::SegmentFiles;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{kafka, DecodedBatch, StoredBatch};

/// Where a read is served from, decided without awaiting.
enum Source<F> {
    Cache(Vec<super::CachedBatch>),
    File {
        files: Rc<SegmentFiles<F>>,
        /// The boundary the read starts at, and the end of what is readable.
        start: Boundary,
        end: Boundary,
        max_epoch: u32,
        ahead: Option<ReadAhead>,
        truncations: u64,
    },
}

/// How far a read may go.
#[derive(Clone, Copy)]
enum Upto {
    /// Committed batches ending at or before this offset.
    Committed(u64),
    /// Every staged batch (from the cache).
    LogEnd,
}

impl<S: Storage> PartitionLog<S> {
    /// Committed whole batches from the one containing `offset`, up to
    /// `max_bytes` (at least one batch if any is committed at `offset`).
    /// Reading at or past the high watermark (up to the log end) returns
    /// nothing; outside [log start, log end] is an error.
    ///
    /// Batches read from a file are checked first (`segment/reader.rs`): a
    /// damaged one is never served. Reading it, or any offset up to the next
    /// batch that checks out, fails with [`LogError::CorruptBatch`]; a read
    /// of a later offset walks past the damage.
    pub async fn read(&self, offset: u64, max_bytes: usize) -> LogResult<Fetched> {
        self.read_limited(offset, max_bytes, Upto::Committed(u64::MAX)).await
    }

    /// [`Self::read`] of the whole batches that also end at or before
    /// `limit_offset` (never one that straddles it): what a consumer of a
    /// replicated partition may see, with `limit_offset` the
    /// [`Self::consumer_high_watermark`]. A limit at or below `offset`
    /// returns nothing, as does one inside the batch holding `offset`. The
    /// result's `high_watermark` is the limit (capped at the local one).
    pub async fn read_bounded(&self, offset: u64, max_bytes: usize, limit_offset: u64) -> LogResult<Fetched> {
        self.read_limited(offset, max_bytes, Upto::Committed(limit_offset)).await
    }

    /// [`Self::read`] that also serves batches staged but not yet durable
    /// here, from the tail cache: what a leader sends its followers, so their
    /// writes overlap its own (Kafka's followers read up to the leader's log
    /// end too). Safe because nothing counts as replicated before it is
    /// durable on the leader as well. A staged batch no longer in the cache
    /// is served once committed. The result's `high_watermark` is the log end.
    pub async fn read_staged(&self, offset: u64, max_bytes: usize) -> LogResult<Fetched> {
        self.read_limited(offset, max_bytes, Upto::LogEnd).await
    }

    async fn read_limited(&self, offset: u64, max_bytes: usize, upto: Upto) -> LogResult<Fetched> {
        let (source, log_start_offset, log_end_offset, high_watermark) = {
            let mut st = self.state.borrow_mut();
            let (start, end) = (st.log_start_offset, st.next_offset());
            let hw = match upto {
                Upto::Committed(limit) => st.committed.offset.min(limit),
                Upto::LogEnd => end,
            };
            if offset < start || offset > end {
                return Err(LogError::OffsetOutOfRange { offset, log_start: start, log_end: end });
            }
            let source = if offset >= hw {
                Source::Cache(Vec::new())
            } else if let Some(batches) = st.cache.read(offset, max_bytes, hw) {
                Source::Cache(batches)
            } else if offset >= st.committed.offset {
                // Staged, written but not synced, and evicted: served from
                // the file once committed.
                Source::Cache(Vec::new())
            } else {
                let (files, (position, base), end) = if offset >= st.active.base_offset() {
                    let end = Boundary { position: st.committed.position, offset: st.committed.offset };
                    (st.active.files.clone(), st.active.lookup(offset), end)
                } else {
                    let (_, seg) = st.sealed.range(..=offset).next_back().expect("offset >= log start has a segment");
                    (seg.files.clone(), seg.lookup(offset), Boundary { position: seg.size, offset: seg.next_offset })
                };
                let truncations = st.truncations;
                let ahead = st.read_ahead.take().filter(|ra| ra.serves(truncations, files.base_offset, offset));
                // A read-ahead window starts at the batch that starts at `offset`.
                let start = match &ahead {
                    Some(ra) => Boundary { position: ra.position(), offset },
                    None => Boundary { position, offset: base },
                };
                Source::File { files, start, end, max_epoch: st.leader_epoch, ahead, truncations }
            };
            (source, start, end, hw)
        };
        let slices = match source {
            Source::Cache(batches) => batches.into_iter().map(BatchSlice::Memory).collect(),
            Source::File { files, mut start, end, max_epoch, ahead, truncations } => {
                let mut ahead = match ahead {
                    Some(ra) => ra.bytes().await,
                    None => None,
                };
                self.state.borrow_mut().stats.read_ahead_hits += u64::from(ahead.is_some());
                let run = loop {
                    let read = read_batches(&files.log, start, end, max_epoch, offset, max_bytes, ahead.take());
                    let damage = match read.await? {
                        ReadOutcome::Damaged(damage) => damage,
                        ReadOutcome::Batches(run) => break Some(run),
                        ReadOutcome::Empty => break None,
                    };
                    let known = self.known_after(files.base_offset, damage.at.position, end);
                    let next = next_good_batch(&files.log, &damage, known, max_epoch).await?;
                    if self.state.borrow().truncations != truncations {
                        // A truncation rewrote the file under the read: what
                        // failed may be new batches, not damage. Read again.
                        return Box::pin(self.read_limited(offset, max_bytes, upto)).await;
                    }
                    if offset >= next.offset {
                        start = next; // the read is for offsets after the damage
                        continue;
                    }
                    return Err(corrupt_batch(files.base_offset, damage, next));
                };
                match run.and_then(|run| ending_by(run, high_watermark)) {
                    Some(run) => {
                        if run.end < end.position {
                            let len = (end.position - run.end).min(read_window(max_bytes) as u64) as usize;
                            let ra = ReadAhead::start(truncations, files, run.next_offset, run.end, len);
                            self.state.borrow_mut().read_ahead = Some(ra);
                        }
                        vec![BatchSlice::Disk(run.bytes)]
                    }
                    None => Vec::new(),
                }
            }
        };
        Ok(Fetched { slices, log_start_offset, log_end_offset, high_watermark })
    }

    /// The first batch boundary after `position` in the segment at `base`
    /// that its offset index vouches for, before `end`; else `end`.
    fn known_after(&self, base: u64, position: u64, end: Boundary) -> Boundary {
        let st = self.state.borrow();
        let entries = if st.active.base_offset() == base {
            Some(st.active.offset_index.entries())
        } else {
            st.sealed.get(&base).map(|s| s.offset_entries())
        };
        let entry = entries.and_then(|entries| {
            let after = entries.partition_point(|e| u64::from(e.position) <= position);
            entries.get(after)
        });
        entry
            .map(|e| Boundary { position: u64::from(e.position), offset: base + u64::from(e.relative_offset) })
            .filter(|b| b.position < end.position)
            .unwrap_or(end)
    }

    /// The record with the largest timestamp among the committed ones (the
    /// first of them if several share it): `(offset, timestamp)`, or None
    /// for an empty log. Kafka's ListOffsets MAX_TIMESTAMP (KIP-734).
    ///
    /// Segments keep their newest timestamp, so the search reads one
    /// segment. The active segment's also counts records staged but not
    /// yet committed: when the largest timestamp is there, the answer is
    /// None until it is committed, rather than an older record.
    pub async fn offset_of_max_timestamp(&self) -> LogResult<Option<(u64, i64)>> {
        let max = {
            let st = self.state.borrow();
            let sealed = st.sealed.values().filter(|s| s.size > 0).map(|s| s.max_timestamp).max();
            let active = (!st.active.is_empty()).then(|| st.active.max_timestamp());
            sealed.into_iter().chain(active).max()
        };
        match max {
            Some(max) => self.offset_for_timestamp(max).await,
            None => Ok(None),
        }
    }

    /// The first record whose timestamp is >= `timestamp`: `(offset,
    /// record timestamp)`, or None if every committed record is older. Only
    /// committed records count, as for reads.
    pub async fn offset_for_timestamp(&self, timestamp: i64) -> LogResult<Option<(u64, i64)>> {
        // Find the first segment whose newest record reaches `timestamp`.
        let target = {
            let st = self.state.borrow();
            let sealed = st.sealed.values().find(|s| s.max_timestamp >= timestamp).map(|s| {
                let (pos, base) = s.lookup_time(timestamp);
                (s.files.clone(), pos, base, Boundary { position: s.size, offset: s.next_offset })
            });
            let target = sealed.or_else(|| {
                (st.active.max_timestamp() >= timestamp).then(|| {
                    let (pos, base) = st.active.lookup_time(timestamp);
                    // Committed bytes of the active segment are on disk.
                    let end = Boundary { position: st.committed.position, offset: st.committed.offset };
                    (st.active.files.clone(), pos, base, end)
                })
            });
            target.map(|t| (t, st.leader_epoch))
        };
        let Some(((files, start, expected, end), max_epoch)) = target else { return Ok(None) };
        let limit = end.position;
        let mut found: Option<(u64, u64)> = None;
        let outcome = scan(&files.log, start, limit, expected, |b| {
            if b.max_timestamp >= timestamp {
                found = Some((b.position, u64::from(b.len)));
                return false;
            }
            true
        })
        .await?;
        if let ScanStop::Corrupt(reason) = outcome.stop {
            if found.is_none() {
                let damage = Damage {
                    at: Boundary { position: outcome.end, offset: outcome.next_offset },
                    claimed_len: None,
                    reason,
                };
                let known = self.known_after(files.base_offset, damage.at.position, end);
                let next = next_good_batch(&files.log, &damage, known, max_epoch).await?;
                return Err(corrupt_batch(files.base_offset, damage, next));
            }
        }
        let Some((position, len)) = found else { return Ok(None) };
        let bytes = files.log.read_at(position, len as usize).await?;
        first_record_at_or_after(&bytes, timestamp)
    }
}

/// The first record of the stored batch `bytes` (either format) whose
/// timestamp is >= `timestamp`: `(offset, timestamp)`.
fn first_record_at_or_after(bytes: &[u8], timestamp: i64) -> LogResult<Option<(u64, i64)>> {
    match StoredBatch::validate(bytes, MAX_BATCH_BYTES_CEILING)? {
        StoredBatch::Native(_) => {
            let decoded = DecodedBatch::decode(bytes, MAX_BATCH_BYTES_CEILING)?;
            let first = decoded.records().find(|r| r.timestamp >= timestamp).map(|r| (r.offset, r.timestamp));
            Ok(first)
        }
        StoredBatch::Kafka(_) => {
            let decoded = kafka::DecodedBatch::decode(bytes, MAX_BATCH_BYTES_CEILING)?;
            // The scan refused a negative base offset, so no offset is negative.
            let first = decoded.records().find(|r| r.timestamp >= timestamp);
            let first = first.map(|r| (u64::try_from(r.offset).unwrap_or(0), r.timestamp));
            Ok(first)
        }
    }
}

/// The batches of `run` that end at or before `limit` (the file's readable
/// region ends at the committed mark, which a read limit may be below);
/// None if the first does not. The run's batches were checked: their headers
/// parse.
fn ending_by(run: BatchRun, limit: u64) -> Option<BatchRun> {
    if run.next_offset <= limit {
        return Some(run);
    }
    let (mut len, mut next_offset) = (0usize, None);
    while let Some(header) = StoredBatch::peek(&run.bytes[len..]) {
        let stored = header.stored_len();
        if header.next_offset() > limit || stored == 0 || len + stored > run.bytes.len() {
            break;
        }
        len += stored;
        next_offset = Some(header.next_offset());
    }
    let next_offset = next_offset?;
    let end = run.end - (run.bytes.len() - len) as u64;
    Some(BatchRun { bytes: run.bytes.slice(0, len)?, end, next_offset })
}

/// The error for a read of the damaged batch `damage` of the segment at
/// `segment`, readable again at `next`.
fn corrupt_batch(segment: u64, damage: Damage, next: Boundary) -> LogError {
    LogError::CorruptBatch {
        offset: damage.at.offset,
        next_offset: next.offset,
        segment,
        position: damage.at.position,
        reason: damage.reason,
    }
}
