//! End to end through the real `corelog` binary: a broker child process on
//! loopback, driven by the client library over real sockets.
//!
//! 100k keyed records go into a 6-partition topic with acks=all and are read
//! back from the earliest offset; every record must come back exactly once,
//! byte for byte, at the offset its delivery reported, in send order per key
//! and on the partition of its key. With 2 cores the topic's partitions are
//! spread over both cores' endpoints and both serve produce and fetch
//! traffic (checked through metadata and the per-core metrics).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corelog_client::partitioner::partition_for_key;
use corelog_client::{Admin, Cluster, OffsetSpec, Producer, ProducerConfig, ProducerRecord};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use support::{client_config, data_dir, metric, read_all, run_client, test_cores, BrokerProc, SplitMix};

const TOPIC: &str = "e2e-orders";
const PARTITIONS: u32 = 6;
const RECORDS: usize = 100_000;
const KEYS: u64 = 5_000;
/// Most records whose delivery is outstanding at once.
const MAX_OUTSTANDING: usize = 20_000;

/// Record `seq` of the test: deterministic from `seq`, so the reader can
/// rebuild what was sent from the first 8 bytes of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    key: Bytes,
    /// Position of the record among the records of its key (send order).
    key_seq: u32,
    value: Bytes,
    headers: Vec<(String, Bytes)>,
}

/// The records, in send order: key chosen pseudo-randomly among [`KEYS`],
/// value = seq (8 bytes BE) ‖ key_seq (4 bytes BE) ‖ 0–300 random bytes.
fn expected_records() -> Vec<Expected> {
    let mut rng = SplitMix(0x05ee_de2e);
    let mut key_counts: HashMap<u64, u32> = HashMap::new();
    (0..RECORDS as u64)
        .map(|seq| {
            let k = rng.next_u64() % KEYS;
            let key_seq = key_counts.entry(k).or_default();
            let mut value = seq.to_be_bytes().to_vec();
            value.extend_from_slice(&key_seq.to_be_bytes());
            let len = (rng.next_u64() % 301) as usize;
            value.extend(rng.bytes(len));
            let headers =
                if seq % 10 == 0 { vec![("seq".to_owned(), Bytes::from(seq.to_string()))] } else { Vec::new() };
            let e =
                Expected { key: Bytes::from(format!("key-{k:05}")), key_seq: *key_seq, value: value.into(), headers };
            *key_seq += 1;
            e
        })
        .collect()
}

