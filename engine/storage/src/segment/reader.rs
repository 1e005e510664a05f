//! Reads whole batches for a fetch out of a segment file.

use crate::disk::StorageFile;
use crate::error::{LogError, LogResult};
use crate::limits::{BLOCK_SIZE, READ_CHUNK_BYTES};
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{BatchHeader, HEADER_LEN};
use corelog_runtime::ReadBuf;

/// Whole batches read for a fetch, and where the next sequential read starts.
pub struct BatchRun {
    pub bytes: ReadBuf,
    /// File position just past the last batch.
    pub end: u64,
    /// The offset after the last batch.
    pub next_offset: u64,
}

/// Bytes one read of a fetch of `max_bytes` covers.
pub fn read_window(max_bytes: usize) -> usize {
    READ_CHUNK_BYTES.max(max_bytes.saturating_add(BLOCK_SIZE))
}

/// Reads, from the batch boundary `start`, the batches that end at or before
/// `limit` and contain offsets >= `from_offset`, up to `max_bytes` (always at
/// least one whole batch, however large, so a consumer can make progress).
///
/// Every returned batch is CRC-checked: a damaged batch is reported, never
/// served. `segment` names the segment in errors. `ahead` holds bytes of the
/// file already read from `start` (read-ahead), used instead of the first read.
pub async fn read_batches<F: StorageFile>(
    file: &F,
    segment: u64,
    start: u64,
    limit: u64,
    from_offset: u64,
    max_bytes: usize,
    mut ahead: Option<ReadBuf>,
) -> LogResult<Option<BatchRun>> {
    let mut pos = start;
    let window_len = read_window(max_bytes);
    loop {
        let remaining = limit.saturating_sub(pos);
        if remaining == 0 {
            return Ok(None);
        }
        let buf = match ahead.take() {
            Some(buf) => buf,
            None => file.read_at(pos, remaining.min(window_len as u64) as usize).await?,
        };
        let corrupt = |at: usize, reason: String| LogError::Corrupt { segment, position: pos + at as u64, reason };
        let mut at = 0usize;
        let mut first: Option<usize> = None;
        let mut next_offset = from_offset;
        while at < buf.len() {
            let Some(header) = BatchHeader::parse(&buf[at..]) else { break };
            let len = header.batch_length();
            let checked = if !(HEADER_LEN..=MAX_BATCH_BYTES_CEILING).contains(&len) {
                Err(format!("batch length {len} out of bounds"))
            } else if at + len > buf.len() || first.is_some_and(|f| at + len - f > max_bytes) {
                break;
            } else {
                corelog_format::validate(&buf[at..at + len], MAX_BATCH_BYTES_CEILING).map_err(|e| e.to_string())
            };
            match checked {
                Ok(header) => {
                    if first.is_none() && header.next_offset() > from_offset {
                        first = Some(at);
                    }
                    next_offset = header.next_offset();
                    at += len;
                }
                // Serve the good batches before a damaged one; the next read
                // starts at the damaged one and reports it.
                Err(_) if first.is_some() => break,
                Err(reason) => return Err(corrupt(at, reason)),
            }
        }
        if let Some(first) = first {
            let end = pos + at as u64;
            return Ok(buf.slice(first, at - first).map(|bytes| BatchRun { bytes, end, next_offset }));
        }
        if at == 0 {
            // One batch bigger than the window: read exactly it.
            let Some(header) = BatchHeader::parse(&buf) else {
                return Err(corrupt(0, "truncated batch header".into()));
            };
            let len = header.batch_length();
            let whole = file.read_at(pos, len).await?;
            if whole.len() < len {
                return Err(corrupt(0, format!("batch of {len} bytes runs past the segment end")));
            }
            let header =
                corelog_format::validate(&whole, MAX_BATCH_BYTES_CEILING).map_err(|e| corrupt(0, e.to_string()))?;
            if header.next_offset() > from_offset {
                let (end, next_offset) = (pos + len as u64, header.next_offset());
                return Ok(Some(BatchRun { bytes: whole, end, next_offset }));
            }
            at = len;
        }
        pos += at as u64;
    }
}
