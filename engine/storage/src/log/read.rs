//! Reading by offset and looking up offsets by timestamp.

use std::rc::Rc;

use super::readahead::ReadAhead;
use super::{BatchSlice, Fetched, PartitionLog};
use crate::disk::{Storage, StorageFile};
use crate::error::{LogError, LogResult};
use crate::segment::reader::{read_batches, read_window};
use crate::segment::scan::{scan, ScanStop};
use crate::segment::SegmentFiles;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::DecodedBatch;

/// Where a read is served from, decided without awaiting.
enum Source<F> {
    Cache(Vec<super::CachedBatch>),
    File { files: Rc<SegmentFiles<F>>, start: u64, limit: u64, ahead: Option<ReadAhead>, truncations: u64 },
}

impl<S: Storage> PartitionLog<S> {
    /// Committed whole batches from the one containing `offset`, up to
    /// `max_bytes` (at least one batch if any is committed at `offset`).
    /// Reading at or past the high watermark (up to the log end) returns
    /// nothing; outside [log start, log end] is an error.
    pub async fn read(&self, offset: u64, max_bytes: usize) -> LogResult<Fetched> {
        let (source, log_start_offset, log_end_offset, high_watermark) = {
            let mut st = self.state.borrow_mut();
            let (start, end, hw) = (st.log_start_offset, st.next_offset(), st.committed.offset);
            if offset < start || offset > end {
                return Err(LogError::OffsetOutOfRange { offset, log_start: start, log_end: end });
            }
            let source = if offset >= hw {
                Source::Cache(Vec::new())
            } else if let Some(batches) = st.cache.read(offset, max_bytes, hw) {
                Source::Cache(batches)
            } else {
                let (files, start, limit) = if offset >= st.active.base_offset() {
                    (st.active.files.clone(), st.active.lookup(offset).0, st.committed.position)
                } else {
                    let (_, seg) = st.sealed.range(..=offset).next_back().expect("offset >= log start has a segment");
                    (seg.files.clone(), seg.lookup(offset).0, seg.size)
                };
                let truncations = st.truncations;
                let ahead = st.read_ahead.take().filter(|ra| ra.serves(truncations, files.base_offset, offset));
                let start = ahead.as_ref().map_or(start, ReadAhead::position);
                Source::File { files, start, limit, ahead, truncations }
            };
            (source, start, end, hw)
        };
        let slices = match source {
            Source::Cache(batches) => batches.into_iter().map(BatchSlice::Memory).collect(),
            Source::File { files, start, limit, ahead, truncations } => {
                let ahead = match ahead {
                    Some(ra) => ra.bytes().await,
                    None => None,
                };
                let hit = ahead.is_some();
                let run = read_batches(&files.log, files.base_offset, start, limit, offset, max_bytes, ahead).await;
                let mut st = self.state.borrow_mut();
                st.stats.read_ahead_hits += u64::from(hit);
                match run? {
                    Some(run) => {
                        if run.end < limit {
                            let len = (limit - run.end).min(read_window(max_bytes) as u64) as usize;
                            st.read_ahead = Some(ReadAhead::start(truncations, files, run.next_offset, run.end, len));
                        }
                        vec![BatchSlice::Disk(run.bytes)]
                    }
                    None => Vec::new(),
                }
            }
        };
        Ok(Fetched { slices, log_start_offset, log_end_offset, high_watermark })
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
                (s.files.clone(), pos, base, s.size)
            });
            sealed.or_else(|| {
                (st.active.max_timestamp() >= timestamp).then(|| {
                    let (pos, base) = st.active.lookup_time(timestamp);
                    // Committed bytes of the active segment are on disk.
                    (st.active.files.clone(), pos, base, st.committed.position)
                })
            })
        };
        let Some((files, start, expected, limit)) = target else { return Ok(None) };
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
                return Err(LogError::Corrupt { segment: files.base_offset, position: outcome.end, reason });
            }
        }
        let Some((position, len)) = found else { return Ok(None) };
        let bytes = files.log.read_at(position, len as usize).await?;
        let decoded = DecodedBatch::decode(&bytes, MAX_BATCH_BYTES_CEILING)?;
        let first = decoded.records().find(|r| r.timestamp >= timestamp).map(|r| (r.offset, r.timestamp));
        Ok(first)
    }
}
