//! The client against a real single-core broker: keyed produce to a
//! 6-partition topic and consume everything back; acks=0; start positions
//! and seeks; producer errors.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use corelog_client::partitioner::partition_for_key;
use corelog_client::*;
use support::{run_client, TestBroker};

const LIMIT: Duration = Duration::from_secs(60);

/// Polls until `n` records arrived (or the deadline passes).
async fn consume(consumer: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        out.extend(consumer.poll(Duration::from_millis(200)).await.expect("poll"));
    }
    out
}

#[test]
fn keyed_records_round_trip_in_partition_order() {
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("events", 6, &[]).await.unwrap();
        let config = ProducerConfig { linger: Duration::from_millis(2), batch_size: 4096, ..Default::default() };
        let producer = Producer::new(&cluster, config);
        const N: usize = 3_000;
        let mut deliveries = Vec::new();
        for i in 0..N {
            let key = format!("user-{}", i % 37);
            let record =
                ProducerRecord::new("events", format!("{key}:{i}")).key(key.clone()).header("seq", i.to_string());
            deliveries.push((key, i, producer.send(record)));
        }
        producer.flush().await.unwrap();
        let mut produced: HashMap<(u32, u64), usize> = HashMap::new();
        for (key, i, delivery) in deliveries {
            let meta = delivery.await.expect("delivered");
            assert_eq!(&*meta.topic, "events");
            assert_eq!(meta.partition, partition_for_key(key.as_bytes(), 6), "key {key}");
            let offset = meta.offset.expect("acks=all reports the offset");
            assert!(produced.insert((meta.partition, offset), i).is_none(), "offset given twice");
        }

        let config = ConsumerConfig { max_wait: Duration::from_millis(100), ..Default::default() };
        let mut consumer = Consumer::new(&cluster, config);
        consumer.assign_all("events", StartAt::Earliest).await.unwrap();
        let records = consume(&mut consumer, N).await;
        assert_eq!(records.len(), N);

        let mut by_partition: BTreeMap<u32, Vec<&ConsumerRecord>> = BTreeMap::new();
        for r in &records {
            by_partition.entry(r.partition).or_default().push(r);
        }
        assert!(by_partition.len() > 1, "37 keys spread over more than one partition");
        let mut last_seq_of_key: HashMap<Bytes, usize> = HashMap::new();
        for (partition, recs) in &by_partition {
            for (expected_offset, r) in recs.iter().enumerate() {
                assert_eq!(r.offset, expected_offset as u64, "partition {partition} is read in order, gap-free");
                let key = r.key.clone().expect("keyed");
                assert_eq!(r.partition, partition_for_key(&key, 6));
                let seq: usize = std::str::from_utf8(&r.headers[0].1).unwrap().parse().unwrap();
                assert_eq!(r.headers[0].0, "seq");
                assert_eq!(produced[&(r.partition, r.offset)], seq, "offset reported at produce time");
                assert_eq!(r.value, format!("{}:{seq}", std::str::from_utf8(&key).unwrap()));
                if let Some(prev) = last_seq_of_key.insert(key, seq) {
                    assert!(prev < seq, "a key's records keep their send order");
                }
            }
            assert_eq!(consumer.position("events", *partition), Some(recs.len() as u64));
            assert_eq!(consumer.lag("events", *partition), Some(0));
        }
        // Nothing more to read.
        assert!(consumer.poll(Duration::from_millis(150)).await.unwrap().is_empty());
    });
}

#[test]
fn acks_none_and_keyless_sticky_records_arrive() {
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("fire", 3, &[]).await.unwrap();
        let config = ProducerConfig { acks: Acks::None, batch_size: 2048, ..Default::default() };
        let producer = Producer::new(&cluster, config);
        let deliveries: Vec<_> = (0..600)
            .map(|i| producer.send(ProducerRecord::new("fire", format!("v{i}")).timestamp(5_000 + i)))
            .collect();
        producer.flush().await.unwrap();
        for d in deliveries {
            let meta = d.await.unwrap();
            assert_eq!(meta.offset, None, "acks=0 has no response to tell the offset");
        }
        let mut consumer = Consumer::new(&cluster, ConsumerConfig::default());
        consumer.assign_all("fire", StartAt::Earliest).await.unwrap();
        let records = consume(&mut consumer, 600).await;
        assert_eq!(records.len(), 600);
        let partitions: std::collections::BTreeSet<u32> = records.iter().map(|r| r.partition).collect();
        assert!(partitions.len() > 1, "sticky partitioning moves on when a batch closes");
        for r in &records {
            assert!(r.key.is_none());
            let i: i64 = std::str::from_utf8(&r.value[1..]).unwrap().parse().unwrap();
            assert_eq!(r.timestamp, 5_000 + i);
        }
    });
}

