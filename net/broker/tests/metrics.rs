//! The metrics endpoint of a real broker: produce and fetch move the right
//! core's counters by the right amounts, the histograms get samples, the
//! published gauges describe the partitions, and recovery is counted.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use corelog_protocol::*;
use support::*;

/// How long to wait for the once-a-second publisher to catch up.
const PUBLISH_WAIT: Duration = Duration::from_secs(30);

/// Parsed samples of one scrape.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    fn of(broker: &TestBroker) -> Scrape {
        let (status, head, body) = http_get(broker.metrics_addr(), "/metrics", None);
        assert_eq!(status, 200, "{head}");
        Scrape(parse_samples(&body))
    }

    /// Scrapes until `ready` holds (the publisher runs once a second).
    fn until(broker: &TestBroker, ready: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = Instant::now() + PUBLISH_WAIT;
        loop {
            let scrape = Scrape::of(broker);
            if ready(&scrape) {
                return scrape;
            }
            assert!(Instant::now() < deadline, "metrics not published in time: {:#?}", scrape.0);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0.get(&series(name, labels)).copied()
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = series(name, labels);
        self.try_get(name, labels).unwrap_or_else(|| panic!("no {key} in {:#?}", self.0))
    }

    /// A per-core series.
    fn core(&self, name: &str, core: u16) -> f64 {
        self.get(name, &[("core", &core.to_string())])
    }
}

/// Which core owns each partition of `topic`.
fn owners(c: &mut WireClient, topic: &str) -> Vec<u16> {
    let Response::Metadata(m) = c.call(&Request::Metadata(MetadataRequest { topics: Some(vec![topic.into()]) })) else {
        panic!("not a metadata response")
    };
    m.topics[0].partitions.iter().map(|p| p.owner.as_ref().expect("an owner").core_id).collect()
}