#[test]
fn hundred_thousand_keyed_records_round_trip_through_the_binary() {
    let test_started = Instant::now();
    let cores = test_cores();
    let dir = data_dir();
    let mut broker = BrokerProc::start("e2e", dir.path(), cores, true);
    let bootstrap = broker.endpoints();
    let expected = expected_records();
    eprintln!("cores={cores}, endpoints {bootstrap:?}, {RECORDS} records over {KEYS} keys");

    // Create the topic and check where its partitions live.
    let owners = run_client(Duration::from_secs(30), create_topic(&bootstrap));
    let owner_cores: BTreeSet<u16> = owners.values().map(|(core, _)| *core).collect();
    let owner_addrs: BTreeSet<SocketAddr> = owners.values().map(|(_, addr)| *addr).collect();
    eprintln!("partition owners (core, endpoint): {owners:?}");
    for (p, (core, addr)) in &owners {
        assert_eq!(*addr, bootstrap[usize::from(*core)], "partition {p}: owner core {core} advertises {addr}");
    }
    assert_eq!(owner_cores.len(), cores, "the {PARTITIONS} partitions should spread over every core");
    assert_eq!(owner_addrs.len(), cores, "one endpoint per owning core");

    // Produce everything with acks=all, keeping each delivery's metadata.
    let started = Instant::now();
    let delivered = run_client(Duration::from_secs(120), produce(&bootstrap, &expected));
    let produce_time = started.elapsed();
    eprintln!(
        "produced {RECORDS} records in {produce_time:?} ({:.0} records/s)",
        RECORDS as f64 / produce_time.as_secs_f64()
    );

    // Every delivery: the partition of its key, a distinct offset, offsets
    // of a partition in send order.
    let mut at: HashMap<(u32, u64), usize> = HashMap::with_capacity(RECORDS);
    let mut last_offset: HashMap<u32, u64> = HashMap::new();
    for (seq, (partition, offset)) in delivered.iter().enumerate() {
        let key = &expected[seq].key;
        assert_eq!(*partition, partition_for_key(key, PARTITIONS), "record {seq}: partition of key {key:?}");
        if let Some(prev) = at.insert((*partition, *offset), seq) {
            panic!("records {prev} and {seq} were both acknowledged at {partition}/{offset}");
        }
        if let Some(prev) = last_offset.insert(*partition, *offset) {
            assert!(*offset > prev, "record {seq} acknowledged at {partition}/{offset} after offset {prev}");
        }
    }

    // Read everything back from the earliest offset and compare.
    let started = Instant::now();
    let read =
        run_client(Duration::from_secs(120), async { read_all(&bootstrap, TOPIC, Duration::from_secs(100)).await });
    let consume_time = started.elapsed();
    eprintln!("consumed in {consume_time:?} ({:.0} records/s)", RECORDS as f64 / consume_time.as_secs_f64());
    check_read_back(&expected, &delivered, &read);

    // Both endpoints carried the traffic (per-core broker metrics).
    let metrics = broker.scrape_metrics();
    let mut records_in = 0.0;
    for core in 0..cores {
        let (rin, rout) =
            (metric(&metrics, "corelog_records_in_total", core), metric(&metrics, "corelog_records_out_total", core));
        let conns = metric(&metrics, "corelog_connections_accepted_total", core);
        eprintln!("core {core}: records_in {rin}, records_out {rout}, connections accepted {conns}");
        assert!(rin > 0.0 && rout > 0.0, "core {core} served no produce or no fetch traffic");
        records_in += rin;
    }
    assert_eq!(records_in, RECORDS as f64, "records appended by the broker (a retried batch would show here)");

    // A clean stop (SIGTERM) exits 0, and a restart serves the same logs.
    let status = broker.terminate(Duration::from_secs(30)).expect("broker exits within 30 s of SIGTERM");
    assert!(status.success(), "broker exit status after SIGTERM: {status}");
    let restart = broker.restart();
    eprintln!("restarted after a clean stop in {restart:?}");
    let ends = run_client(Duration::from_secs(30), log_ends(&bootstrap));
    let mut want: BTreeMap<u32, u64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    for (partition, offset) in &delivered {
        let end = want.get_mut(partition).expect("partition");
        *end = (*end).max(offset + 1);
    }
    assert_eq!(ends, want, "log end offsets after a clean restart");
    eprintln!("test took {:?}", test_started.elapsed());
}

/// Creates the topic; returns each partition's owning (core, endpoint).
async fn create_topic(bootstrap: &[SocketAddr]) -> BTreeMap<u32, (u16, SocketAddr)> {
    let cluster = Cluster::connect(bootstrap, client_config()).await.expect("connect");
    let admin = Admin::new(&cluster);
    admin.create_topic(TOPIC, PARTITIONS, &[]).await.expect("create topic");
    let info = admin.describe_topic(TOPIC).await.expect("describe topic");
    assert_eq!(info.partition_count(), PARTITIONS);
    let owners = info
        .partitions
        .iter()
        .map(|p| {
            let owner = p.owner.as_ref().unwrap_or_else(|| panic!("partition {} has no owner", p.partition));
            (p.partition, (owner.core_id, p.addr.expect("owner address")))
        })
        .collect();
    cluster.close();
    owners
}

