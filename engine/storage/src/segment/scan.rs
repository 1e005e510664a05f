//! Walks the batches of a segment file from a known batch boundary, checking
//! each one (framing, CRC, offset continuity) in whichever format it is
//! stored in (`corelog_format::stored`: native, or Kafka v2 with CRC-32C and
//! its zero padding). Used by recovery and by index rebuilds; the fetch path
//! has its own, narrower reader.

use std::io;

use crate::disk::StorageFile;
use crate::limits::{READ_CHUNK_BYTES, SCAN_FIRST_READ_BYTES};
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{BatchError, StoredBatch, HEADER_LEN};

/// One valid batch found by a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedBatch {
    pub position: u64,
    pub len: u32,
    pub base_offset: u64,
    pub next_offset: u64,
    pub max_timestamp: i64,
    pub leader_epoch: u32,
}

/// Why a scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStop {
    /// End of file, zeroes where the next header would be (preallocated or
    /// padding space that was never written), or a whole batch from before
    /// the expected offset (a recycled file's old bytes, `recycled.rs`).
    Clean,
    /// The visitor asked to stop.
    Stopped,
    /// Bytes that are not a valid next batch: a torn write or corruption.
    Corrupt(String),
}

/// Where the valid prefix ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Position just past the last valid batch.
    pub end: u64,
    /// Offset after the last valid batch (the expected offset if none).
    pub next_offset: u64,
    pub stop: ScanStop,
}

/// Scans from `start` (a batch boundary whose batch has base offset
/// `expected_offset`) up to `file_len`, calling `visit` for every valid batch
/// until it returns false (then the outcome ends after that batch, `Stopped`).
pub async fn scan<F: StorageFile>(
    file: &F,
    start: u64,
    file_len: u64,
    expected_offset: u64,
    mut visit: impl FnMut(&ScannedBatch) -> bool,
) -> io::Result<ScanOutcome> {
    let mut pos = start;
    let mut next_offset = expected_offset;
    // Small first, as most scans end soon (see SCAN_FIRST_READ_BYTES).
    let mut read_len = SCAN_FIRST_READ_BYTES;
    loop {
        let remaining = file_len.saturating_sub(pos);
        if remaining == 0 {
            return Ok(ScanOutcome { end: pos, next_offset, stop: ScanStop::Clean });
        }
        let window = file.read_at(pos, remaining.min(read_len as u64) as usize).await?;
        read_len = (read_len * 2).min(READ_CHUNK_BYTES);
        match scan_window(&window, pos, file_len, &mut next_offset, &mut visit) {
            Window::Consumed(n) => pos += n as u64,
            Window::Stop(at, stop) => return Ok(ScanOutcome { end: pos + at as u64, next_offset, stop }),
            Window::Oversized(len) => {
                // The batch at `pos` is larger than one window: read it whole.
                let whole = file.read_at(pos, len).await?;
                if whole.len() < len {
                    let stop = ScanStop::Corrupt(format!("batch of {len} bytes runs past end of file"));
                    return Ok(ScanOutcome { end: pos, next_offset, stop });
                }
                match check(&whole, pos, next_offset) {
                    Ok(found) => {
                        next_offset = found.next_offset;
                        pos += len as u64;
                        if !visit(&found) {
                            return Ok(ScanOutcome { end: pos, next_offset, stop: ScanStop::Stopped });
                        }
                    }
                    Err(bad) => return Ok(ScanOutcome { end: pos, next_offset, stop: bad.stop() }),
                }
            }
        }
    }
}

enum Window {
    /// This many bytes held whole valid batches; read on from there.
    Consumed(usize),
    /// The scan ends this many bytes into the window.
    Stop(usize, ScanStop),
    /// The window starts with a batch of this length that it doesn't hold.
    Oversized(usize),
}

fn scan_window(
    window: &[u8],
    window_pos: u64,
    file_len: u64,
    next_offset: &mut u64,
    visit: &mut impl FnMut(&ScannedBatch) -> bool,
) -> Window {
    let mut at = 0usize;
    while at < window.len() {
        let rest = &window[at..];
        let file_pos = window_pos + at as u64;
        // A native header's worth holds either format's header (a stored
        // Kafka batch is never shorter; `corelog_format::limits`).
        if rest.len() < HEADER_LEN {
            if file_pos + HEADER_LEN as u64 <= file_len {
                return Window::Consumed(at); // header straddles the window
            }
            if rest.iter().all(|&b| b == 0) {
                return Window::Stop(at, ScanStop::Clean);
            }
            return Window::Stop(at, ScanStop::Corrupt("truncated batch header at end of file".into()));
        }
        if rest[..HEADER_LEN].iter().all(|&b| b == 0) {
            return Window::Stop(at, ScanStop::Clean);
        }
        let len = match StoredBatch::peek(rest).map(|b| b.claimed_len()) {
            None => {
                let magic = rest[corelog_format::stored::MAGIC_OFFSET];
                return Window::Stop(at, ScanStop::Corrupt(BatchError::UnknownMagic { found: magic }.to_string()));
            }
            Some(Some(len)) if (HEADER_LEN..=MAX_BATCH_BYTES_CEILING).contains(&len) => len,
            Some(len) => {
                let len = len.map_or_else(|| "negative".to_owned(), |l| l.to_string());
                return Window::Stop(at, ScanStop::Corrupt(format!("batch length {len} out of bounds")));
            }
        };
        if file_pos + len as u64 > file_len {
            return Window::Stop(at, ScanStop::Corrupt(format!("batch of {len} bytes runs past end of file")));
        }
        if len > rest.len() {
            return if at == 0 { Window::Oversized(len) } else { Window::Consumed(at) };
        }
        match check(&rest[..len], file_pos, *next_offset) {
            Ok(found) => {
                *next_offset = found.next_offset;
                at += len;
                if !visit(&found) {
                    return Window::Stop(at, ScanStop::Stopped);
                }
            }
            Err(bad) => return Window::Stop(at, bad.stop()),
        }
    }
    Window::Consumed(at)
}

/// Why the bytes at a position are not the next batch.
enum NotNext {
    /// A valid batch, of offsets before the expected one: what a recycled
    /// file holds past the new data. The log ends here.
    Older,
    Invalid(String),
}

impl NotNext {
    fn stop(self) -> ScanStop {
        match self {
            NotNext::Older => ScanStop::Clean,
            NotNext::Invalid(reason) => ScanStop::Corrupt(reason),
        }
    }
}

fn check(bytes: &[u8], position: u64, expected_offset: u64) -> Result<ScannedBatch, NotNext> {
    let header = StoredBatch::validate(bytes, MAX_BATCH_BYTES_CEILING)
        .map_err(|e: BatchError| NotNext::Invalid(e.to_string()))?;
    if !header.stamped_fields_in_range() {
        return Err(NotNext::Invalid("negative Kafka base offset or leader epoch".into()));
    }
    if header.base_offset() < expected_offset {
        return Err(NotNext::Older);
    }
    if header.base_offset() != expected_offset {
        let found = header.base_offset();
        return Err(NotNext::Invalid(format!("batch base offset {found} where {expected_offset} was expected")));
    }
    // The scan read exactly the length the header claims, which
    // `validate` checked against the bytes: `stored_len() == bytes.len()`.
    Ok(ScannedBatch {
        position,
        len: header.stored_len() as u32,
        base_offset: header.base_offset(),
        next_offset: header.next_offset(),
        max_timestamp: header.max_timestamp(),
        leader_epoch: header.leader_epoch(),
    })
}
