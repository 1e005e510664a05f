//! The log's idempotent-producer state (`producers`): checked when a leader
//! appends, recorded for every batch staged (leaders and followers alike, so
//! a new leader has it), cut by truncations, and saved as a snapshot on each
//! segment roll (`producer-state` in the partition directory, layout in
//! `producers::snapshot`).
//!
//! Loaded lazily: a log opens without it (restarts read nothing more), and
//! the first idempotent batch a leader appends loads the snapshot and
//! replays the log after it — at most `MAX_PRODUCER_REPLAY_BYTES` of it, the
//! newest; a producer last seen before that is forgotten, and its next batch
//! gets `UnknownProducerId` (its client takes a new id, nothing is lost;
//! Kafka forgets idle producers too, after `producer.id.expiration.ms`).
//! Until then batches are not recorded: the replay finds them in the log.
//!
//! Lives on: the partition's core.

use std::io;
use std::path::{Path, PathBuf};

use corelog_format::stored::iter_stored;
use corelog_format::{StoredBatch, ValidBatch, ValidBatches};

use super::{BatchSlice, LogState, PartitionLog};
use crate::disk::{Storage, StorageFile};
use crate::error::{LogError, LogResult};
use crate::limits::{MAX_PRODUCER_REPLAY_BYTES, MAX_PRODUCER_SNAPSHOT_BYTES};
use crate::producers::{decode_snapshot, encode_snapshot, ProducerBatch, ProducerStates, SequenceCheck};
use crate::segment::offset_index::OffsetEntry;

pub const SNAPSHOT_FILE: &str = "producer-state";
const SNAPSHOT_TMP: &str = "producer-state.tmp";

/// An encoded producer snapshot and the partition directory it goes in.
///
/// Lives on: the partition's core.
pub(super) struct ProducerSnapshot {
    dir: PathBuf,
    bytes: Vec<u8>,
}

/// Writes `snapshot` in place of the partition's snapshot, durably
/// (`replace_file.rs`). Run by a roll's seal task while it holds the log's
/// `sealing` permit, which truncations take before they remove the
/// snapshot, so a late write never brings back one a truncation removed. A
/// snapshot saved late (or not at all: a crash) only makes a later load
/// replay more of the log.
pub(super) async fn write_producer_snapshot(snapshot: ProducerSnapshot) -> io::Result<()> {
    super::replace_file::replace(snapshot.dir, SNAPSHOT_FILE, SNAPSHOT_TMP, snapshot.bytes).await
}

fn producer_fields(batch: &StoredBatch<'_>) -> ProducerBatch {
    ProducerBatch {
        producer_id: batch.producer_id(),
        producer_epoch: batch.producer_epoch(),
        base_sequence: batch.base_sequence(),
        record_count: batch.record_count(),
    }
}

fn is_idempotent(batch: &ValidBatch) -> bool {
    batch.header().producer_id() >= 0
}

/// A leader's check of the batches it is about to stage (Kafka's sequence
/// rules, `producers::state`). A retried batch is refused with
/// [`LogError::DuplicateBatch`] naming where the log holds it; only an
/// append of that one batch can be a duplicate (several batches with one
/// among them are refused as out of order).
pub(super) fn check_sequences<F: StorageFile>(st: &LogState<F>, batches: &ValidBatches) -> LogResult<()> {
    let Some(states) = &st.producers else { return Ok(()) };
    if !batches.iter().any(is_idempotent) {
        return Ok(());
    }
    // Later batches of one append follow the earlier ones: check each
    // against the table with those recorded (a copy only for this case).
    let mut scratch: Option<ProducerStates> = None;
    let mut offset = st.next_offset();
    for batch in batches {
        let fields = producer_fields(&batch.header());
        let last = offset + u64::from(batch.last_offset_delta());
        let table = scratch.as_ref().unwrap_or(states);
        match table.check(&fields).map_err(LogError::Sequence)? {
            SequenceCheck::Append => {}
            SequenceCheck::Duplicate { first_offset, last_offset } if batches.len() == 1 => {
                return Err(LogError::DuplicateBatch { first_offset, last_offset })
            }
            SequenceCheck::Duplicate { .. } => {
                return Err(LogError::Sequence(crate::producers::SequenceError::OutOfOrderSequence {
                    producer_id: fields.producer_id,
                    epoch: fields.producer_epoch,
                    expected: -1,
                    got: fields.base_sequence,
                }))
            }
        }
        if batches.len() > 1 {
            scratch.get_or_insert_with(|| states.clone()).record(&fields, offset, last);
        }
        offset = last + 1;
    }
    Ok(())
}

/// Records a staged batch at `base_offset..=last_offset` (when loaded).
pub(super) fn record<F: StorageFile>(st: &mut LogState<F>, batch: &ValidBatch, base_offset: u64, last_offset: u64) {
    if let Some(states) = &mut st.producers {
        states.record(&producer_fields(&batch.header()), base_offset, last_offset);
    }
}

