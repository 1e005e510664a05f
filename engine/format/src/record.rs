//! One record, as producers hand it in and as consumers see it.
//!
//! [`Record`] is the owned form the builder archives; its rkyv archive
//! (`ArchivedRecord`) is what sits in the body on disk and on the wire, and
//! [`RecordView`] is a borrowed look at one archived record with its offset
//! and timestamp made absolute, so consumers never copy key or value bytes.

use bytes::Bytes;
use rkyv::{Archive, Deserialize, Serialize};

/// A record of a batch. Offsets and timestamps are deltas against the batch
/// header so they archive small and the header alone can be rewritten.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Record {
    /// Offset relative to the batch's base_offset.
    pub offset_delta: u32,
    /// Milliseconds relative to the batch's first_timestamp.
    pub timestamp_delta: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<RecordHeader>,
}

/// An application header of a record (Kafka-style: string key, bytes value).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct RecordHeader {
    pub key: String,
    pub value: Vec<u8>,
}

/// The builder's form of a record: it shares the producer's key, value and
/// header buffers (reference counts, no copy) until `build` archives them,
/// so a payload is copied exactly once, into the batch. It archives to
/// exactly [`ArchivedRecord`] (`Bytes` archives as `ArchivedVec<u8>`, like
/// `Vec<u8>`), which the compiler checks field by field.
#[derive(Archive, Serialize, Debug, Clone)]
#[rkyv(as = ArchivedRecord)]
pub(crate) struct SharedRecord {
    pub offset_delta: u32,
    pub timestamp_delta: i64,
    pub key: Option<Bytes>,
    pub value: Bytes,
    pub headers: Vec<SharedHeader>,
}

/// A header of a [`SharedRecord`].
#[derive(Archive, Serialize, Debug, Clone)]
#[rkyv(as = ArchivedRecordHeader)]
pub(crate) struct SharedHeader {
    pub key: String,
    pub value: Bytes,
}

/// A record read in place from a batch body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Absolute offset: base_offset + offset_delta.
    pub offset: u64,
    /// Absolute timestamp in ms (the batch's max_timestamp for log-append-time
    /// batches, as in Kafka).
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub headers: Vec<(&'a str, &'a [u8])>,
}

impl<'a> RecordView<'a> {
    pub(crate) fn new(record: &'a ArchivedRecord, offset: u64, timestamp: i64) -> Self {
        RecordView {
            offset,
            timestamp,
            key: record.key.as_ref().map(|k| k.as_slice()),
            value: record.value.as_slice(),
            headers: record.headers.iter().map(|h| (h.key.as_str(), h.value.as_slice())).collect(),
        }
    }
}

/// Worst-case padding rkyv inserts before one out-of-line object to align it.
const ALIGN_SLACK: usize = 7;

/// Upper estimate of the archived size of one record, for the builder's byte
/// budget. Deliberately cheap: fixed parts from the archived layout plus the
/// payload lengths plus alignment slack, never a trial serialization.
pub(crate) fn estimated_archived_len<'h>(
    key: Option<&[u8]>,
    value: &[u8],
    headers: impl Iterator<Item = (&'h str, &'h [u8])>,
) -> usize {
    let key_len = key.map_or(0, |k| k.len() + ALIGN_SLACK);
    let headers_len: usize =
        headers.map(|(k, v)| core::mem::size_of::<ArchivedRecordHeader>() + k.len() + v.len() + 2 * ALIGN_SLACK).sum();
    core::mem::size_of::<ArchivedRecord>() + key_len + value.len() + headers_len + 2 * ALIGN_SLACK
}
