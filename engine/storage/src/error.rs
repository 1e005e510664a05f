//! Errors the log reports to its callers.

use std::io;

use corelog_format::BatchError;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("invalid batch: {0}")]
    InvalidBatch(#[from] BatchError),
    #[error("batch of {size} bytes exceeds the limit of {max} bytes")]
    BatchTooLarge { size: usize, max: usize },
    #[error("expected exactly one batch: its length is {batch_length} but {received} bytes were given")]
    NotOneBatch { batch_length: usize, received: usize },
    #[error("offset {offset} is outside the log [{log_start}, {log_end}]")]
    OffsetOutOfRange { offset: u64, log_start: u64, log_end: u64 },
    #[error("corrupt data at {segment}:{position}: {reason}")]
    Corrupt { segment: u64, position: u64, reason: String },
    /// A stored batch failed its check when read (damaged on disk), so it is
    /// not served. `offset` is the base offset it should carry (known from
    /// where it lies); `next_offset` is where the log is readable again, the
    /// first offset of the next batch that checks out (a reader at or past
    /// it skips the damage). Retrying reads the same bytes: not transient.
    #[error(
        "stored batch at offset {offset} is damaged ({reason}; segment {segment}, byte {position}); \
         the log is readable again from offset {next_offset}"
    )]
    CorruptBatch { offset: u64, next_offset: u64, segment: u64, position: u64, reason: String },
    /// An earlier write or fdatasync failed; the log refuses appends until it
    /// is reopened (and recovered), because what reached the disk is unknown.
    #[error("log is failed after an earlier I/O error ({0}); reopen to recover")]
    Failed(String),
    /// An idempotent producer's batch the log already holds (a retry): not
    /// appended again; answer with where it is.
    #[error("the batch was appended before, at offsets {first_offset}..={last_offset}")]
    DuplicateBatch { first_offset: u64, last_offset: u64 },
    /// An idempotent producer's batch refused by the sequence rules.
    #[error(transparent)]
    Sequence(#[from] crate::producers::SequenceError),
}

pub type LogResult<T> = Result<T, LogError>;