#[test]
fn start_positions_and_seek() {
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        let admin = Admin::new(&cluster);
        admin.create_topic("ticks", 2, &[]).await.unwrap();
        let producer = Producer::new(&cluster, ProducerConfig { linger: Duration::ZERO, ..Default::default() });
        for i in 0..10 {
            // One batch each, so timestamp lookups have batches to choose from.
            let meta =
                producer.send(ProducerRecord::new("ticks", format!("t{i}")).partition(1).timestamp(1_000 + i)).await;
            assert_eq!(meta.unwrap().offset, Some(i as u64));
        }
        let mut consumer =
            Consumer::new(&cluster, ConsumerConfig { max_wait: Duration::from_millis(50), ..Default::default() });
        consumer.assign("ticks", &[1], StartAt::Latest).await.unwrap();
        assert_eq!(consumer.position("ticks", 1), Some(10));
        consumer.seek("ticks", 1, StartAt::Offset(7)).await.unwrap();
        let got = consume(&mut consumer, 3).await;
        assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![7, 8, 9]);
        consumer.seek("ticks", 1, StartAt::Timestamp(1_004)).await.unwrap();
        assert_eq!(consumer.position("ticks", 1), Some(4));
        let got = consume(&mut consumer, 6).await;
        assert_eq!(got.first().map(|r| (r.offset, r.timestamp)), Some((4, 1_004)));
        consumer.seek("ticks", 1, StartAt::Timestamp(99_999)).await.unwrap();
        assert_eq!(consumer.position("ticks", 1), Some(10), "a timestamp past every record starts at the end");
        consumer.seek("ticks", 1, StartAt::Earliest).await.unwrap();
        assert_eq!(consumer.position("ticks", 1), Some(0));
        let unassigned = consumer.seek("ticks", 0, StartAt::Earliest).await;
        assert!(matches!(unassigned, Err(ClientError::InvalidArgument(_))), "{unassigned:?}");
        assert!(matches!(
            consumer.assign("ticks", &[2], StartAt::Earliest).await,
            Err(ClientError::UnknownPartition { partition: 2, .. })
        ));
        // A record past the live data: the consumer waits for it.
        consumer.assign("ticks", &[0], StartAt::Latest).await.unwrap();
        consumer.unassign("ticks", &[1]);
        assert!(consumer.poll(Duration::from_millis(100)).await.unwrap().is_empty());
        let sent = producer.send(ProducerRecord::new("ticks", "late").partition(0));
        let got = consume(&mut consumer, 1).await;
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].partition, got[0].offset, &got[0].value[..]), (0, 0, &b"late"[..]));
        assert_eq!(sent.await.unwrap().offset, Some(0));
    });
}

#[test]
fn producer_reports_bad_partitions_and_unknown_topics() {
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("small", 1, &[]).await.unwrap();
        let config = ProducerConfig { retries: 2, retry_backoff: Duration::from_millis(20), ..Default::default() };
        let producer = Producer::new(&cluster, config);
        let bad = producer.send(ProducerRecord::new("small", "x").partition(5)).await;
        assert!(matches!(bad, Err(ClientError::UnknownPartition { partition: 5, .. })), "{bad:?}");
        let missing = producer.send(ProducerRecord::new("no-such-topic", "x")).await;
        assert!(matches!(missing, Err(ClientError::UnknownTopic(ref t)) if t == "no-such-topic"), "{missing:?}");
        let empty = producer.send(ProducerRecord::new("", "x")).await;
        assert!(matches!(empty, Err(ClientError::InvalidArgument(_))));
        // Still usable afterwards.
        let ok = producer.send(ProducerRecord::new("small", "y")).await.unwrap();
        assert_eq!((ok.partition, ok.offset), (0, Some(0)));
    });
}

