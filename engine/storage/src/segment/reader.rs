//! Reads whole batches for a fetch out of a segment file, checking every one
//! before it is served, and finds where reading can go on after a damaged one.
//!
//! Batches are in either stored format (`corelog_format::stored`), told apart
//! by byte 16; every check below goes through the format-neutral
//! `StoredBatch`, so a damaged Kafka batch is reported exactly like a damaged
//! native one. What the check covers (layouts in `corelog_format::header` and
//! `corelog_format::kafka::header`):
//! - framing and the CRC, which covers everything from byte 24 on (native;
//!   CRC-32C from byte 21 on for Kafka, whose zero padding is checked too); a
//!   damaged length moves the range the CRC covers, so it fails it too, as a
//!   damaged `magic`, reserved byte or `crc` field fails its own check;
//! - `base_offset`, which the log writes on append outside the CRC (a Kafka
//!   one must not be negative): checked
//!   against where the batch lies. The batch a read starts at must carry the
//!   offset its index entry (or the read-ahead, or the segment's base) says
//!   starts there, every later one the previous one's last offset + 1, and no
//!   batch may reach past the end of the readable region (the next segment's
//!   base offset, or the high watermark in the active segment), which the
//!   last batch must end exactly at. The last offset itself is under the CRC.
//! - `leader_epoch`, also outside the CRC: epochs never decrease along the
//!   log and no batch carries one above the log's current epoch, so a batch
//!   is refused if its epoch is above the log's, or below the epoch of the
//!   batch before it in the same read. What this cannot catch: a flip that
//!   lowers an epoch while staying at or above the previous batch's (or in
//!   the first batch a read looks at), and a flip that raises one while
//!   staying at or below the log's epoch, which blames the next batch (its
//!   epoch then looks lower). With a single epoch (no replication yet), every
//!   flip in the field raises it above the log's and is caught.
//!
//! Lives on: the core owning the partition.

use std::io;

use crate::disk::StorageFile;
use crate::limits::{BLOCK_SIZE, READ_CHUNK_BYTES, RESYNC_SCAN_BYTES};
use corelog_format::limits::{BATCH_ALIGNMENT, MAX_BATCH_BYTES_CEILING};
use corelog_format::{StoredBatch, HEADER_LEN, MAGIC};
use corelog_runtime::ReadBuf;

/// A batch boundary: where a batch starts and the base offset it must carry
/// (or, at the end of a region, the offset after the last batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundary {
    pub position: u64,
    pub offset: u64,
}

/// Whole batches read for a fetch, and where the next sequential read starts.
pub struct BatchRun {
    pub bytes: ReadBuf,
    /// File position just past the last batch.
    pub end: u64,
    /// The offset after the last batch.
    pub next_offset: u64,
}

/// A batch that failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Where it starts, and the base offset it should carry there.
    pub at: Boundary,
    /// Its length field, if plausible: where the next batch most likely starts.
    pub claimed_len: Option<u64>,
    pub reason: String,
}

impl Damage {
    fn new(at: Boundary, bytes: &[u8], reason: String) -> Self {
        let claimed_len = StoredBatch::peek(bytes)
            .and_then(|b| b.claimed_len())
            .filter(|len| plausible_len(*len))
            .map(|len| len as u64);
        Damage { at, claimed_len, reason }
    }
}

/// What a read found.
pub enum ReadOutcome {
    Batches(BatchRun),
    /// No batch at or after the offset before the end of the region.
    Empty,
    /// The first batch the read would serve (or one before it that it had
    /// to walk over) failed its check.
    Damaged(Damage),
}

/// Bytes one read of a fetch of `max_bytes` covers.
pub fn read_window(max_bytes: usize) -> usize {
    READ_CHUNK_BYTES.max(max_bytes.saturating_add(BLOCK_SIZE))
}

// `is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn plausible_len(len: usize) -> bool {
    (HEADER_LEN..=MAX_BATCH_BYTES_CEILING).contains(&len) && len % BATCH_ALIGNMENT == 0
}

