//! Starting a real broker for tests, and a blocking wire client that speaks
//! the protocol frame by frame (for bad-input tests the real client would
//! refuse to send).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use corelog_broker::{Broker, BrokerConfig};
use corelog_format::{BatchBuilder, Compression};
use corelog_protocol::*;

/// A broker on free loopback ports with its data under target/ (O_DIRECT
/// needs a real file system; /tmp may be tmpfs).
pub struct TestBroker {
    pub broker: Option<Broker>,
    pub dir: Option<tempfile::TempDir>,
    pub config: BrokerConfig,
}

impl TestBroker {
    pub fn start(cores: usize) -> TestBroker {
        Self::start_in(new_dir(), cores, false)
    }

    /// Like [`TestBroker::start`], with the metrics endpoint on a free port
    /// (see [`TestBroker::metrics_addr`]).
    pub fn start_with_metrics(cores: usize) -> TestBroker {
        Self::start_in(new_dir(), cores, true)
    }

    /// A broker over `dir`, retrying on port clashes.
    pub fn start_in(dir: tempfile::TempDir, cores: usize, metrics: bool) -> TestBroker {
        let mut last_error = None;
        for _ in 0..20 {
            let config = BrokerConfig {
                base_port: free_port_range(cores),
                data_dir: dir.path().to_path_buf(),
                cores,
                io_memory: 1 << 20,
                // A clash is answered with another port, not waited out.
                bind_retry: Duration::ZERO,
                metrics_port: metrics.then_some(0),
                ..BrokerConfig::default()
            };
            match Broker::start(config.clone()) {
                Ok(broker) => return TestBroker { broker: Some(broker), dir: Some(dir), config },
                Err(e) => last_error = Some(e),
            }
        }
        panic!("could not start a broker on free ports: {last_error:?}");
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.as_ref().expect("dir").path()
    }

    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.broker.as_ref().expect("running").endpoints()
    }

    /// Stops the broker and starts a new one on the same data.
    pub fn restart(mut self) -> TestBroker {
        self.broker.take().expect("running").shutdown().expect("clean shutdown");
        let (cores, metrics) = (self.config.cores, self.config.metrics_port.is_some());
        Self::start_in(self.dir.take().expect("dir"), cores, metrics)
    }

    /// Stops the broker now (its data stays until the TestBroker is dropped).
    pub fn stop(&mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().expect("clean shutdown");
        }
    }
}

fn new_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

/// Runs a client future on a fresh local executor, failing the test if it
/// takes longer than `limit` (a hang would otherwise stall the suite).
pub fn run_client<F: std::future::Future<Output = ()>>(limit: Duration, future: F) {
    corelog_runtime::run_local(async move {
        if corelog_runtime::timeout(limit, future).await.is_none() {
            panic!("client test did not finish within {limit:?}");
        }
    });
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(b) = self.broker.take() {
            let _ = b.shutdown();
        }
    }
}

/// A base port with `n` free ports from it.
pub fn free_port_range(n: usize) -> u16 {
    corelog_testkit::free_ports(u16::try_from(n).expect("port count"))
}

/// A blocking connection that sends raw frames.
pub struct WireClient {
    pub stream: TcpStream,
    decoder: FrameDecoder,
    next_id: u32,
}