#[test]
fn produce_and_fetch_move_their_cores_counters() {
    let broker = TestBroker::start_with_metrics(2);
    let eps = broker.endpoints();
    let cores = eps.len() as u16;
    let mut admin = WireClient::connect(eps[0]);
    assert_eq!(create_topic(&mut admin, "m", 2).topics[0].error, ErrorCode::None);
    let owners = owners(&mut admin, "m");
    // Partition 1 is on core 1 when there are two cores.
    let partition = 1u32;
    let core = owners[partition as usize];
    let other = (cores > 1).then(|| 1 - core);
    let core_label = core.to_string();

    // Before any traffic every core's series exist, at zero.
    let before = Scrape::of(&broker);
    for c in 0..cores {
        assert_eq!(before.core("corelog_produce_requests_total", c), 0.0);
        assert_eq!(before.core("corelog_bytes_in_total", c), 0.0);
        assert_eq!(before.core("corelog_fetch_latency_seconds_count", c), 0.0);
    }

    let mut client = if core == 0 { admin } else { WireClient::connect(eps[core as usize]) };
    let (a, b) = (batch("a", 10), batch("b", 5));
    let bytes = (a.len() + b.len()) as f64;
    let r = produce_result(client.call(&produce("m", partition, a, Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 0));
    let r = produce_result(client.call(&produce("m", partition, b, Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 10));
    let f = fetch_result(client.call(&fetch("m", partition, 0, 0)));
    assert_eq!(values(&f.records, 0).len(), 15);
    assert_eq!(f.records.len() as f64, bytes);

    let s = Scrape::of(&broker);
    assert_eq!(s.core("corelog_produce_requests_total", core), 2.0);
    assert_eq!(s.core("corelog_bytes_in_total", core), bytes);
    assert_eq!(s.core("corelog_records_in_total", core), 15.0);
    assert_eq!(s.core("corelog_produce_errors_total", core), 0.0);
    assert_eq!(s.core("corelog_fetch_requests_total", core), 1.0);
    assert_eq!(s.core("corelog_bytes_out_total", core), bytes);
    assert_eq!(s.core("corelog_records_out_total", core), 15.0);
    assert_eq!(s.core("corelog_fetch_errors_total", core), 0.0);
    assert_eq!(s.core("corelog_connections", core), 1.0, "this test's one connection to the core");
    assert_eq!(s.core("corelog_produce_latency_seconds_count", core), 2.0);
    assert!(s.core("corelog_produce_latency_seconds_sum", core) > 0.0);
    let inf = [("core", core_label.as_str()), ("le", "+Inf")];
    assert_eq!(s.get("corelog_produce_latency_seconds_bucket", &inf), 2.0);
    assert_eq!(s.get("corelog_produce_latency_seconds_bucket", &[("core", &core_label), ("le", "0.00005")]), 0.0);
    assert_eq!(s.core("corelog_fetch_latency_seconds_count", core), 1.0);
    assert_eq!(s.get("corelog_fetch_latency_seconds_bucket", &inf), 1.0);
    if let Some(other) = other {
        assert_eq!(s.core("corelog_produce_requests_total", other), 0.0, "the other core saw no produce");
        assert_eq!(s.core("corelog_bytes_in_total", other), 0.0);
        assert_eq!(s.core("corelog_fetch_requests_total", other), 0.0);
        assert_eq!(s.core("corelog_bytes_out_total", other), 0.0);
        assert_eq!(s.core("corelog_produce_latency_seconds_count", other), 0.0);

        // A produce to the wrong core is an error there and appends nothing.
        let mut wrong = WireClient::connect(eps[other as usize]);
        let r = produce_result(wrong.call(&produce("m", partition, batch("x", 1), Acks::All)));
        assert_eq!(r.error, ErrorCode::NotOwner);
        let s = Scrape::of(&broker);
        assert_eq!(s.core("corelog_produce_requests_total", other), 1.0);
        assert_eq!(s.core("corelog_produce_errors_total", other), 1.0);
        assert_eq!(s.core("corelog_bytes_in_total", other), 0.0);
        assert_eq!(s.core("corelog_bytes_in_total", core), bytes);
    }

    // The engine-side figures arrive with the next publish.
    let p = partition.to_string();
    let partition_labels = [("core", core_label.as_str()), ("topic", "m"), ("partition", p.as_str())];
    let s = Scrape::until(&broker, |s| s.try_get("corelog_partition_log_end_offset", &partition_labels) == Some(15.0));
    let owned = owners.iter().filter(|&&c| c == core).count() as f64;
    assert_eq!(s.core("corelog_partitions", core), owned);
    assert_eq!(s.core("corelog_segments", core), owned, "one active segment per partition");
    assert_eq!(s.get("corelog_partition_size_bytes", &partition_labels), bytes);
    assert_eq!(s.core("corelog_log_size_bytes", core), bytes, "the core's other partitions are empty");
    let syncs = s.core("corelog_fdatasync_latency_seconds_count", core);
    assert!(syncs >= 2.0, "each acks=all produce waited for its own fdatasync: {syncs}");
    assert!(s.core("corelog_fdatasync_latency_seconds_sum", core) > 0.0);
    assert_eq!(s.get("corelog_fdatasync_latency_seconds_bucket", &inf), syncs);
    assert_eq!(s.core("corelog_recovery_bad_batches_total", core), 0.0);
    if let Some(other) = other {
        let theirs = owners.iter().filter(|&&c| c == other).count() as f64;
        assert_eq!(s.core("corelog_partitions", other), theirs);
        assert_eq!(s.core("corelog_log_size_bytes", other), 0.0);
    }
}

#[test]
fn the_endpoint_speaks_prometheus_text_and_openmetrics() {
    let broker = TestBroker::start_with_metrics(1);
    let addr = broker.metrics_addr();

    let (status, head, body) = http_get(addr, "/metrics", None);
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("# TYPE corelog_bytes_in_total counter\n"), "{body}");
    assert!(body.contains("# TYPE corelog_produce_latency_seconds histogram\n"), "{body}");
    assert!(body.contains("# TYPE corelog_connections gauge\n"), "{body}");
    assert!(!body.contains("# EOF"));

    let (status, head, body) = http_get(addr, "/metrics", Some("application/openmetrics-text;version=1.0.0"));
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: application/openmetrics-text"), "{head}");
    assert!(body.contains("# TYPE corelog_bytes_in counter\n"), "{body}");
    assert!(body.ends_with("# EOF\n"));

    assert_eq!(http_get(addr, "/", None).0, 404);
    assert_eq!(http_get(addr, "/metricsx", None).0, 404);
}

#[test]
fn recovery_truncations_are_counted() {
    let mut broker = TestBroker::start_with_metrics(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    create_topic(&mut c, "r", 1);
    let (kept, torn) = (batch("kept", 3), batch("torn", 4));
    produce_result(c.call(&produce("r", 0, kept.clone(), Acks::All)));
    produce_result(c.call(&produce("r", 0, torn.clone(), Acks::All)));
    drop(c);

    // Stop, damage the last batch's body on disk, start again.
    broker.broker.take().expect("running").shutdown().expect("clean shutdown");
    let segment = broker.data_dir().join("topics/r/0/00000000000000000000.log");
    let mut bytes = std::fs::read(&segment).expect("segment");
    bytes[kept.len() + torn.len() / 2] ^= 0x10;
    std::fs::write(&segment, &bytes).expect("damage the segment");
    let broker = TestBroker::start_in(broker.dir.take().expect("dir"), 1, true);

    let s = Scrape::until(&broker, |s| s.try_get("corelog_partitions", &[("core", "0")]) == Some(1.0));
    assert_eq!(s.core("corelog_recovery_bad_batches_total", 0), 1.0);
    assert!(s.core("corelog_recovery_truncated_bytes_total", 0) > 0.0);
    let labels = [("core", "0"), ("topic", "r"), ("partition", "0")];
    assert_eq!(s.get("corelog_partition_log_end_offset", &labels), 3.0, "the damaged batch is gone");
}

#[test]
fn reads_of_sealed_segments_go_through_the_fd_cache_and_are_counted() {
    let mut broker = TestBroker::start_with_metrics(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    let segment_bytes = ConfigEntry { key: "segment.bytes".into(), value: "65536".into() };
    let request = Request::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "s".into(),
            partitions: 1,
            replication_factor: 1,
            configs: vec![segment_bytes],
        }],
        timeout_ms: 10_000,
        validate_only: false,
    });
    let Response::CreateTopics(created) = c.call(&request) else { panic!("not a create response") };
    assert_eq!(created.topics[0].error, ErrorCode::None, "{created:?}");
    let first = batch("first", 3000);
    assert!(first.len() > 32 * 1024, "batches of {} bytes do not fill a 64 KiB segment in three", first.len());
    for b in [first, batch("second", 3000), batch("third", 3000)] {
        assert_eq!(produce_result(c.call(&produce("s", 0, b, Acks::All))).error, ErrorCode::None);
    }
    drop(c);
    // Restarted, so reads find nothing in the tail cache and go to the files.
    broker.broker.take().expect("running").shutdown().expect("clean shutdown");
    let broker = TestBroker::start_in(broker.dir.take().expect("dir"), 1, true);
    let s = Scrape::until(&broker, |s| s.try_get("corelog_partitions", &[("core", "0")]) == Some(1.0));
    assert!(s.core("corelog_segments", 0) >= 2.0, "no sealed segment to read");
    assert_eq!(s.core("corelog_fd_cache_open_files", 0), 0.0, "recovery keeps no sealed file open");
    assert_eq!(s.core("corelog_fd_cache_opens_total", 0), 0.0);

    let mut c = WireClient::connect(broker.endpoints()[0]);
    let f = fetch_result(c.call(&fetch("s", 0, 0, 0)));
    assert_eq!(values(&f.records, 0)[0], (0, "first-0".to_string()));
    let s = Scrape::until(&broker, |s| s.try_get("corelog_fd_cache_open_files", &[("core", "0")]) == Some(1.0));
    assert_eq!(s.core("corelog_fd_cache_opens_total", 0), 1.0, "the first segment's log, opened once");
}

