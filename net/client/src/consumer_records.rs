//! Turning fetched batch bytes into [`ConsumerRecord`]s.
//!
//! Each batch is CRC-checked and its rkyv body validated
//! ([`DecodedBatch::decode`]) before any record is read. Keys, values and
//! header values of an uncompressed, aligned batch are handed out as
//! zero-copy slices of the received frame; those of a compressed (or
//! misaligned) batch are copied out of its decompressed body.

use std::rc::Rc;

use bytes::Bytes;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{iter_batches, BatchError, BatchHeader, DecodedBatch};

/// A record read by a [`Consumer`](super::Consumer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic name.
    pub topic: Rc<str>,
    /// Partition.
    pub partition: u32,
    /// Offset in the partition.
    pub offset: u64,
    /// Timestamp in ms since the epoch (create time, or the broker's append
    /// time for log-append-time topics).
    pub timestamp: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value.
    pub value: Bytes,
    /// Application headers.
    pub headers: Vec<(String, Bytes)>,
}

/// `sub` as a slice of `whole` without copying if it lies inside it, else a copy.
fn share(whole: &Bytes, sub: &[u8]) -> Bytes {
    let start = whole.as_ptr() as usize;
    let at = sub.as_ptr() as usize;
    if !sub.is_empty() && at >= start && at + sub.len() <= start + whole.len() {
        whole.slice_ref(sub)
    } else {
        Bytes::copy_from_slice(sub)
    }
}

/// Appends to `out` the records of the batches in `data` whose offset is at
/// least `position`, and returns the position after the last batch read
/// (at least `position`).
///
/// A partial batch at the end (a fetch cut at its byte limit) is ignored;
/// any other damage is an error, as is a first batch that is incomplete.
pub(crate) fn decode_records(
    topic: &Rc<str>,
    partition: u32,
    data: &Bytes,
    position: u64,
    out: &mut Vec<ConsumerRecord>,
) -> Result<u64, BatchError> {
    let mut next = position;
    let mut any = false;
    for batch in iter_batches(data, MAX_BATCH_BYTES_CEILING) {
        let batch = match batch {
            Ok(batch) => batch,
            Err(BatchError::Truncated { .. } | BatchError::TooShort { .. }) if any => break,
            Err(e) => return Err(e),
        };
        any = true;
        let Some(header) = BatchHeader::parse(batch) else { break };
        if header.next_offset() <= position {
            continue; // wholly before the position: no need to open it
        }
        let decoded = DecodedBatch::decode(batch, MAX_BATCH_BYTES_CEILING)?;
        for r in decoded.records().filter(|r| r.offset >= position) {
            out.push(ConsumerRecord {
                topic: topic.clone(),
                partition,
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key.map(|k| share(data, k)),
                value: share(data, r.value),
                headers: r.headers.iter().map(|(k, v)| ((*k).to_owned(), share(data, v))).collect(),
            });
        }
        next = next.max(header.next_offset());
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use corelog_format::{BatchBuilder, Compression};

    /// A batch of `n` records starting at `base`, as the broker stores it.
    fn batch(base: u64, n: u64, compression: Compression) -> BytesMut {
        let mut b = BatchBuilder::new(compression);
        for i in 0..n {
            let value = format!("value-{}", base + i);
            b.push(Some(format!("k{}", base + i).as_bytes()), value.as_bytes(), 1_000 + i as i64, &[("h", b"x")]);
        }
        let mut bytes = b.build().unwrap();
        // The broker rewrites base_offset (outside the CRC).
        BatchHeader::parse_mut(&mut bytes).unwrap().base_offset.set(base);
        bytes
    }

    fn topic() -> Rc<str> {
        Rc::from("t")
    }

    #[test]
    fn skips_records_before_position_and_advances() {
        let mut data = batch(0, 5, Compression::None);
        data.extend_from_slice(&batch(5, 5, Compression::Lz4));
        let data = data.freeze();
        let mut out = Vec::new();
        let next = decode_records(&topic(), 3, &data, 3, &mut out).unwrap();
        assert_eq!(next, 10);
        let offsets: Vec<u64> = out.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (3..10).collect::<Vec<_>>());
        let r = &out[0];
        assert_eq!((r.partition, r.timestamp), (3, 1_003));
        assert_eq!(r.key.as_deref(), Some(&b"k3"[..]));
        assert_eq!(r.value, "value-3");
        assert_eq!(r.headers, vec![("h".to_owned(), Bytes::from_static(b"x"))]);
        assert_eq!(out[9 - 3].value, "value-9", "compressed batch decoded");
    }

    #[test]
    fn uncompressed_values_share_the_buffer() {
        let data = batch(0, 2, Compression::None).freeze();
        let mut out = Vec::new();
        decode_records(&topic(), 0, &data, 0, &mut out).unwrap();
        let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        if data.as_ptr().align_offset(16) == 0 {
            assert!(range.contains(&(out[0].value.as_ptr() as usize)), "value was copied");
        }
    }

    #[test]
    fn partial_trailing_batch_is_ignored_but_corruption_is_not() {
        let mut data = batch(0, 3, Compression::None);
        let second = batch(3, 3, Compression::None);
        data.extend_from_slice(&second[..second.len() / 2]);
        let mut out = Vec::new();
        assert_eq!(decode_records(&topic(), 0, &data.clone().freeze(), 0, &mut out).unwrap(), 3);
        assert_eq!(out.len(), 3);

        let mut bad = batch(0, 3, Compression::None);
        let last = bad.len() - 20;
        bad[last] ^= 0xff;
        let err = decode_records(&topic(), 0, &bad.freeze(), 0, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BatchError::CrcMismatch { .. }), "{err}");
        let half = batch(0, 3, Compression::None);
        assert!(decode_records(&topic(), 0, &half.freeze().slice(..50), 0, &mut Vec::new()).is_err());
    }

    #[test]
    fn position_past_the_data_reads_nothing() {
        let data = batch(0, 3, Compression::None).freeze();
        let mut out = Vec::new();
        assert_eq!(decode_records(&topic(), 0, &data, 7, &mut out).unwrap(), 7);
        assert!(out.is_empty());
    }
}
