//! Replaying one partition of `__consumer_offsets`: every committed record
//! from the log start, in offset order, handed to a callback (the runtime
//! feeds it to `GroupCoordinator::replay`).

use crate::limits::REPLAY_READ_BYTES;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{iter_batches, DecodedBatch};
use corelog_storage::PartitionLog;

/// What a replay went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Records handed to the callback.
    pub records: u64,
    /// Records without a key (not the coordinator's; skipped).
    pub keyless: u64,
    /// The offset the replay stopped at (the high watermark when it began).
    pub end_offset: u64,
}

/// What the callback tells the replay.
pub enum Next {
    /// Go on.
    Continue,
    /// The partition is no longer being loaded: stop.
    Stop,
}

/// Reads `log` from its start up to its high watermark (as of the call) and
/// calls `apply(offset, key, value)` for every record with a key. Errors are
/// reads that fail or batches that do not decode (recovery already dropped
/// torn writes, so this means the disk misbehaves): the caller retries.
pub async fn replay(log: &PartitionLog, mut apply: impl FnMut(u64, &[u8], &[u8]) -> Next) -> Result<Replayed, String> {
    let mut offset = log.log_start_offset();
    let end = log.high_watermark();
    let mut out = Replayed { end_offset: end, ..Replayed::default() };
    while offset < end {
        let fetched = log.read(offset, REPLAY_READ_BYTES).await.map_err(|e| format!("reading offset {offset}: {e}"))?;
        let mut next = offset;
        for slice in &fetched.slices {
            // A cached batch is copied whole here; replays are rare.
            for batch in iter_batches(&slice.to_contiguous(), MAX_BATCH_BYTES_CEILING) {
                let batch = batch.map_err(|e| format!("batch after offset {next}: {e}"))?;
                let decoded = DecodedBatch::decode(batch, MAX_BATCH_BYTES_CEILING)
                    .map_err(|e| format!("batch after offset {next}: {e}"))?;
                for record in decoded.records() {
                    // The first batch may begin before the offset asked for.
                    if record.offset < offset || record.offset >= end {
                        continue;
                    }
                    let Some(key) = record.key else {
                        out.keyless += 1;
                        continue;
                    };
                    out.records += 1;
                    if let Next::Stop = apply(record.offset, key, record.value) {
                        return Ok(out);
                    }
                }
                next = next.max(decoded.header().next_offset());
            }
        }
        if next <= offset {
            return Err(format!("the log returned nothing at offset {offset} (high watermark {end})"));
        }
        offset = next;
        corelog_runtime::yield_if_needed().await;
    }
    Ok(out)
}
