//! The broker over real sockets, request by request: produce, fetch with
//! long-poll, list offsets, metadata, admin, and every kind of bad input.

mod support;

use std::time::{Duration, Instant};

use corelog_protocol::*;
use support::*;

#[test]
fn produce_fetch_and_offsets_round_trip() {
    let broker = TestBroker::start(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    assert_eq!(create_topic(&mut c, "t", 2).topics[0].error, ErrorCode::None);

    let r = produce_result(c.call(&produce("t", 1, batch("a", 10), Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 0));
    let r = produce_result(c.call(&produce("t", 1, batch("b", 5), Acks::Leader)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 10));

    let f = fetch_result(c.call(&fetch("t", 1, 12, 0)));
    assert_eq!(f.error, ErrorCode::None);
    assert_eq!((f.high_watermark, f.log_end_offset, f.log_start_offset), (15, 15, 0));
    let got = values(&f.records, 12);
    assert_eq!(got, vec![(12, "b-2".to_string()), (13, "b-3".to_string()), (14, "b-4".to_string())]);

    let list = Request::ListOffsets(ListOffsetsRequest {
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![
                ListOffsetsPartition { partition: 1, spec: OffsetSpec::Earliest },
                ListOffsetsPartition { partition: 1, spec: OffsetSpec::Latest },
                ListOffsetsPartition { partition: 1, spec: OffsetSpec::Timestamp(1_003) },
            ],
        }],
    });
    let Response::ListOffsets(l) = c.call(&list) else { panic!() };
    let offsets: Vec<Option<u64>> = l.topics[0].partitions.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, vec![Some(0), Some(15), Some(3)]);
}