/// Checks the whole batch `bytes` found at `at` (see the module docs):
/// framing and CRC, then its place in the region that ends at `end`.
/// `prev_epoch` is the epoch of the batch before it in this read, if any.
fn check(
    bytes: &[u8],
    at: Boundary,
    end: Boundary,
    max_epoch: u32,
    prev_epoch: Option<u32>,
) -> Result<StoredBatch<'_>, String> {
    let header = StoredBatch::validate(bytes, MAX_BATCH_BYTES_CEILING).map_err(|e| e.to_string())?;
    check_placement(&header, at, end, max_epoch, prev_epoch)?;
    Ok(header)
}

/// The checks of the header fields outside the CRC.
fn check_placement(
    header: &StoredBatch<'_>,
    at: Boundary,
    end: Boundary,
    max_epoch: u32,
    prev_epoch: Option<u32>,
) -> Result<(), String> {
    if !header.stamped_fields_in_range() {
        return Err("negative Kafka base offset or leader epoch".into());
    }
    if header.base_offset() != at.offset {
        return Err(format!("base offset {} where {} was expected", header.base_offset(), at.offset));
    }
    let batch_end = at.position + header.stored_len() as u64;
    let next = header.next_offset();
    // Every batch holds at least one offset, so a batch ends at the end of
    // the region exactly when its offsets do.
    if batch_end > end.position || next > end.offset || (batch_end == end.position) != (next == end.offset) {
        return Err(format!(
            "offsets {}..={} at bytes {}..{batch_end} do not fit a region ending at offset {} at byte {}",
            at.offset,
            header.last_offset(),
            at.position,
            end.offset,
            end.position
        ));
    }
    let epoch = header.leader_epoch();
    if epoch > max_epoch {
        return Err(format!("leader epoch {epoch} above the log's {max_epoch}"));
    }
    if let Some(prev) = prev_epoch.filter(|prev| epoch < *prev) {
        return Err(format!("leader epoch {epoch} below the previous batch's {prev}"));
    }
    Ok(())
}

