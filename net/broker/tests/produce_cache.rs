//! Produced batches are kept in the tail cache as the request's bytes plus a
//! stored header (big requests) or as a copy (small ones): either way a fetch
//! from the cache returns exactly the bytes a fetch from disk returns.

mod support;

use bytes::{Bytes, BytesMut};
use corelog_format::{iter_batches, validate, BatchHeader};
use corelog_protocol::*;
use support::*;

const MAX: usize = 64 << 20;

/// `count` batches of `records` records each, end to end.
fn batches(tag: &str, count: usize, records: usize) -> Bytes {
    let mut out = BytesMut::new();
    for i in 0..count {
        out.extend_from_slice(&batch(&format!("{tag}{i}"), records));
    }
    out.freeze()
}

#[test]
fn a_fetch_from_the_tail_cache_matches_a_fetch_from_disk() {
    let broker = TestBroker::start(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    assert_eq!(create_topic(&mut c, "z", 1).topics[0].error, ErrorCode::None);
    // Above the size from which the broker keeps a request's bytes as they
    // arrived, then one it copies first.
    let big = batches("big", 4, 2_000);
    assert!(big.len() > 4 * corelog_broker::limits::ZERO_COPY_MIN_FRAME_BYTES);
    let small = batch("small", 3);
    let r = produce_result(c.call(&produce("z", 0, big.clone(), Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 0));
    let r = produce_result(c.call(&produce("z", 0, small.clone(), Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 8_000));

    let cached = fetch_result(c.call(&fetch("z", 0, 0, 0)));
    assert_eq!((cached.error, cached.high_watermark), (ErrorCode::None, 8_003));
    let cached = cached.records.to_bytes();
    drop(c);
    let broker = broker.restart();
    let mut c = WireClient::connect(broker.endpoints()[0]);
    let disk = fetch_result(c.call(&fetch("z", 0, 0, 0))).records.to_bytes();
    assert_eq!(cached.len(), big.len() + small.len(), "every batch in one fetch");
    assert!(cached == disk, "the tail cache and the segment file serve different bytes");

    // What the producer sent, but for the base offsets the log assigned
    // (bytes 0..8, outside the CRC); the CRC still holds.
    let sent = [&big[..], &small[..]].concat();
    let (mut position, mut next_offset) = (0, 0);
    for stored in iter_batches(&cached, MAX) {
        let stored = stored.expect("whole valid batches");
        let header = validate(stored, MAX).expect("valid CRC");
        assert_eq!(header.base_offset(), next_offset);
        let sent = &sent[position..position + stored.len()];
        assert_eq!(stored[8..], sent[8..]);
        assert_eq!(BatchHeader::parse(sent).unwrap().base_offset(), 0, "as the producer left it");
        next_offset = header.next_offset();
        position += stored.len();
    }
    assert_eq!((position, next_offset), (sent.len(), 8_003));
}
