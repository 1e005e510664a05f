//! The Kafka listener frame by frame: bad frames, the unsupported
//! ApiVersions reply, pipelining, the connection protections, and requests
//! routed to the wrong core, sent with the codec crate or by hand.

mod cli_support;
mod kafka_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use corelog_kafka_protocol::fetch_request::{FetchPartition, FetchTopic};
use corelog_kafka_protocol::fetch_response::PartitionData;
use corelog_kafka_protocol::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use corelog_kafka_protocol::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
use corelog_kafka_protocol::{
    decode_response, encode_request, FetchRequest, ListOffsetsRequest, MetadataRequest, OffsetForLeaderEpochRequest,
    RequestBody, RequestHeader, ResponseBody,
};
use kafka_support::*;

/// Sends `bytes` on a fresh connection (then shuts down the write side if
/// `finish`) and expects the broker to close it without a byte in reply.
fn expect_clean_close(addr: &str, bytes: &[u8], finish: bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    if finish {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut reply = Vec::new();
    match s.read_to_end(&mut reply) {
        Ok(_) => assert!(reply.is_empty(), "no reply to a bad frame, got {reply:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "closed, not left open: {e}"),
    }
}

/// An ApiVersions request frame of `version` (header v1, no client id; v3
/// bodies also carry a client software name and version and tagged fields).
fn api_versions_frame(version: i16, correlation_id: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    if version >= 3 {
        body.push(0); // header tagged fields
        body.extend_from_slice(&[2, b'c', 2, b'1', 0]); // compact strings "c", "1"; tagged fields
    }
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Reads one response frame.
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut frame).unwrap();
    frame
}

#[test]
fn bad_frames_close_the_connection_and_the_broker_keeps_serving() {
    let mut broker = Broker::start();
    let addr = broker.kafka();
    expect_clean_close(&addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
    expect_clean_close(&addr, &0x7fff_ffffi32.to_be_bytes(), false);
    expect_clean_close(&addr, &[0, 0, 0, 3, 1, 2, 3], false);
    let mut truncated = api_versions_frame(3, 7);
    truncated.truncate(truncated.len() - 3);
    expect_clean_close(&addr, &truncated, true);
    // A whole frame whose body is malformed (an api key that does not exist).
    let mut unknown = api_versions_frame(0, 8);
    unknown[4..6].copy_from_slice(&999i16.to_be_bytes());
    expect_clean_close(&addr, &unknown, false);
    broker.assert_alive();

    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Unsupported version: the v0 error reply (correlation id, error code
    // UNSUPPORTED_VERSION 35, then the supported table), connection kept.
    s.write_all(&api_versions_frame(99, 41)).unwrap();
    let reply = read_frame(&mut s);
    assert_eq!(reply[..4], 41i32.to_be_bytes());
    assert_eq!(reply[4..6], 35i16.to_be_bytes());
    let count = i32::from_be_bytes(reply[6..10].try_into().unwrap()) as usize;
    assert_eq!(reply.len(), 10 + count * 6, "v0 layout: api_key, min, max per entry");
    let apis: Vec<i16> = reply[10..].chunks(6).map(|e| i16::from_be_bytes([e[0], e[1]])).collect();
    assert!(apis.contains(&1) && apis.contains(&3) && apis.contains(&18), "Fetch, Metadata, ApiVersions: {apis:?}");
    // Pipelined: two requests in one write, answered in order.
    let mut two = api_versions_frame(3, 42);
    two.extend_from_slice(&api_versions_frame(0, 43));
    s.write_all(&two).unwrap();
    let (a, b) = (read_frame(&mut s), read_frame(&mut s));
    assert_eq!((a[..4].to_vec(), b[..4].to_vec()), (42i32.to_be_bytes().to_vec(), 43i32.to_be_bytes().to_vec()));
    assert_eq!(a[4..6], 0i16.to_be_bytes(), "v3 reply without error");
    broker.assert_alive();
    if have_command("kcat", &["-V"]) {
        let mut kcat = Command::new("kcat");
        kcat.args(["-L", "-b", &addr]);
        assert!(run_client(kcat, "kcat -L").contains("2 brokers"));
    }
}

#[test]
fn the_kafka_listener_keeps_the_native_protections() {
    let settings = "connection_idle_timeout_ms = 1500\nrequest_receive_timeout_ms = 1000\nmax_connections_per_core = 3";
    let mut broker = Broker::start_with(settings);
    let addr = broker.kafka();
    let closed_within = |s: &mut TcpStream, limit: Duration| {
        let started = Instant::now();
        s.set_read_timeout(Some(limit + Duration::from_secs(5))).unwrap();
        let mut byte = [0u8; 1];
        let n = s.read(&mut byte).unwrap_or(0);
        assert_eq!(n, 0, "closed without a reply");
        let took = started.elapsed();
        assert!(took >= limit.mul_f32(0.8) && took < limit + Duration::from_secs(4), "closed after {took:?}");
    };
    // A request that never finishes arriving: closed after the receive timeout.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(&api_versions_frame(3, 1)[..9]).unwrap();
    closed_within(&mut slow, Duration::from_millis(1000));
    // A connection that sends nothing: closed after the idle timeout.
    let mut idle = TcpStream::connect(&addr).unwrap();
    closed_within(&mut idle, Duration::from_millis(1500));
    // Native and Kafka connections share core 0's limit of 3: a fourth is
    // accepted and closed at once.
    let native = TcpStream::connect(broker.native()).unwrap();
    let kafka: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = TcpStream::connect(&addr).unwrap();
    fourth.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = fourth.write_all(&api_versions_frame(0, 2));
    let mut reply = Vec::new();
    assert!(fourth.read_to_end(&mut reply).map_or(true, |_| reply.is_empty()), "the fourth connection got {reply:?}");
    drop((native, kafka));
    std::thread::sleep(Duration::from_millis(200));
    // Below the limit again: served.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&api_versions_frame(0, 3)).unwrap();
    assert_eq!(read_frame(&mut s)[..4], 3i32.to_be_bytes());
    broker.assert_alive();
}

/// A Kafka connection speaking through the codec crate.
struct KafkaConn {
    stream: TcpStream,
    next_id: i32,
}

impl KafkaConn {
    fn connect(port: u16) -> KafkaConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        KafkaConn { stream, next_id: 1 }
    }

    fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        let api = body.api_key();
        let header = RequestHeader {
            api_key: api.as_i16(),
            api_version: version,
            correlation_id: self.next_id,
            client_id: Some("wire-test".into()),
        };
        self.next_id += 1;
        self.stream.write_all(&encode_request(&header, &body).unwrap().to_vec()).unwrap();
        let frame = read_frame(&mut self.stream);
        let (reply, body) = decode_response(bytes::Bytes::from(frame), api, version).unwrap();
        assert_eq!(reply.correlation_id, header.correlation_id);
        body
    }

    /// Each partition's leader (a Kafka broker id) and the brokers' ports.
    fn leaders(&mut self, topic: &str) -> (Vec<i32>, Vec<(i32, i32)>) {
        let ResponseBody::Metadata(m) =
            self.call(12, RequestBody::Metadata(MetadataRequest { topics: None, ..Default::default() }))
        else {
            panic!("not a metadata response")
        };
        let t = m.topics.iter().find(|t| t.name.as_deref() == Some(topic)).expect("the topic");
        assert_ne!(t.topic_id, corelog_kafka_protocol::Uuid::ZERO, "topics have ids");
        let mut leaders: Vec<(i32, i32)> = t.partitions.iter().map(|p| (p.partition_index, p.leader_id)).collect();
        leaders.sort();
        (leaders.into_iter().map(|(_, l)| l).collect(), m.brokers.iter().map(|b| (b.node_id, b.port)).collect())
    }
}

fn fetch(topic: &str, partition: i32, offset: i64, max_wait_ms: i32) -> RequestBody {
    RequestBody::Fetch(FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition,
                current_leader_epoch: -1,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: 1 << 20,
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn fetched(body: ResponseBody) -> PartitionData {
    let ResponseBody::Fetch(f) = body else { panic!("not a fetch response") };
    assert_eq!(f.error_code, 0);
    f.responses.into_iter().next().unwrap().partitions.into_iter().next().unwrap()
}

#[test]
fn fetch_serves_the_owning_core_long_polls_and_points_elsewhere() {
    let broker = Broker::start();
    let native = broker.native();
    cli_support::corelog(&["topic", "create", "wire", "--partitions", "2", "-b", &native], "").ok();
    let mut conn = KafkaConn::connect(broker.kafka);
    let (leaders, brokers) = conn.leaders("wire");
    assert_eq!(leaders.len(), 2);
    let port_of = |id: i32| brokers.iter().find(|(b, _)| *b == id).unwrap().1 as u16;
    // Partition 0 asked of a core that does not own it: NOT_LEADER_OR_FOLLOWER
    // and, in v12, the owner.
    let (owner, other) = (leaders[0], brokers.iter().map(|b| b.0).find(|b| *b != leaders[0]).unwrap());
    let mut wrong = KafkaConn::connect(port_of(other));
    let p = fetched(wrong.call(12, fetch("wire", 0, 0, 0)));
    assert_eq!(p.error_code, 6, "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(p.current_leader.leader_id, owner);

    // The owner long-polls an empty partition for max_wait_ms.
    let mut right = KafkaConn::connect(port_of(owner));
    let started = Instant::now();
    let p = fetched(right.call(12, fetch("wire", 0, 0, 800)));
    let waited = started.elapsed();
    assert_eq!((p.error_code, p.high_watermark), (0, 0));
    assert!(p.records.as_ref().is_none_or(|r| r.is_empty()));
    assert!(waited >= Duration::from_millis(700), "waited {waited:?}");

    // A record produced during the wait ends it early, converted to v2.
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cli_support::corelog(&["produce", "--topic", "wire", "--partition", "0", "-b", &native], "hello\n").ok();
    });
    let started = Instant::now();
    let p = fetched(right.call(12, fetch("wire", 0, 0, 10_000)));
    producer.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(8), "woken by the commit");
    assert_eq!((p.error_code, p.high_watermark), (0, 1));
    let records = p.records.expect("records").to_bytes();
    assert_eq!(records[16], 2, "a RecordBatch v2 (magic 2)");
    assert!(records.windows(5).any(|w| w == b"hello"), "the value is in the batch");

    // ListOffsets v7: earliest, latest, by timestamp.
    let list = |timestamp: i64| {
        RequestBody::ListOffsets(ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: "wire".into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    timestamp,
                    current_leader_epoch: -1,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        })
    };
    let offset = |conn: &mut KafkaConn, timestamp: i64| {
        let ResponseBody::ListOffsets(r) = conn.call(7, list(timestamp)) else { panic!() };
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset)
    };
    assert_eq!(offset(&mut right, -2), (0, 0));
    assert_eq!(offset(&mut right, -1), (0, 1));
    assert_eq!(offset(&mut right, 0), (0, 0), "the first record at or after time 0");
    assert_eq!(offset(&mut right, i64::MAX / 2), (0, -1), "none that late");
    assert_eq!(offset(&mut wrong, -1).0, 6);

    // OffsetForLeaderEpoch v4: epoch 0 ends at the log end.
    let ResponseBody::OffsetForLeaderEpoch(r) = right.call(
        4,
        RequestBody::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: "wire".into(),
                partitions: vec![OffsetForLeaderPartition { partition: 0, current_leader_epoch: -1, leader_epoch: 0 }],
            }],
        }),
    ) else {
        panic!()
    };
    let e = &r.topics[0].partitions[0];
    assert_eq!((e.error_code, e.leader_epoch, e.end_offset), (0, 0, 1));
}

