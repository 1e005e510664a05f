//! Everything that can be wrong with a batch, as one error type.
//!
//! Variants carry the offending numbers so a broker can put them in an error
//! response and a recovery log line says exactly why a batch was cut off.
//! `Clone + Eq` so tests can match exact variants and callers can store them.

use crate::header::{HEADER_LEN, MAGIC};
use crate::kafka::MAGIC as KAFKA_MAGIC;
use crate::limits::{BATCH_ALIGNMENT, KAFKA_HEADER_LEN};

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    #[error("batch too short: {len} bytes, the header alone is {HEADER_LEN}")]
    TooShort { len: usize },

    #[error("bad batch magic {found}, expected {expected}")]
    BadMagic { found: u8, expected: u8 },

    #[error("batch_length {length} is not a multiple of {BATCH_ALIGNMENT}")]
    LengthNotAligned { length: usize },

    #[error("batch_length {length} is smaller than the {HEADER_LEN}-byte header")]
    LengthTooSmall { length: usize },

    #[error("batch_length {length} exceeds the limit of {max} bytes")]
    LengthOverMax { length: usize, max: usize },

    #[error("batch truncated: batch_length {length} but only {available} bytes available")]
    Truncated { length: usize, available: usize },

    #[error("crc mismatch: header says {expected:#010x}, bytes hash to {actual:#010x}")]
    CrcMismatch { expected: u32, actual: u32 },

    #[error("unknown attribute bits in {attributes:#06x}")]
    UnknownAttributes { attributes: u16 },

    #[error("unknown compression codec {codec}")]
    UnknownCodec { codec: u16 },

    #[error("reserved header byte at offset {offset} is {value:#04x}, must be zero")]
    NonZeroReserved { offset: usize, value: u8 },

    #[error("padding byte at offset {offset} is {value:#04x}, must be zero")]
    NonZeroPadding { offset: usize, value: u8 },

    #[error("body_length {body_length} does not fit batch_length {batch_length}")]
    BodyLengthMismatch { body_length: usize, batch_length: usize },

    #[error("no record batch in the bytes")]
    NoBatches,

    #[error("expected exactly one batch: its length is {batch_length} but {received} bytes were given")]
    NotOneBatch { batch_length: usize, received: usize },

    #[error("batch has no records")]
    EmptyBatch,

    #[error("batch has {count} records, the limit is {max}")]
    TooManyRecords { count: usize, max: usize },

    #[error("record_count is {header} but the body holds {body} records")]
    RecordCountMismatch { header: u32, body: usize },

    #[error("last_offset_delta is {header} but the records say {body}")]
    LastOffsetDeltaMismatch { header: u32, body: u32 },

    #[error("record {index} has offset_delta {delta}, not greater than the one before")]
    OffsetDeltaNotIncreasing { index: usize, delta: u32 },

    #[error("{field} is {header} but the records say {body}")]
    TimestampMismatch { field: &'static str, header: i64, body: i64 },

    #[error("record timestamp overflows i64 milliseconds")]
    TimestampOverflow,

    #[error("decompression failed: {0}")]
    Decompress(String),

    #[error("body decompressed to {actual} bytes, header says {expected}")]
    DecompressedSizeMismatch { expected: usize, actual: usize },

    #[error("uncompressed body of {size} bytes exceeds the limit of {max}")]
    UncompressedTooLarge { size: usize, max: usize },

    #[error("encoded batch of {size} bytes exceeds the ceiling of {max}")]
    BatchTooLarge { size: usize, max: usize },

    #[error("invalid record archive: {0}")]
    InvalidArchive(String),

    #[error("encoding records failed: {0}")]
    Encode(String),

    // ---- Kafka RecordBatch v2 ----
    #[error("Kafka batch too short: {len} bytes, its header alone is {KAFKA_HEADER_LEN}")]
    KafkaTooShort { len: usize },

    #[error("Kafka batchLength {length} is outside [{min}, {max}]")]
    KafkaLengthOutOfRange { length: i32, min: usize, max: usize },

    #[error("Kafka recordCount {count} is outside [1, {max}]")]
    KafkaRecordCountOutOfRange { count: i32, max: usize },

    #[error("Kafka lastOffsetDelta {last_offset_delta} is impossible for {record_count} records")]
    KafkaBadLastOffsetDelta { last_offset_delta: i32, record_count: i32 },

    #[error("{kind} Kafka batches are not supported (corelog has no transactions yet)")]
    KafkaUnsupportedBatch { kind: &'static str },

    #[error("Kafka batch of producer {producer_id} has baseSequence {base_sequence}; an idempotent producer's is never negative")]
    KafkaBadSequence { producer_id: i64, base_sequence: i32 },

    #[error("Kafka record {index}: {field} is not a valid varint")]
    KafkaBadVarint { index: usize, field: &'static str },

    #[error("Kafka record {index}: {field} {value} is invalid with {available} bytes left")]
    KafkaBadLength { index: usize, field: &'static str, value: i64, available: usize },

    #[error("Kafka record {index}: its length says {declared} bytes but its fields take {used}")]
    KafkaRecordSizeMismatch { index: usize, declared: usize, used: usize },

    #[error("Kafka record {index}: a header key is not UTF-8")]
    KafkaHeaderKeyNotUtf8 { index: usize },

    #[error("Kafka record {index} has offsetDelta {delta}; a produced batch numbers its records 0, 1, 2, ...")]
    KafkaOffsetDelta { index: usize, delta: i32 },

    #[error("Kafka batch holds {trailing} bytes after the {count} records its header announces")]
    KafkaTrailingBytes { count: usize, trailing: usize },

    #[error("batch magic {found} is neither native ({MAGIC}) nor Kafka v2 ({KAFKA_MAGIC})")]
    UnknownMagic { found: u8 },

    #[error("{field} {value} is out of range for this batch format")]
    FieldOutOfRange { field: &'static str, value: u64 },
}
