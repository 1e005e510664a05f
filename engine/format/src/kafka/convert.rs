//! Native batch -> Kafka v2 batch, for a Kafka fetch of natively produced
//! data (converted at the edge; the log keeps the native bytes).
//!
//! The other direction needs no conversion: a Kafka batch's records are read
//! through [`super::DecodedBatch::records`].
//!
//! Everything a Kafka client can see is kept: base offset, leader epoch,
//! timestamp type, timestamps, producer id/epoch/sequence, and every record's
//! offset delta, timestamp, key, value (never null in the native format) and
//! headers. The codec maps to the same one (none, lz4, zstd). For a
//! log-append-time batch Kafka readers use maxTimestamp for every record, so
//! its baseTimestamp is the first record's own timestamp rather than the
//! native first_timestamp.

use crate::compression::Compression as NativeCompression;
use crate::error::BatchError;
use crate::header::ATTR_LOG_APPEND_TIME;
use crate::kafka::builder::BatchBuilder;
use crate::kafka::compression::Compression;
use crate::kafka::header::BatchHeader;
use crate::reader::DecodedBatch as NativeBatch;

/// Converts one native batch (its bytes as stored) to Kafka v2 bytes: the
/// batch is fully checked first, as anything read from disk is before use.
pub fn native_to_kafka(native: &[u8], max_batch_bytes: usize) -> Result<Vec<u8>, BatchError> {
    let batch = NativeBatch::decode(native, max_batch_bytes)?;
    let h = batch.header();
    let codec = match NativeCompression::from_attributes(h.attributes.get())? {
        NativeCompression::None => Compression::None,
        NativeCompression::Lz4 => Compression::Lz4,
        NativeCompression::Zstd => Compression::Zstd,
    };
    let mut builder =
        BatchBuilder::new(codec).producer(h.producer_id.get(), h.producer_epoch.get(), h.base_sequence.get());
    if h.attributes.get() & ATTR_LOG_APPEND_TIME != 0 {
        builder = builder.log_append_time(h.max_timestamp());
    }
    let base_offset = i64::try_from(h.base_offset())
        .map_err(|_| BatchError::FieldOutOfRange { field: "base offset", value: h.base_offset() })?;
    let leader_epoch = i32::try_from(h.leader_epoch())
        .map_err(|_| BatchError::FieldOutOfRange { field: "leader epoch", value: u64::from(h.leader_epoch()) })?;
    let mut headers = Vec::new();
    for record in batch.archived().iter() {
        let delta = record.offset_delta.to_native();
        let delta = i32::try_from(delta)
            .map_err(|_| BatchError::FieldOutOfRange { field: "offset delta", value: u64::from(delta) })?;
        // The native full check proved first_timestamp + delta does not overflow.
        let timestamp = h.first_timestamp().saturating_add(record.timestamp_delta.to_native());
        headers.clear();
        headers.extend(record.headers.iter().map(|hdr| (hdr.key.as_str(), Some(hdr.value.as_slice()))));
        let key = record.key.as_ref().map(|k| k.as_slice());
        builder.push_at(delta, key, Some(record.value.as_slice()), timestamp, &headers);
    }
    let mut out = builder.build()?;
    if let Some(header) = BatchHeader::parse_mut(&mut out) {
        header.set_base_offset(base_offset);
        header.set_leader_epoch(leader_epoch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::records::DecodedBatch;
    use crate::kafka::validate::validate;
    use crate::BatchBuilder as NativeBuilder;

    const MAX: usize = 1 << 20;

    #[test]
    fn keeps_every_field_a_kafka_client_sees() {
        for (native_codec, codec) in [
            (NativeCompression::None, Compression::None),
            (NativeCompression::Lz4, Compression::Lz4),
            (NativeCompression::Zstd, Compression::Zstd),
        ] {
            let mut b = NativeBuilder::new(native_codec);
            b.push(Some(b"k"), b"v1", 1_000, &[("a", b"1"), ("b", b"")]);
            b.push(None, b"", 990, &[]);
            b.push(None, &[7; 500], 1_100, &[]);
            let mut native = b.build().unwrap();
            {
                let h = crate::BatchHeader::parse_mut(&mut native).unwrap();
                h.base_offset.set(1_000_000);
                h.leader_epoch.set(9);
            }
            let kafka = native_to_kafka(&native, MAX).unwrap();
            let h = validate(&kafka, MAX).unwrap();
            assert_eq!(Compression::from_attributes(h.attributes()), Ok(codec));
            assert_eq!((h.base_offset(), h.leader_epoch(), h.last_offset()), (1_000_000, 9, 1_000_002));
            assert_eq!((h.base_timestamp(), h.max_timestamp()), (1_000, 1_100));
            assert_eq!((h.producer_id(), h.producer_epoch(), h.base_sequence()), (-1, -1, -1));
            let decoded = DecodedBatch::decode(&kafka, MAX).unwrap();
            let native = crate::DecodedBatch::decode(&native, MAX).unwrap();
            assert_eq!(decoded.len(), native.len());
            for (k, n) in decoded.records().zip(native.records()) {
                assert_eq!(
                    (k.offset as u64, k.timestamp, k.key, k.value),
                    (n.offset, n.timestamp, n.key, Some(n.value))
                );
                let headers: Vec<_> = k.headers.iter().map(|(k, v)| (k, v.unwrap())).collect();
                assert_eq!(headers, n.headers);
            }
        }
    }

    #[test]
    fn damaged_native_batches_are_not_converted() {
        let mut b = NativeBuilder::new(NativeCompression::None);
        b.push(None, b"v", 0, &[]);
        let mut native = b.build().unwrap();
        let last = native.len() - 20;
        native[last] ^= 0xff;
        assert!(matches!(native_to_kafka(&native, MAX), Err(BatchError::CrcMismatch { .. })));
    }
}
