//! Idempotent producers through the real broker: every core hands out
//! producer ids, none twice, not even after a restart; a retried batch is
//! stored once and answered with its first offset, a gap refused.

mod support;

use std::collections::HashSet;

use corelog_protocol::*;
use support::*;

fn init_producer_id(client: &mut WireClient) -> ProducerIdAndEpoch {
    let Response::InitProducerId(r) = client.call(&Request::InitProducerId(InitProducerIdRequest {})) else {
        panic!("not an InitProducerId response")
    };
    assert_eq!(r.error, ErrorCode::None, "{:?}", r.error_message);
    r.assigned.expect("an id with no error")
}

#[test]
fn every_core_hands_out_unique_producer_ids_across_restarts() {
    let broker = TestBroker::start(2);
    let mut seen = HashSet::new();
    for addr in broker.endpoints() {
        let mut client = WireClient::connect(addr);
        for _ in 0..5 {
            let assigned = init_producer_id(&mut client);
            assert_eq!(assigned.epoch, 0);
            assert!(assigned.producer_id >= 0);
            assert!(seen.insert(assigned.producer_id), "{} handed out twice", assigned.producer_id);
        }
    }
    let broker = broker.restart();
    for addr in broker.endpoints() {
        let mut client = WireClient::connect(addr);
        let assigned = init_producer_id(&mut client);
        assert!(seen.insert(assigned.producer_id), "{} handed out again after a restart", assigned.producer_id);
    }
    assert_eq!(seen.len(), 12);
}

/// A batch of `n` records from producer `id`, first sequence `seq`.
fn idempotent_batch(id: i64, seq: i32, n: usize) -> bytes::Bytes {
    let mut b = corelog_format::BatchBuilder::new(corelog_format::Compression::None);
    for i in 0..n {
        b.push(None, format!("r{}", seq as usize + i).as_bytes(), 1_000, &[]);
    }
    b.set_producer(id, 0, seq);
    b.build().unwrap().freeze()
}

#[test]
fn a_retried_batch_is_stored_once_and_answered_with_its_offset_even_after_a_restart() {
    let broker = TestBroker::start(1);
    let mut client = WireClient::connect(broker.endpoints()[0]);
    create_topic(&mut client, "idem", 1);
    let id = init_producer_id(&mut client).producer_id;
    let first = produce_result(client.call(&produce("idem", 0, idempotent_batch(id, 0, 3), Acks::All)));
    assert_eq!((first.error, first.base_offset), (ErrorCode::None, 0));
    let next = produce_result(client.call(&produce("idem", 0, idempotent_batch(id, 3, 2), Acks::All)));
    assert_eq!(next.base_offset, 3);
    // The first batch again (its answer was lost, say): the same offset.
    let retry = produce_result(client.call(&produce("idem", 0, idempotent_batch(id, 0, 3), Acks::All)));
    assert_eq!((retry.error, retry.base_offset), (ErrorCode::None, 0), "{:?}", retry.error_message);
    // A gap is refused.
    let gap = produce_result(client.call(&produce("idem", 0, idempotent_batch(id, 9, 1), Acks::All)));
    assert_eq!(gap.error, ErrorCode::OutOfOrderSequence, "{:?}", gap.error_message);
    let broker = broker.restart();
    let mut client = WireClient::connect(broker.endpoints()[0]);
    let retry = produce_result(client.call(&produce("idem", 0, idempotent_batch(id, 3, 2), Acks::All)));
    assert_eq!((retry.error, retry.base_offset), (ErrorCode::None, 3), "{:?}", retry.error_message);
    let f = fetch_result(client.call(&fetch("idem", 0, 0, 0)));
    assert_eq!(f.log_end_offset, 5, "each batch stored once");
}