#[test]
fn compressed_batches_round_trip_without_prefetch() {
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("packed", 1, &[]).await.unwrap();
        let mut expected = Vec::new();
        for compression in [Compression::Lz4, Compression::Zstd, Compression::None] {
            let producer = Producer::new(&cluster, ProducerConfig { compression, ..Default::default() });
            let mut deliveries = Vec::new();
            for i in 0..200 {
                let value = format!("{compression:?}-{i}-{}", "x".repeat(i % 50));
                expected.push(value.clone());
                deliveries.push(producer.send(ProducerRecord::new("packed", value).key(i.to_string())));
            }
            producer.flush().await.unwrap();
            for d in deliveries {
                d.await.unwrap();
            }
        }
        let config = ConsumerConfig { prefetch: false, partition_max_bytes: 4096, ..Default::default() };
        let mut consumer = Consumer::new(&cluster, config);
        consumer.assign("packed", &[0], StartAt::Offset(0)).await.unwrap();
        let records = consume(&mut consumer, expected.len()).await;
        let values: Vec<String> = records.iter().map(|r| String::from_utf8(r.value.to_vec()).unwrap()).collect();
        assert_eq!(values, expected);
        assert_eq!(records.last().map(|r| r.offset), Some(599));
    });
}

#[test]
fn delivery_callbacks_report_every_record_once_and_may_send_more() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("calls", 2, &[]).await.unwrap();
        let config = ProducerConfig { linger: Duration::from_millis(1), batch_size: 2048, ..Default::default() };
        let producer = Producer::new(&cluster, config);
        type Outcomes = Rc<RefCell<Vec<(usize, ClientResult<RecordMetadata>)>>>;
        let outcomes: Outcomes = Rc::default();
        const N: usize = 500;
        for i in 0..N {
            let (seen, again) = (outcomes.clone(), producer.clone());
            producer.send_with(ProducerRecord::new("calls", format!("v{i}")).partition(i as u32 % 2), move |r| {
                // A callback that sends: the producer's state is not borrowed here.
                if i == 0 {
                    let seen2 = seen.clone();
                    again.send_with(ProducerRecord::new("calls", "from-callback").partition(0), move |r| {
                        seen2.borrow_mut().push((N, r))
                    });
                }
                seen.borrow_mut().push((i, r));
            });
        }
        let refused = outcomes.clone();
        producer.send_with(ProducerRecord::new("", "x"), move |r| refused.borrow_mut().push((usize::MAX, r)));
        producer.flush().await.unwrap();
        producer.flush().await.unwrap(); // the record sent by a callback during the first flush

        let outcomes = outcomes.borrow();
        assert_eq!(outcomes.len(), N + 2, "every record reported exactly once");
        let mut offsets: HashMap<u32, Vec<u64>> = HashMap::new();
        for (i, r) in outcomes.iter() {
            match *i {
                usize::MAX => assert!(matches!(r, Err(ClientError::InvalidArgument(_))), "{r:?}"),
                i => {
                    let meta = r.as_ref().expect("delivered");
                    assert_eq!(meta.partition, if i == N { 0 } else { i as u32 % 2 });
                    offsets.entry(meta.partition).or_default().push(meta.offset.unwrap());
                }
            }
        }
        for (p, mut offs) in offsets {
            offs.sort_unstable();
            let expected: Vec<u64> = (0..offs.len() as u64).collect();
            assert_eq!(offs, expected, "partition {p}: every offset once");
        }
    });
}

#[test]
fn callbacks_of_a_dropped_producer_report_closed() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        Admin::new(&cluster).create_topic("gone", 1, &[]).await.unwrap();
        let config = ProducerConfig { linger: Duration::from_secs(60), ..Default::default() };
        let producer = Producer::new(&cluster, config);
        let outcome: Rc<RefCell<Option<ClientResult<RecordMetadata>>>> = Rc::default();
        let seen = outcome.clone();
        producer.send_with(ProducerRecord::new("gone", "lingering"), move |r| *seen.borrow_mut() = Some(r));
        assert!(outcome.borrow().is_none(), "still lingering");
        drop(producer);
        // The sender task lets go of the batches once the executor cancels it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while outcome.borrow().is_none() && Instant::now() < deadline {
            corelog_runtime::sleep(Duration::from_millis(5)).await;
        }
        assert!(matches!(*outcome.borrow(), Some(Err(ClientError::Closed))), "{:?}", outcome.borrow());
    });
}