impl WireClient {
    pub fn connect(addr: SocketAddr) -> WireClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        WireClient { stream, decoder: FrameDecoder::with_max_frame_len(1 << 30), next_id: 1 }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, request: &Request) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let frame = encode_request(id, request).expect("encode");
        self.send_raw(&frame.to_contiguous());
        id
    }

    /// The next response frame, or None if the broker closed the connection.
    pub fn recv(&mut self) -> Option<(u32, Response)> {
        loop {
            if let Some(frame) = self.decoder.next_frame().expect("broker frames are valid") {
                let id = frame.header.correlation_id();
                return Some((id, decode_response(&frame).expect("broker responses decode")));
            }
            let mut buf = [0u8; 65536];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    pub fn call(&mut self, request: &Request) -> Response {
        let id = self.send(request);
        let (got, response) = self.recv().expect("a response");
        assert_eq!(got, id, "responses come in request order");
        response
    }
}

pub fn create_topic(client: &mut WireClient, name: &str, partitions: u32) -> CreateTopicsResponse {
    let request = Request::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic { name: name.into(), partitions, replication_factor: 1, configs: vec![] }],
        timeout_ms: 10_000,
        validate_only: false,
    });
    match client.call(&request) {
        Response::CreateTopics(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

/// A valid batch of `n` records whose values are "<tag>-<i>".
pub fn batch(tag: &str, n: usize) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None);
    for i in 0..n {
        b.push(Some(format!("k{i}").as_bytes()), format!("{tag}-{i}").as_bytes(), 1_000 + i as i64, &[]);
    }
    b.build().expect("batch").freeze()
}

pub fn produce(topic: &str, partition: u32, records: Bytes, acks: Acks) -> Request {
    Request::Produce(ProduceRequest {
        acks,
        timeout_ms: 10_000,
        topics: vec![ProduceTopic {
            name: topic.into(),
            partitions: vec![ProducePartition { partition, records: records.into() }],
        }],
    })
}

pub fn fetch(topic: &str, partition: u32, offset: u64, max_wait_ms: u32) -> Request {
    Request::Fetch(FetchRequest {
        replica_id: None,
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 4 << 20,
        topics: vec![FetchTopic {
            name: topic.into(),
            partitions: vec![FetchPartition::new(partition, offset, 4 << 20)],
        }],
    })
}

pub fn produce_result(response: Response) -> ProducePartitionResponse {
    match response {
        Response::Produce(mut r) => r.topics.remove(0).partitions.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

pub fn fetch_result(response: Response) -> FetchPartitionResponse {
    match response {
        Response::Fetch(mut r) => r.topics.remove(0).partitions.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

/// Record values in a fetch result at or after `from`.
pub fn values(records: &Records, from: u64) -> Vec<(u64, String)> {
    let bytes = records.to_bytes();
    let mut out = Vec::new();
    for b in corelog_format::iter_batches(&bytes, 64 << 20) {
        let decoded = corelog_format::DecodedBatch::decode(b.expect("valid batch"), 64 << 20).expect("decodes");
        for r in decoded.records() {
            if r.offset >= from {
                out.push((r.offset, String::from_utf8_lossy(r.value).into_owned()));
            }
        }
    }
    out
}

impl TestBroker {
    /// Where `GET /metrics` is served.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.broker.as_ref().expect("running").metrics_addr().expect("started with metrics")
    }
}

/// A plain HTTP/1.1 GET over a std socket: (status, head, body).
pub fn http_get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics port");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    (status, head.to_string(), body.to_string())
}

/// Samples of a Prometheus text exposition, keyed by [`series`] (labels in
/// name order, whatever order the exposition wrote them in).
pub fn parse_samples(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (written, value) = l.rsplit_once(' ')?;
            let (name, labels) = match written.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}')?),
                None => (written, ""),
            };
            let labels: Vec<(&str, &str)> = labels
                .split(',')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').expect("label=value");
                    (k, v.trim_matches('"'))
                })
                .collect();
            Some((series(name, &labels), value.parse().ok()?))
        })
        .collect()
}