#[test]
fn join_group_v4_and_later_require_a_member_id_first() {
    use corelog_kafka_protocol::join_group_request::JoinGroupRequestProtocol;
    use corelog_kafka_protocol::{FindCoordinatorRequest, JoinGroupRequest};
    let broker = Broker::start();
    let mut any = KafkaConn::connect(broker.kafka);
    // The group's coordinator core.
    let port = loop {
        let body = RequestBody::FindCoordinator(FindCoordinatorRequest { key: "tickets".into(), ..Default::default() });
        let ResponseBody::FindCoordinator(f) = any.call(3, body) else { panic!() };
        if f.error_code == 0 {
            break f.port as u16;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut coordinator = KafkaConn::connect(port);
    let join = |member_id: &str| {
        RequestBody::JoinGroup(JoinGroupRequest {
            group_id: "tickets".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id: member_id.into(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 0]),
            }],
            ..Default::default()
        })
    };
    let ResponseBody::JoinGroup(first) = coordinator.call(5, join("")) else { panic!() };
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED");
    assert!(first.member_id.starts_with("wire-test-"), "a ticket named after the client: {}", first.member_id);
    let ResponseBody::JoinGroup(joined) = coordinator.call(5, join(&first.member_id)) else { panic!() };
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, joined.member_id, "the only member leads");
    // A ticket is used once.
    let ResponseBody::JoinGroup(again) = coordinator.call(5, join(&first.member_id)) else { panic!() };
    assert_eq!(again.error_code, 25, "UNKNOWN_MEMBER_ID");
}