impl<S: Storage> PartitionLog<S> {
    /// Loads the producer state if an idempotent batch needs it and it is
    /// not loaded yet (module docs): the snapshot, then the log after it.
    pub(super) async fn ensure_producers(&self, batches: &ValidBatches) -> LogResult<()> {
        if self.state.borrow().producers.is_some() || !batches.iter().any(is_idempotent) {
            return Ok(());
        }
        let _one = self.producers_loading.acquire().await;
        if self.state.borrow().producers.is_some() {
            return Ok(());
        }
        let (mut states, mut offset) = match load_snapshot(&self.dir).await {
            Ok(Some((offset, states))) => (states, offset),
            Ok(None) => (ProducerStates::default(), 0),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "producer snapshot unreadable; replaying the log");
                (ProducerStates::default(), 0)
            }
        };
        let (start, end) = (self.log_start_offset(), self.log_end_offset());
        if offset > end {
            // Taken before a truncation cut the log below it.
            (states, offset) = (ProducerStates::default(), 0);
        }
        let newest = end.saturating_sub(1);
        let from_bytes = self.offset_at_bytes_from_end(MAX_PRODUCER_REPLAY_BYTES as u64);
        offset = offset.max(start).max(from_bytes.min(newest));
        let max = self.config.borrow().max_batch_bytes;
        // Replay up to the log end, staged batches included; no await
        // between the last read and installing the table, so no batch is
        // missed or recorded twice.
        loop {
            if offset >= self.log_end_offset() {
                self.state.borrow_mut().producers = Some(states);
                return Ok(());
            }
            let fetched = self.read_staged(offset, 1 << 20).await?;
            if fetched.slices.is_empty() {
                // Written but not yet committed, and evicted: wait for it.
                corelog_runtime::yield_if_needed().await;
                corelog_runtime::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
            for slice in &fetched.slices {
                match slice {
                    BatchSlice::Memory(cached) => {
                        let short = corelog_format::BatchError::TooShort { len: cached.header.len() };
                        let batch = StoredBatch::peek(&cached.header).ok_or(LogError::InvalidBatch(short))?;
                        states.record(&producer_fields(&batch), batch.base_offset(), batch.last_offset());
                        offset = batch.next_offset();
                    }
                    BatchSlice::Disk(bytes) => {
                        for item in iter_stored(bytes, max) {
                            let (batch, _) = item?;
                            states.record(&producer_fields(&batch), batch.base_offset(), batch.last_offset());
                            offset = batch.next_offset();
                        }
                    }
                }
            }
        }
    }

    /// The producer state (if loaded) encoded as a snapshot covering the
    /// log below `offset`, which must all be durable; taken on a roll, under
    /// `io` so no batch past `offset` is in it. The roll's seal task writes
    /// it ([`write_producer_snapshot`]).
    pub(super) fn producer_snapshot(&self, offset: u64) -> Option<ProducerSnapshot> {
        let st = self.state.borrow();
        let bytes = encode_snapshot(st.producers.as_ref()?, offset);
        Some(ProducerSnapshot { dir: self.dir.clone(), bytes })
    }

    /// Removes the snapshot before the log is cut: it may cover batches the
    /// cut removes, and the log may grow past its offset again.
    pub(super) async fn remove_producer_snapshot(&self) -> LogResult<()> {
        let path = self.dir.join(SNAPSHOT_FILE);
        match corelog_runtime::blocking(move || std::fs::remove_file(path)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(LogError::Io(e)),
            _ => Ok(()),
        }
    }

    /// The offset of an indexed batch at least `bytes` before the log end
    /// (the log start if the log is shorter): where a bounded replay begins.
    fn offset_at_bytes_from_end(&self, bytes: u64) -> u64 {
        let st = self.state.borrow();
        let mut left = bytes;
        let at = |entries: &[OffsetEntry], base: u64, position: u64| {
            let n = entries.partition_point(|e| u64::from(e.position) <= position);
            n.checked_sub(1).map_or(base, |i| base + u64::from(entries[i].relative_offset))
        };
        let active_size = st.active.size();
        if active_size >= left {
            return at(st.active.offset_index.entries(), st.active.base_offset(), active_size - left);
        }
        left -= active_size;
        for seg in st.sealed.values().rev() {
            if seg.size >= left {
                return at(seg.offset_entries(), seg.base_offset, seg.size - left);
            }
            left -= seg.size;
        }
        st.log_start_offset
    }
}

/// The saved snapshot in `dir`: the offset it covers the log below, and the table.
async fn load_snapshot(dir: &Path) -> LogResult<Option<(u64, ProducerStates)>> {
    let path = dir.join(SNAPSHOT_FILE);
    let read = corelog_runtime::blocking(move || -> io::Result<Vec<u8>> {
        use std::io::Read;
        let file = std::fs::File::open(&path)?;
        let mut bytes = Vec::new();
        file.take(MAX_PRODUCER_SNAPSHOT_BYTES + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    })
    .await;
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::Io(e)),
    };
    if bytes.len() as u64 > MAX_PRODUCER_SNAPSHOT_BYTES {
        return Err(LogError::Io(io::Error::new(io::ErrorKind::InvalidData, "producer snapshot too large")));
    }
    decode_snapshot(&bytes)
        .map(Some)
        .map_err(|e| LogError::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))
}