/// Sends every record (at most [`MAX_OUTSTANDING`] unacknowledged) and
/// returns each one's acknowledged (partition, offset), by seq.
async fn produce(bootstrap: &[SocketAddr], expected: &[Expected]) -> Vec<(u32, u64)> {
    let cluster = Cluster::connect(bootstrap, client_config()).await.expect("connect");
    let producer = Producer::new(&cluster, ProducerConfig::default());
    let mut delivered = vec![(u32::MAX, u64::MAX); expected.len()];
    let mut pending = FuturesUnordered::new();
    let mut acked = 0;
    let mut record_ack = |seq: usize, result: Result<_, _>| {
        let meta: corelog_client::RecordMetadata =
            result.unwrap_or_else(|e| panic!("record {seq} was not delivered: {e}"));
        let offset = meta.offset.expect("acks=all reports the offset");
        delivered[seq] = (meta.partition, offset);
        acked += 1;
    };
    for (seq, e) in expected.iter().enumerate() {
        while pending.len() >= MAX_OUTSTANDING {
            let (seq, result) = pending.next().await.expect("pending deliveries");
            record_ack(seq, result);
        }
        let mut record = ProducerRecord::new(TOPIC, e.value.clone()).key(e.key.clone());
        record.headers = e.headers.clone();
        let delivery = producer.send(record);
        pending.push(async move { (seq, delivery.await) });
    }
    producer.flush().await.expect("flush");
    while let Some((seq, result)) = pending.next().await {
        record_ack(seq, result);
    }
    assert_eq!(acked, expected.len());
    drop(producer);
    cluster.close();
    delivered
}

/// Compares what was read back with what was sent and acknowledged.
fn check_read_back(
    expected: &[Expected],
    delivered: &[(u32, u64)],
    read: &BTreeMap<u32, Vec<corelog_client::ConsumerRecord>>,
) {
    let mut seen = vec![false; expected.len()];
    let mut key_partition: HashMap<Bytes, u32> = HashMap::new();
    let mut next_key_seq: HashMap<Bytes, u32> = HashMap::new();
    let mut total = 0;
    for (partition, records) in read {
        eprintln!("partition {partition}: {} records", records.len());
        for (i, r) in records.iter().enumerate() {
            total += 1;
            assert_eq!(&*r.topic, TOPIC);
            assert_eq!(r.partition, *partition);
            assert_eq!(r.offset, i as u64, "partition {partition}: offsets must run 0, 1, 2, … without gaps");
            assert!(r.value.len() >= 12, "{partition}/{}: value of {} bytes was not sent", r.offset, r.value.len());
            let seq = u64::from_be_bytes(r.value[..8].try_into().unwrap()) as usize;
            assert!(seq < expected.len(), "{partition}/{}: unknown record seq {seq}", r.offset);
            assert!(!seen[seq], "record {seq} read twice (again at {partition}/{})", r.offset);
            seen[seq] = true;
            let e = &expected[seq];
            assert!(r.value == e.value, "record {seq} at {partition}/{}: value differs", r.offset);
            assert_eq!(r.key.as_ref(), Some(&e.key), "record {seq}: key");
            assert_eq!(r.headers, e.headers, "record {seq}: headers");
            assert_eq!(delivered[seq], (r.partition, r.offset), "record {seq}: read where its delivery said");
            let p = key_partition.entry(e.key.clone()).or_insert(r.partition);
            assert_eq!(*p, r.partition, "key {:?} found on partitions {p} and {}", e.key, r.partition);
            let next = next_key_seq.entry(e.key.clone()).or_default();
            assert_eq!(e.key_seq, *next, "key {:?}: values out of send order at {partition}/{}", e.key, r.offset);
            *next += 1;
        }
    }
    assert_eq!(total, expected.len(), "records read back");
    assert!(seen.iter().all(|s| *s), "every record read back");
    assert_eq!(key_partition.len() as u64, KEYS, "every key read back");
}

/// Each partition's log end offset.
async fn log_ends(bootstrap: &[SocketAddr]) -> BTreeMap<u32, u64> {
    let admin = Admin::connect(bootstrap, client_config()).await.expect("connect");
    let mut ends = BTreeMap::new();
    for p in 0..PARTITIONS {
        let end = admin.list_offsets(TOPIC, p, OffsetSpec::Latest).await.expect("list offsets");
        ends.insert(p, end.offset.expect("log end offset"));
    }
    admin.cluster().close();
    ends
}