/// Reads, from the batch boundary `start`, the batches that end at or before
/// `end` and contain offsets >= `from_offset`, up to `max_bytes` (always at
/// least one whole batch, however large, so a consumer can make progress).
///
/// Every batch walked is checked (module docs) with `max_epoch` the log's
/// epoch: a damaged batch is reported, never served. Good batches before a
/// damaged one are served; the next read starts at the damaged one and
/// reports it. `ahead` holds bytes of the file already read from `start`
/// (read-ahead), used instead of the first read.
pub async fn read_batches<F: StorageFile>(
    file: &F,
    start: Boundary,
    end: Boundary,
    max_epoch: u32,
    from_offset: u64,
    max_bytes: usize,
    mut ahead: Option<ReadBuf>,
) -> io::Result<ReadOutcome> {
    let mut next = start;
    let mut prev_epoch = None;
    let window_len = read_window(max_bytes);
    loop {
        let remaining = end.position.saturating_sub(next.position);
        if remaining == 0 {
            return Ok(ReadOutcome::Empty);
        }
        let pos = next.position;
        let buf = match ahead.take() {
            Some(buf) => buf,
            None => file.read_at(pos, remaining.min(window_len as u64) as usize).await?,
        };
        let mut at = 0usize;
        let mut first: Option<usize> = None;
        let mut damage = None;
        // A native header's worth holds either format's header.
        while at + HEADER_LEN <= buf.len() {
            let here = Boundary { position: pos + at as u64, offset: next.offset };
            let (len, checked) = match claimed_len(&buf[at..]) {
                Err(reason) => (0, Err(reason)),
                Ok(len) if at + len > buf.len() || first.is_some_and(|f| at + len - f > max_bytes) => break,
                Ok(len) => (len, check(&buf[at..at + len], here, end, max_epoch, prev_epoch)),
            };
            match checked {
                Ok(header) => {
                    if first.is_none() && header.next_offset() > from_offset {
                        first = Some(at);
                    }
                    prev_epoch = Some(header.leader_epoch());
                    next = Boundary { position: here.position + len as u64, offset: header.next_offset() };
                    at += len;
                }
                Err(reason) => {
                    damage = Some(Damage::new(here, &buf[at..], reason));
                    break;
                }
            }
        }
        if let Some(first) = first {
            let run = buf.slice(first, at - first).map(|bytes| BatchRun {
                bytes,
                end: next.position,
                next_offset: next.offset,
            });
            return Ok(run.map_or(ReadOutcome::Empty, ReadOutcome::Batches));
        }
        if let Some(damage) = damage {
            return Ok(ReadOutcome::Damaged(damage));
        }
        if at == 0 {
            // One batch bigger than the window: read exactly it.
            let here = next;
            if buf.len() < HEADER_LEN {
                return Ok(ReadOutcome::Damaged(Damage::new(here, &buf, "truncated batch header".into())));
            }
            let len = match claimed_len(&buf) {
                Ok(len) => len,
                Err(reason) => return Ok(ReadOutcome::Damaged(Damage::new(here, &buf, reason))),
            };
            if here.position + len as u64 > end.position {
                let reason = format!("batch of {len} bytes runs past the end of the readable log");
                return Ok(ReadOutcome::Damaged(Damage::new(here, &buf, reason)));
            }
            let whole = file.read_at(here.position, len).await?;
            if whole.len() < len {
                let reason = format!("batch of {len} bytes runs past the segment end");
                return Ok(ReadOutcome::Damaged(Damage::new(here, &buf, reason)));
            }
            match check(&whole, here, end, max_epoch, prev_epoch) {
                Err(reason) => return Ok(ReadOutcome::Damaged(Damage::new(here, &whole, reason))),
                Ok(header) => {
                    let after = Boundary { position: here.position + len as u64, offset: header.next_offset() };
                    if after.offset > from_offset {
                        return Ok(ReadOutcome::Batches(BatchRun {
                            bytes: whole,
                            end: after.position,
                            next_offset: after.offset,
                        }));
                    }
                    prev_epoch = Some(header.leader_epoch());
                    next = after;
                }
            }
        }
    }
}

/// Where reading can go on after `damage`: the first batch after it that
/// checks out and is followed by one that does too and continues its offsets
/// (or that ends exactly at `known`), else `known` itself: the next boundary
/// the segment vouches for (its next offset-index entry after the damage, or
/// the end of the readable region).
///
/// The damaged batch's length field may be what is damaged, so its end is
/// only the first place looked at; then every `BATCH_ALIGNMENT`-aligned
/// position after its start (batches are padded to it), up to `known` and at
/// most `RESYNC_SCAN_BYTES` on. A candidate's base offset must lie after the
/// damaged batch's and before `known`'s. Requiring the batch after it to
/// check out too is what keeps bytes inside a record that happen to look
/// like a batch (a record whose value is a batch) from being taken for one.
pub async fn next_good_batch<F: StorageFile>(
    file: &F,
    damage: &Damage,
    known: Boundary,
    max_epoch: u32,
) -> io::Result<Boundary> {
    let from = damage.at;
    if known.position <= from.position {
        return Ok(known);
    }
    if let Some(len) = damage.claimed_len {
        if let Some(found) = trusted_at(file, from.position + len, from.offset, known, max_epoch).await? {
            return Ok(found);
        }
    }
    let scan_end = known.position.min(from.position.saturating_add(RESYNC_SCAN_BYTES));
    let mut window_start = from.position + BATCH_ALIGNMENT as u64;
    while window_start + HEADER_LEN as u64 <= scan_end {
        let len = (scan_end - window_start).min(READ_CHUNK_BYTES as u64) as usize;
        let window = file.read_at(window_start, len).await?;
        let mut at = 0usize;
        while at + HEADER_LEN <= window.len() {
            let position = window_start + at as u64;
            let tried = damage.claimed_len == Some(position - from.position);
            if !tried && plausible(&window[at..], position, from.offset, known) {
                if let Some(found) = trusted_at(file, position, from.offset, known, max_epoch).await? {
                    return Ok(found);
                }
            }
            at += BATCH_ALIGNMENT;
        }
        if at == 0 {
            break; // a short read: the file ends here
        }
        window_start += at as u64;
    }
    Ok(known)
}

