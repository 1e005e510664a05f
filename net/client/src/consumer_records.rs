//! Turning fetched batch bytes into [`ConsumerRecord`]s.
//!
//! A fetch carries batches as the log stores them, in either format
//! (`corelog_format::stored`): native ones, and Kafka v2 ones that Kafka
//! clients produced (their wire bytes plus zero padding). Each batch is
//! checked in full by its format's decoder ([`DecodedBatch::decode`]:
//! CRC and rkyv body; [`kafka::DecodedBatch::decode`]: CRC-32C and every
//! record) before any record is read. Keys, values and header values of an
//! uncompressed (for native, also aligned) batch are handed out as zero-copy
//! slices of the received frame; those of a compressed one are copied out of
//! its decompressed records. A Kafka null value or header value reads as
//! empty, as the native format has no null value.

use std::rc::Rc;

use bytes::Bytes;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::stored::iter_stored;
use corelog_format::{kafka, BatchError, DecodedBatch, StoredBatch};

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
    /// Value (empty for a Kafka producer's null value).
    pub value: Bytes,
    /// Application headers (a Kafka null header value reads as empty).
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
    for batch in iter_stored(data, MAX_BATCH_BYTES_CEILING) {
        let (header, bytes) = match batch {
            Ok(batch) => batch,
            Err(BatchError::Truncated { .. } | BatchError::TooShort { .. } | BatchError::KafkaTooShort { .. })
                if any =>
            {
                break
            }
            Err(e) => return Err(e),
        };
        any = true;
        if header.next_offset() <= position {
            continue; // wholly before the position: no need to open it
        }
        let record = |offset, timestamp, key: Option<&[u8]>, value: &[u8], headers| ConsumerRecord {
            topic: topic.clone(),
            partition,
            offset,
            timestamp,
            key: key.map(|k| share(data, k)),
            value: share(data, value),
            headers,
        };
        match header {
            StoredBatch::Native(_) => {
                let decoded = DecodedBatch::decode(bytes, MAX_BATCH_BYTES_CEILING)?;
                for r in decoded.records().filter(|r| r.offset >= position) {
                    let headers = r.headers.iter().map(|(k, v)| ((*k).to_owned(), share(data, v))).collect();
                    out.push(record(r.offset, r.timestamp, r.key, r.value, headers));
                }
            }
            StoredBatch::Kafka(h) => {
                // The log stamps a non-negative base offset; anything else
                // is damage (it is outside the CRC).
                if h.base_offset() < 0 {
                    let value = h.base_offset() as u64;
                    return Err(BatchError::FieldOutOfRange { field: "Kafka base offset", value });
                }
                let decoded = kafka::DecodedBatch::decode(bytes, MAX_BATCH_BYTES_CEILING)?;
                for r in decoded.records() {
                    // Non-negative: base offset >= 0 and offset deltas >= 0.
                    let offset = u64::try_from(r.offset).unwrap_or(0);
                    if offset < position {
                        continue;
                    }
                    let headers = r
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.map_or_else(Bytes::new, |v| share(data, v))))
                        .collect();
                    out.push(record(offset, r.timestamp, r.key, r.value.unwrap_or_default(), headers));
                }
            }
        }
        next = next.max(header.next_offset());
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use corelog_format::{BatchBuilder, BatchHeader, Compression};

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

    /// A Kafka batch of `n` records starting at `base`, as the log stores
    /// it: wire bytes with the offset and epoch stamped, then zero padding.
    /// Record `base + 1` has a null value and a header with a null value.
    fn kafka_batch(base: u64, n: u64, codec: kafka::Compression) -> Vec<u8> {
        let mut b = kafka::BatchBuilder::new(codec);
        for i in 0..n {
            let (key, value) = (format!("k{}", base + i), format!("kafka-{}", base + i));
            let value = (i != 1).then_some(value.as_bytes());
            let headers: &[(&str, Option<&[u8]>)] = if i == 1 { &[("h", None), ("t", Some(b"y"))] } else { &[] };
            b.push(Some(key.as_bytes()), value, 2_000 + i as i64, headers);
        }
        let mut bytes = corelog_format::stored::kafka_to_stored(&b.build().unwrap());
        let mut stamped = corelog_format::StoredBatchMut::new(&mut bytes).unwrap();
        stamped.set_base_offset(base).unwrap();
        stamped.set_leader_epoch(1).unwrap();
        bytes
    }

    #[test]
    fn reads_kafka_batches_next_to_native_ones() {
        for codec in kafka::Compression::ALL {
            let mut data = batch(0, 3, Compression::None);
            let kafka = kafka_batch(3, 4, codec);
            assert!(kafka.len() > kafka::BatchHeader::parse(&kafka).unwrap().wire_length().unwrap(), "padded");
            data.extend_from_slice(&kafka);
            data.extend_from_slice(&batch(7, 2, Compression::Zstd));
            let data = data.freeze();
            let mut out = Vec::new();
            assert_eq!(decode_records(&topic(), 1, &data, 2, &mut out).unwrap(), 9, "{codec:?}");
            assert_eq!(out.iter().map(|r| r.offset).collect::<Vec<_>>(), (2..9).collect::<Vec<_>>());
            let k = &out[1];
            assert_eq!((k.offset, k.timestamp, k.key.as_deref()), (3, 2_000, Some(&b"k3"[..])));
            assert_eq!(k.value, "kafka-3");
            let null = &out[2];
            assert_eq!((null.offset, null.timestamp), (4, 2_001));
            assert!(null.value.is_empty(), "a null value reads as empty");
            assert_eq!(
                null.headers,
                vec![("h".to_owned(), Bytes::new()), ("t".to_owned(), Bytes::from_static(b"y"))],
                "a null header value reads as empty"
            );
            assert_eq!(out[4].value, "kafka-6");
            assert_eq!(out[5].value, "value-7", "the native batch after the Kafka one's padding");
            if codec == kafka::Compression::None {
                let range = data.as_ptr_range();
                assert!(range.contains(&k.value.as_ptr()), "an uncompressed Kafka value shares the frame");
            }
        }
    }

    #[test]
    fn a_kafka_batch_cut_at_the_end_is_ignored_but_damage_is_not() {
        let mut data = kafka_batch(0, 3, kafka::Compression::Lz4);
        let second = kafka_batch(3, 3, kafka::Compression::None);
        // Cut in its padding: the fetch's byte limit fell there.
        let wire = kafka::BatchHeader::parse(&second).unwrap().wire_length().unwrap();
        data.extend_from_slice(&second[..wire]);
        let mut out = Vec::new();
        assert_eq!(decode_records(&topic(), 0, &Bytes::from(data.clone()), 0, &mut out).unwrap(), 3);
        assert_eq!(out.len(), 3);

        let mut bad = kafka_batch(0, 3, kafka::Compression::None);
        bad[70] ^= 1;
        let err = decode_records(&topic(), 0, &Bytes::from(bad), 0, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BatchError::CrcMismatch { .. }), "{err}");

        let mut negative = kafka_batch(0, 3, kafka::Compression::None);
        kafka::BatchHeader::parse_mut(&mut negative).unwrap().set_base_offset(-5);
        let err = decode_records(&topic(), 0, &Bytes::from(negative), 0, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BatchError::FieldOutOfRange { .. }), "{err}");
    }
}