#[test]
fn fetch_long_polls_until_data_arrives() {
    let broker = TestBroker::start(1);
    let addr = broker.endpoints()[0];
    let mut c = WireClient::connect(addr);
    create_topic(&mut c, "poll", 1);
    let started = Instant::now();
    let waiter = std::thread::spawn(move || {
        let mut c = WireClient::connect(addr);
        let f = fetch_result(c.call(&fetch("poll", 0, 0, 10_000)));
        (values(&f.records, 0), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    produce_result(c.call(&produce("poll", 0, batch("late", 2), Acks::All)));
    let (got, waited) = waiter.join().unwrap();
    assert_eq!(got.len(), 2, "the waiting fetch returns the new records");
    assert!(waited < Duration::from_secs(9), "woken by the append, not by the timeout");

    // With no data the fetch answers empty after max_wait.
    let f = fetch_result(c.call(&fetch("poll", 0, 2, 200)));
    assert!(f.records.is_empty());
}

#[test]
fn acks_zero_gets_no_response_but_is_appended() {
    let broker = TestBroker::start(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    create_topic(&mut c, "fire", 1);
    c.send(&produce("fire", 0, batch("x", 3), Acks::None));
    // The next response on this connection belongs to the next request.
    let f = fetch_result(c.call(&fetch("fire", 0, 0, 2_000)));
    assert_eq!(values(&f.records, 0).len(), 3);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let broker = TestBroker::start(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    create_topic(&mut c, "pipe", 1);
    let ids: Vec<u32> = (0..20).map(|i| c.send(&produce("pipe", 0, batch(&format!("p{i}"), 4), Acks::All))).collect();
    let mut offsets = Vec::new();
    for id in ids {
        let (got, response) = c.recv().unwrap();
        assert_eq!(got, id);
        offsets.push(produce_result(response).base_offset);
    }
    assert_eq!(offsets, (0..20).map(|i| i * 4).collect::<Vec<u64>>());
}

#[test]
fn two_cores_route_partitions_to_their_owner() {
    let broker = TestBroker::start(2);
    let eps = broker.endpoints();
    if eps.len() < 2 {
        eprintln!("single-CPU machine: skipping the two-core check");
        return;
    }
    let mut c0 = WireClient::connect(eps[0]);
    let mut c1 = WireClient::connect(eps[1]);
    create_topic(&mut c1, "two", 4);
    let Response::Metadata(m) = c0.call(&Request::Metadata(MetadataRequest { topics: Some(vec!["two".into()]) }))
    else {
        panic!()
    };
    let owners: Vec<u16> = m.topics[0].partitions.iter().map(|p| p.owner.as_ref().unwrap().core_id).collect();
    assert_eq!(owners, vec![0, 1, 0, 1], "least-loaded placement alternates cores");
    for (p, core) in owners.iter().enumerate() {
        let (mine, other) = if *core == 0 { (&mut c0, 1u16) } else { (&mut c1, 0u16) };
        let r = produce_result(mine.call(&produce("two", p as u32, batch("z", 2), Acks::All)));
        assert_eq!(r.error, ErrorCode::None);
        let wrong = if other == 0 { &mut c0 } else { &mut c1 };
        let r = produce_result(wrong.call(&produce("two", p as u32, batch("z", 2), Acks::All)));
        assert_eq!(r.error, ErrorCode::NotOwner);
        assert_eq!(r.current_owner.unwrap().core_id, *core);
    }
}

#[test]
fn bad_input_gets_errors_and_loses_nothing() {
    let broker = TestBroker::start(1);
    let addr = broker.endpoints()[0];
    let mut c = WireClient::connect(addr);
    create_topic(&mut c, "safe", 1);
    produce_result(c.call(&produce("safe", 0, batch("kept", 5), Acks::All)));

    // A batch with a bad CRC.
    let mut bad = batch("bad", 3).to_vec();
    let last = bad.len() - 1;
    bad[last - 20] ^= 0xff;
    let r = produce_result(c.call(&produce("safe", 0, bad.into(), Acks::All)));
    assert_eq!(r.error, ErrorCode::CorruptBatch);

    // A batch whose CRC is right but whose rkyv body is not an archive.
    // rkyv keeps the root at the end of the archive: garble it.
    let mut forged = batch("forged", 3).to_vec();
    let body_len = u32::from_le_bytes(forged[68..72].try_into().unwrap()) as usize;
    let body_end = corelog_format::HEADER_LEN + body_len;
    for b in &mut forged[body_end - 8..body_end] {
        *b = 0xAB;
    }
    let crc = corelog_format::compute_crc(&forged);
    forged[20..24].copy_from_slice(&crc.to_le_bytes());
    let r = produce_result(c.call(&produce("safe", 0, forged.into(), Acks::All)));
    assert_eq!(r.error, ErrorCode::CorruptBatch);

    // Produce to a missing topic.
    let r = produce_result(c.call(&produce("missing", 0, batch("m", 1), Acks::All)));
    assert_eq!(r.error, ErrorCode::UnknownTopic);

    // An unknown api key: a well-framed request the broker can't serve.
    let mut unknown =
        encode_request(77, &Request::Metadata(MetadataRequest { topics: None })).unwrap().to_contiguous().to_vec();
    unknown[4..6].copy_from_slice(&999u16.to_le_bytes());
    c.send_raw(&unknown);
    let (id, response) = c.recv().unwrap();
    assert_eq!(id, 77);
    assert!(matches!(response, Response::Error(ErrorResponse { error: ErrorCode::UnsupportedApi, .. })));

    // Garbage bytes: the broker closes that connection.
    let mut g = WireClient::connect(addr);
    g.send_raw(&[0xde; 64]);
    assert!(g.recv().is_none());

    // A frame over the size limit: closed as soon as its length is read.
    let mut big = WireClient::connect(addr);
    big.send_raw(&(u32::MAX - 1).to_le_bytes());
    assert!(big.recv().is_none());

    // A truncated frame followed by the client going away.
    let mut t = WireClient::connect(addr);
    let whole = encode_request(5, &Request::Metadata(MetadataRequest { topics: None })).unwrap().to_contiguous();
    t.send_raw(&whole[..whole.len() / 2]);
    drop(t);

    // The broker still serves, and what was acked is intact.
    let mut after = WireClient::connect(addr);
    let f = fetch_result(after.call(&fetch("safe", 0, 0, 0)));
    let got = values(&f.records, 0);
    assert_eq!(got.len(), 5);
    assert_eq!(got[4].1, "kept-4");
    assert_eq!(f.log_end_offset, 5, "rejected batches appended nothing");
}

#[test]
fn admin_round_trip_and_restart_keeps_topics_and_data() {
    let broker = TestBroker::start(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    assert_eq!(create_topic(&mut c, "cfg", 1).topics[0].error, ErrorCode::None);
    assert_eq!(create_topic(&mut c, "cfg", 1).topics[0].error, ErrorCode::TopicAlreadyExists);
    assert_eq!(create_topic(&mut c, "bad/name", 1).topics[0].error, ErrorCode::InvalidTopicName);
    assert_eq!(create_topic(&mut c, "zero", 0).topics[0].error, ErrorCode::InvalidPartitions);

    let alter = Request::AlterConfigs(AlterConfigsRequest {
        topics: vec![AlterTopicConfigs {
            name: "cfg".into(),
            ops: vec![AlterConfigOp { key: "retention.ms".into(), value: Some("60000".into()) }],
        }],
        validate_only: false,
    });
    let Response::AlterConfigs(a) = c.call(&alter) else { panic!() };
    assert_eq!(a.topics[0].error, ErrorCode::None);
    let bad_alter = Request::AlterConfigs(AlterConfigsRequest {
        topics: vec![AlterTopicConfigs {
            name: "cfg".into(),
            ops: vec![AlterConfigOp { key: "segment.bytes".into(), value: Some("tiny".into()) }],
        }],
        validate_only: false,
    });
    let Response::AlterConfigs(a) = c.call(&bad_alter) else { panic!() };
    assert_eq!(a.topics[0].error, ErrorCode::InvalidConfig);

    let grow = Request::CreatePartitions(CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic { name: "cfg".into(), new_total: 3 }],
        timeout_ms: 1000,
        validate_only: false,
    });
    let Response::CreatePartitions(g) = c.call(&grow) else { panic!() };
    assert_eq!(g.topics[0].error, ErrorCode::None);
    produce_result(c.call(&produce("cfg", 2, batch("persist", 4), Acks::All)));
    drop(c);

    let broker = broker.restart();
    let mut c = WireClient::connect(broker.endpoints()[0]);
    let describe = Request::DescribeConfigs(DescribeConfigsRequest { topics: vec!["cfg".into()] });
    let Response::DescribeConfigs(d) = c.call(&describe) else { panic!() };
    let retention = d.topics[0].configs.iter().find(|e| e.key == "retention.ms").unwrap();
    assert_eq!((retention.value.as_str(), retention.is_default), ("60000", false));
    let f = fetch_result(c.call(&fetch("cfg", 2, 0, 0)));
    assert_eq!(values(&f.records, 0).len(), 4);

    let del = Request::DeleteTopics(DeleteTopicsRequest { topics: vec!["cfg".into()], timeout_ms: 1000 });
    let Response::DeleteTopics(d) = c.call(&del) else { panic!() };
    assert_eq!(d.topics[0].error, ErrorCode::None);
    let r = produce_result(c.call(&produce("cfg", 0, batch("gone", 1), Acks::All)));
    assert_eq!(r.error, ErrorCode::UnknownTopic);
    assert!(!broker.data_dir().join("topics").join("cfg").exists());
}

#[test]
fn shutdown_closes_connections_and_listeners() {
    let mut broker = TestBroker::start(1);
    let addr = broker.endpoints()[0];
    let mut c = WireClient::connect(addr);
    create_topic(&mut c, "bye", 1);
    let started = Instant::now();
    broker.broker.take().unwrap().shutdown().unwrap();
    assert!(c.recv().is_none(), "the connection is closed");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(std::net::TcpStream::connect(addr).is_err(), "nobody listens any more");
}

#[test]
fn shutdown_without_partitions_closes_the_listener_too() {
    // With nothing to flush, a core exits right after its listener closes,
    // while the ring may still hold an accept on that socket.
    for _ in 0..10 {
        let mut broker = TestBroker::start(2);
        let addrs = broker.endpoints();
        broker.broker.take().unwrap().shutdown().unwrap();
        for addr in addrs {
            assert!(std::net::TcpStream::connect(addr).is_err(), "{addr} still listens after shutdown");
        }
    }
}

#[test]
fn a_second_broker_cannot_take_the_same_data_dir_or_port() {
    use corelog_broker::{Broker, BrokerConfig};
    let broker = TestBroker::start(1);
    let same_dir = BrokerConfig {
        base_port: free_port_range(1),
        data_dir: broker.data_dir().to_path_buf(),
        cores: 1,
        io_memory: 1 << 20,
        ..BrokerConfig::default()
    };
    let err = Broker::start(same_dir).err().expect("the data dir is locked");
    assert!(err.to_string().contains("in use"), "{err}");

    let other_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let same_port = BrokerConfig {
        base_port: broker.config.base_port,
        data_dir: other_dir.path().to_path_buf(),
        cores: 1,
        io_memory: 1 << 20,
        // Refused at once rather than after the default bind retry.
        bind_retry: Duration::ZERO,
        ..BrokerConfig::default()
    };
    assert!(Broker::start(same_port).is_err(), "the port is taken");

    // The first broker is unaffected.
    let mut c = WireClient::connect(broker.endpoints()[0]);
    assert_eq!(create_topic(&mut c, "still", 1).topics[0].error, ErrorCode::None);
}