/// A cheap look at a header before its batch is read and CRC-checked: the
/// fields a random position almost never gets right.
fn plausible(bytes: &[u8], position: u64, after_offset: u64, known: Boundary) -> bool {
    let Some(header) = StoredBatch::peek(bytes) else { return false };
    let Some(len) = header.claimed_len() else { return false };
    let reserved_zero = match header {
        StoredBatch::Native(h) => h.magic == MAGIC && h.reserved0 == [0; 3],
        StoredBatch::Kafka(_) => true,
    };
    reserved_zero
        && header.stamped_fields_in_range()
        && plausible_len(len)
        && position + len as u64 <= known.position
        && header.base_offset() > after_offset
        && header.base_offset() < known.offset
}

/// The stored length the batch at the front of `bytes` (at least a native
/// header's worth) claims, if within bounds; why not otherwise.
fn claimed_len(bytes: &[u8]) -> Result<usize, String> {
    let Some(header) = StoredBatch::peek(bytes) else {
        let found = bytes.get(corelog_format::stored::MAGIC_OFFSET).copied().unwrap_or_default();
        return Err(corelog_format::BatchError::UnknownMagic { found }.to_string());
    };
    match header.claimed_len() {
        Some(len) if (HEADER_LEN..=MAX_BATCH_BYTES_CEILING).contains(&len) => Ok(len),
        Some(len) => Err(format!("batch length {len} out of bounds")),
        None => Err("negative Kafka batch length".into()),
    }
}

/// The boundary at `position` if a batch there checks out with offsets
/// after `after_offset`, ending at `known` or followed by a batch that checks
/// out and continues its offsets.
async fn trusted_at<F: StorageFile>(
    file: &F,
    position: u64,
    after_offset: u64,
    known: Boundary,
    max_epoch: u32,
) -> io::Result<Option<Boundary>> {
    if position >= known.position {
        return Ok((position == known.position).then_some(known));
    }
    let Some((start, after)) = checked_at(file, position, known, max_epoch).await? else { return Ok(None) };
    if start.offset <= after_offset {
        return Ok(None);
    }
    if after == known {
        return Ok(Some(start));
    }
    let follows = checked_at(file, after.position, known, max_epoch).await?;
    Ok(follows.filter(|(next, _)| next.offset == after.offset).map(|_| start))
}

/// The batch at `position`, if it checks out (framing, CRC, within `known`,
/// an epoch at most `max_epoch`) with whatever base offset it carries: its
/// start and the boundary after it.
async fn checked_at<F: StorageFile>(
    file: &F,
    position: u64,
    known: Boundary,
    max_epoch: u32,
) -> io::Result<Option<(Boundary, Boundary)>> {
    if position + HEADER_LEN as u64 > known.position {
        return Ok(None);
    }
    let head = file.read_at(position, HEADER_LEN).await?;
    let Some(len) = StoredBatch::peek(&head).and_then(|h| h.claimed_len()) else { return Ok(None) };
    if !plausible_len(len) || position + len as u64 > known.position {
        return Ok(None);
    }
    let whole = file.read_at(position, len).await?;
    let Ok(header) = StoredBatch::validate(&whole, MAX_BATCH_BYTES_CEILING) else { return Ok(None) };
    let start = Boundary { position, offset: header.base_offset() };
    if header.stored_len() != len || check_placement(&header, start, known, max_epoch, None).is_err() {
        return Ok(None);
    }
    Ok(Some((start, Boundary { position: position + len as u64, offset: header.next_offset() })))
}