/// The key of a sample in [`parse_samples`]: `name{a="1",b="2"}`, labels
/// sorted by name (none: just the name).
pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels = labels.to_vec();
    labels.sort();
    if labels.is_empty() {
        return name.to_string();
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

// ---- consumer groups ------------------------------------------------------

impl TestBroker {
    /// A broker whose config is the test default with `tune` applied (ports
    /// and data dir are still the test's own).
    pub fn start_tuned(cores: usize, tune: impl Fn(&mut BrokerConfig)) -> TestBroker {
        let mut config =
            BrokerConfig { cores, io_memory: 1 << 20, bind_retry: Duration::ZERO, ..BrokerConfig::default() };
        tune(&mut config);
        Self::start_config_in(new_dir(), config)
    }

    /// A broker over `dir` with `config` (its data dir set to `dir`, its base
    /// port to free ports), retrying on port clashes.
    pub fn start_config_in(dir: tempfile::TempDir, mut config: BrokerConfig) -> TestBroker {
        config.data_dir = dir.path().to_path_buf();
        let mut last_error = None;
        for _ in 0..20 {
            config.base_port = free_port_range(config.cores);
            match Broker::start(config.clone()) {
                Ok(broker) => return TestBroker { broker: Some(broker), dir: Some(dir), config },
                Err(e) => last_error = Some(e),
            }
        }
        panic!("could not start a broker on free ports: {last_error:?}");
    }

    /// Like [`TestBroker::restart`], keeping every setting of the config
    /// (the ports may change).
    pub fn restart_tuned(mut self) -> TestBroker {
        self.broker.take().expect("running").shutdown().expect("clean shutdown");
        let config = self.config.clone();
        Self::start_config_in(self.dir.take().expect("dir"), config)
    }
}

/// Group settings for tests: no initial rebalance delay, session timeouts
/// down to 100 ms, a small offsets topic (each partition preallocates a segment).
pub fn group_test_config(config: &mut BrokerConfig) {
    config.group_initial_rebalance_delay_ms = 0;
    config.group_min_session_timeout_ms = 100;
    config.offsets_partitions = 2 * config.cores as u32;
}

/// The response of `request`, which must be of the given variant.
macro_rules! expect_response {
    ($client:expr, $request:expr, $variant:ident) => {
        match $client.call(&$request) {
            Response::$variant(r) => r,
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
}

/// A JoinGroup of a consumer subscribed to `topics`, offering `assignors`.
pub fn join_request(group: &str, member_id: &str, session_timeout_ms: u32, assignors: &[&str]) -> Request {
    let subscription = consumer_protocol::Subscription { topics: vec!["t".into()], ..Default::default() };
    Request::JoinGroup(JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms,
        rebalance_timeout_ms: session_timeout_ms.max(5_000),
        member_id: member_id.into(),
        client_id: "test".into(),
        protocol_type: consumer_protocol::CONSUMER_PROTOCOL_TYPE.into(),
        protocols: assignors
            .iter()
            .map(|a| JoinGroupProtocol { name: (*a).into(), metadata: subscription.encode() })
            .collect(),
    })
}

pub fn find_coordinator(c: &mut WireClient, group: &str) -> FindCoordinatorResponse {
    let request = Request::FindCoordinator(FindCoordinatorRequest { group_id: group.into() });
    expect_response!(c, request, FindCoordinator)
}

/// A connection to the coordinator of `group`, found through `any` core.
pub fn coordinator_client(any: SocketAddr, group: &str) -> WireClient {
    let found = find_coordinator(&mut WireClient::connect(any), group);
    assert_eq!(found.error, ErrorCode::None, "{found:?}");
    let endpoint = found.coordinator.expect("an endpoint");
    WireClient::connect(SocketAddr::new(endpoint.host.parse().expect("an ip"), endpoint.port))
}

pub fn join(c: &mut WireClient, group: &str, member_id: &str, session_timeout_ms: u32) -> JoinGroupResponse {
    expect_response!(c, join_request(group, member_id, session_timeout_ms, &["range"]), JoinGroup)
}

pub fn sync(
    c: &mut WireClient,
    group: &str,
    generation_id: i32,
    member_id: &str,
    assignments: Vec<SyncGroupAssignment>,
) -> SyncGroupResponse {
    let request = Request::SyncGroup(SyncGroupRequest {
        group_id: group.into(),
        generation_id,
        member_id: member_id.into(),
        assignments,
    });
    expect_response!(c, request, SyncGroup)
}

pub fn heartbeat(c: &mut WireClient, group: &str, generation_id: i32, member_id: &str) -> HeartbeatResponse {
    let request =
        Request::Heartbeat(HeartbeatRequest { group_id: group.into(), generation_id, member_id: member_id.into() });
    expect_response!(c, request, Heartbeat)
}

pub fn leave(c: &mut WireClient, group: &str, member_id: &str) -> LeaveGroupResponse {
    let request = Request::LeaveGroup(LeaveGroupRequest { group_id: group.into(), member_id: member_id.into() });
    expect_response!(c, request, LeaveGroup)
}

/// Commits `offsets` (topic, partition, offset) for a member (or standalone:
/// generation -1, member "").
pub fn commit(
    c: &mut WireClient,
    group: &str,
    generation_id: i32,
    member_id: &str,
    offsets: &[(&str, u32, u64)],
) -> OffsetCommitResponse {
    let mut topics: Vec<OffsetCommitTopic> = Vec::new();
    for &(topic, partition, offset) in offsets {
        let entry = OffsetCommitPartition { partition, offset, metadata: format!("at {offset}") };
        match topics.iter_mut().find(|t| t.name == topic) {
            Some(t) => t.partitions.push(entry),
            None => topics.push(OffsetCommitTopic { name: topic.into(), partitions: vec![entry] }),
        }
    }
    let request = Request::OffsetCommit(OffsetCommitRequest {
        group_id: group.into(),
        generation_id,
        member_id: member_id.into(),
        topics,
    });
    expect_response!(c, request, OffsetCommit)
}

/// Committed offsets of every partition the group committed: (topic, partition, offset).
pub fn committed(c: &mut WireClient, group: &str) -> Vec<(String, u32, Option<u64>)> {
    let request = Request::OffsetFetch(OffsetFetchRequest { group_id: group.into(), topics: None });
    let response = expect_response!(c, request, OffsetFetch);
    assert_eq!(response.error, ErrorCode::None, "{response:?}");
    let mut out = Vec::new();
    for t in response.topics {
        for p in t.partitions {
            out.push((t.name.clone(), p.partition, p.offset));
        }
    }
    out
}

pub fn describe_groups(c: &mut WireClient, groups: &[&str]) -> DescribeGroupsResponse {
    let request =
        Request::DescribeGroups(DescribeGroupsRequest { group_ids: groups.iter().map(|g| g.to_string()).collect() });
    expect_response!(c, request, DescribeGroups)
}

pub fn delete_groups(c: &mut WireClient, groups: &[&str]) -> DeleteGroupsResponse {
    let request =
        Request::DeleteGroups(DeleteGroupsRequest { group_ids: groups.iter().map(|g| g.to_string()).collect() });
    expect_response!(c, request, DeleteGroups)
}

pub fn list_groups(c: &mut WireClient) -> ListGroupsResponse {
    expect_response!(c, Request::ListGroups(ListGroupsRequest::default()), ListGroups)
}

/// A group member's settings for tests: short sessions, no auto-commit,
/// new groups read from the start, and quick metadata and fetch turns.
pub fn member_config(group: &str) -> corelog_client::GroupConfig {
    use corelog_client::{ConsumerConfig, GroupConfig, OffsetReset};
    GroupConfig {
        session_timeout: Duration::from_millis(1_500),
        rebalance_timeout: Duration::from_secs(10),
        auto_commit: None,
        auto_offset_reset: OffsetReset::Earliest,
        metadata_refresh: Duration::from_millis(200),
        consumer: ConsumerConfig { max_wait: Duration::from_millis(100), ..ConsumerConfig::default() },
        ..GroupConfig::new(group)
    }
}

/// Produces `n` records `"{tag}-{i}"` with keys `"key-{i}"` spreading them
/// over the partitions; waits until all are acknowledged.
pub async fn produce_keyed(cluster: &corelog_client::Cluster, topic: &str, tag: &str, n: usize) {
    use corelog_client::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
    let producer = Producer::new(cluster, ProducerConfig { linger: Duration::from_millis(1), ..Default::default() });
    let deliveries: Vec<DeliveryFuture> = (0..n)
        .map(|i| producer.send(ProducerRecord::new(topic, format!("{tag}-{i}")).key(format!("key-{i}"))))
        .collect();
    for d in deliveries {
        d.await.expect("delivered");
    }
}