#[test]
fn a_partition_at_its_retention_limit_writes_new_segments_into_deleted_ones() {
    let broker = TestBroker::start_with_metrics(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    // The periodic retention check is minutes away: only the pass that
    // follows each roll can delete (and recycle) a segment here.
    let configs = vec![
        ConfigEntry { key: "segment.bytes".into(), value: "65536".into() },
        ConfigEntry { key: "retention.bytes".into(), value: "131072".into() },
    ];
    let request = Request::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic { name: "rr".into(), partitions: 1, replication_factor: 1, configs }],
        timeout_ms: 10_000,
        validate_only: false,
    });
    let Response::CreateTopics(created) = c.call(&request) else { panic!("not a create response") };
    assert_eq!(created.topics[0].error, ErrorCode::None, "{created:?}");
    // About four batches per segment: ten rolls, each followed by a
    // maintenance tick (50 ms) before the next.
    let mut sent = 0u64;
    for round in 0..40 {
        let r = produce_result(c.call(&produce("rr", 0, batch(&format!("r{round}"), 1500), Acks::All)));
        assert_eq!((r.error, r.base_offset), (ErrorCode::None, sent));
        sent += 1500;
        std::thread::sleep(Duration::from_millis(60));
    }
    let s = Scrape::until(&broker, |s| s.try_get("corelog_segments_reused_total", &[("core", "0")]) >= Some(2.0));
    let reused = s.core("corelog_segments_reused_total", 0);
    assert!(s.core("corelog_segments_recycled_total", 0) >= reused);
    assert!(s.core("corelog_segments_deleted_total", 0) >= reused);
    // What is left reads back whole, from the log start to the end.
    let f = fetch_result(c.call(&fetch("rr", 0, 0, 0)));
    assert_eq!(f.error, ErrorCode::OffsetOutOfRange, "retention moved the log start");
    let start = f.log_start_offset;
    assert!(start > 0 && start.is_multiple_of(1500));
    let mut offset = start;
    while offset < sent {
        let f = fetch_result(c.call(&fetch("rr", 0, offset, 0)));
        assert_eq!(f.error, ErrorCode::None);
        for (o, v) in values(&f.records, offset) {
            assert_eq!(o, offset);
            assert_eq!(v, format!("r{}-{}", o / 1500, o % 1500));
            offset += 1;
        }
    }
    assert_eq!(offset, sent);
}
