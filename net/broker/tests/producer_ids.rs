//! InitProducerId through the real broker: every core hands out ids, none
//! twice, not even after a restart.

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