fn produce_v9(topic: &str, batch: &[u8]) -> Vec<u8> {
    use corelog_kafka_protocol::produce_request::{PartitionProduceData, TopicProduceData};
    let body = RequestBody::Produce(corelog_kafka_protocol::ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(corelog_kafka_protocol::RecordsData::from(bytes::Bytes::copy_from_slice(batch))),
            }],
        }],
    });
    let header = RequestHeader { api_key: body.api_key().as_i16(), api_version: 9, correlation_id: 0, client_id: None };
    encode_request(&header, &body).unwrap().to_vec()
}

/// A big produce (read exactly to its end into a buffer of its own, its
/// batch kept there) and a small one right behind it in the same write:
/// both are answered, and a fetch returns each batch byte for byte as sent
/// (only the partition leader epoch, set by the broker, differs).
#[test]
fn a_big_produce_and_a_small_one_in_one_write_are_both_stored_as_sent() {
    use corelog_format::kafka::{BatchBuilder, Compression};
    let broker = Broker::start();
    let native = broker.native();
    cli_support::corelog(&["topic", "create", "big", "--partitions", "1", "-b", &native], "").ok();
    let mut conn = KafkaConn::connect(broker.kafka);
    let (leaders, brokers) = conn.leaders("big");
    let port = brokers.iter().find(|(b, _)| *b == leaders[0]).unwrap().1 as u16;
    let build = |records: usize, value_len: usize| {
        let mut b = BatchBuilder::new(Compression::None);
        for i in 0..records {
            b.push(Some(format!("k{i}").as_bytes()), Some(&vec![b'a' + (i % 26) as u8; value_len]), 1_000, &[]);
        }
        b.build().unwrap()
    };
    let (big, small) = (build(300, 1000), build(2, 10));
    assert!(big.len() > 4 * corelog_broker::limits::ZERO_COPY_MIN_FRAME_BYTES);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    stream.write_all(&[produce_v9("big", &big), produce_v9("big", &small)].concat()).unwrap();
    for expected_base in [0, 300] {
        let frame = read_frame(&mut stream);
        let (_, body) = decode_response(bytes::Bytes::from(frame), corelog_kafka_protocol::ApiKey::Produce, 9).unwrap();
        let ResponseBody::Produce(r) = body else { panic!("not a produce response") };
        let p = &r.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.base_offset), (0, expected_base));
    }
    let mut conn = KafkaConn::connect(port);
    let records = fetched(conn.call(12, fetch("big", 0, 0, 0))).records.expect("records").to_bytes();
    let (got_big, got_small) = records.split_at(big.len());
    for (got, sent, base) in [(got_big, &big, 0i64), (got_small, &small, 300)] {
        assert_eq!(got.len(), sent.len());
        assert_eq!(&got[..8], &base.to_be_bytes(), "base offset");
        assert_eq!(&got[8..12], &sent[8..12], "batch length");
        assert_eq!(&got[16..], &sent[16..], "everything under the CRC, as sent");
    }
}
