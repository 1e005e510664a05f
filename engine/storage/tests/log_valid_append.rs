//! Appending checked batches (`ValidBatches`) without copying them: the tail
//! cache serves the appended bytes with a stored header, byte for byte what a
//! read from the segment file returns.

mod common;

use bytes::{Bytes, BytesMut};
use common::batch;
use corelog_format::limits::MAX_BATCH_BYTES_CEILING;
use corelog_format::{validate, BatchHeader, ValidBatches, HEADER_LEN};
use corelog_runtime::run_local;
use corelog_storage::disk::DmaStorage;
use corelog_storage::{BatchSlice, Fetched, LogConfig, PartitionLog};

/// Three batches end to end in one buffer, as a produce request carries them.
fn request() -> Bytes {
    let mut buf = BytesMut::new();
    for tag in 0..3 {
        buf.extend_from_slice(&batch(tag, 4 + tag as usize, 200, 1_000 * tag as i64));
    }
    buf.freeze()
}

/// The batches of a read, one buffer per batch, as a consumer receives them.
fn batches_of(fetched: &Fetched) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for slice in &fetched.slices {
        let bytes = slice.to_contiguous();
        for batch in corelog_format::iter_batches(&bytes, MAX_BATCH_BYTES_CEILING) {
            out.push(batch.expect("served batches are valid").to_vec());
        }
    }
    out
}

#[test]
fn cached_batches_are_the_request_bytes_and_match_the_disk() {
    let dir = common::test_dir();
    let request = request();
    let original = request.to_vec();
    let from_cache = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        log.append(batch(9, 2, 10, 0)).await.unwrap();
        log.set_leader_epoch(7);
        let valid = ValidBatches::from_network(request.clone(), MAX_BATCH_BYTES_CEILING).unwrap();
        let info = log.append_valid(valid).await.unwrap();
        assert_eq!((info.base_offset, info.last_offset), (2, 2 + 4 + 5 + 6 - 1));

        let fetched = log.read(2, 1 << 20).await.unwrap();
        assert_eq!(fetched.slices.len(), 3, "one slice per cached batch");
        let range = request.as_ptr_range();
        let mut expected_base = 2;
        for slice in &fetched.slices {
            let BatchSlice::Memory(cached) = slice else { panic!("served from the tail cache") };
            // No copy on the way in: the rest of the batch is the request's memory.
            assert!(range.contains(&cached.rest.as_ptr()), "cached body outside the request buffer");
            assert!(range.contains(&(cached.rest.as_ptr_range().end.wrapping_sub(1))));
            let header = BatchHeader::parse(&cached.header).unwrap();
            assert_eq!((header.base_offset(), header.leader_epoch()), (expected_base, 7));
            expected_base = header.next_offset();
        }
        assert_eq!(&request[..], &original[..], "the request's bytes are never written to");
        batches_of(&fetched)
    });
    let from_disk = run_local(async {
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        let fetched = log.read(2, 1 << 20).await.unwrap();
        assert!(fetched.slices.iter().all(|s| matches!(s, BatchSlice::Disk(_))), "a reopened log reads the file");
        batches_of(&fetched)
    });
    assert_eq!(from_cache.len(), 3);
    assert!(from_cache == from_disk, "cache and disk serve different bytes");
    // Only the base offset (bytes 0..8) and the epoch (12..16) differ from
    // what the producer sent, and the CRC still holds.
    let mut offset = 0;
    for stored in &from_cache {
        validate(stored, MAX_BATCH_BYTES_CEILING).expect("stored batches keep a valid CRC");
        let sent = &original[offset..offset + stored.len()];
        assert_eq!(stored[8..12], sent[8..12], "batch length");
        assert_eq!(stored[16..], sent[16..], "everything after the epoch");
        offset += stored.len();
    }
    assert_eq!(offset, original.len());
}

#[test]
fn tail_cache_counts_each_batch_and_its_header_copy() {
    let dir = common::test_dir();
    run_local(async {
        let request = request();
        let n = ValidBatches::new(request.clone(), MAX_BATCH_BYTES_CEILING).unwrap().len();
        let log = PartitionLog::open(DmaStorage, dir.path(), LogConfig::default()).await.unwrap();
        log.append_valid(ValidBatches::new(request.clone(), MAX_BATCH_BYTES_CEILING).unwrap()).await.unwrap();
        assert_eq!(log.cache_bytes(), request.len() + n * HEADER_LEN);
        log.truncate_to(0).await.unwrap();
        assert_eq!(log.cache_bytes(), 0, "truncation gives back what appending counted");

        log.set_config(LogConfig { tail_cache_bytes: 0, ..LogConfig::default() });
        log.append_valid(ValidBatches::new(request.clone(), MAX_BATCH_BYTES_CEILING).unwrap()).await.unwrap();
        log.append(batch(5, 1, 10, 0)).await.unwrap();
        assert_eq!(log.cache_bytes(), 0, "written batches over the budget are evicted whole");
    });
}
