//! Kafka RecordBatch v2: the second batch format the log stores, exactly as
//! Kafka clients send it (validated, never re-encoded), so a Kafka fetch of
//! Kafka-produced data sends the stored bytes unchanged.
//!
//! The API mirrors the native format's at the crate root: [`validate`]
//! (framing + CRC-32C), [`validate_full`] (also every record, for network
//! input), [`DecodedBatch`] to read records, [`BatchBuilder`] to write them.
//! [`native_to_kafka`] converts a native batch for a Kafka fetch. How a
//! Kafka batch sits in the log next to native ones is in [`crate::stored`].
//!
//! Layouts: the header in [`header`], records in `records`, codecs in
//! `compression`.

mod builder;
mod compression;
mod convert;
pub mod header;
mod records;
mod validate;
mod varint;

pub use builder::BatchBuilder;
pub use compression::Compression;
pub use convert::native_to_kafka;
pub use header::{compute_crc, BatchHeader, CRC_START, MAGIC};
pub use records::{DecodedBatch, Headers, RecordView};
pub use validate::{validate, validate_full, validate_records};
