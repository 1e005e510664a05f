//! Routing to owning cores on a 2-core broker: the clients send each
//! partition's requests to the core that owns it, and follow `NotOwner`
//! answers when their metadata is wrong.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use corelog_client::*;
use corelog_protocol::{
    Endpoint, ErrorCode, ProducePartition, ProduceRequest, ProduceTopic, Records, Request, Response,
};
use support::{run_client, TestBroker};

const LIMIT: Duration = Duration::from_secs(60);

/// The endpoint of the *other* core than the one owning `partition`.
fn wrong_owner(topic: &TopicInfo, partition: u32, endpoints: &[std::net::SocketAddr]) -> Endpoint {
    let owner = topic.partitions[partition as usize].owner.clone().expect("owned");
    let other = endpoints.iter().find(|a| a.port() != owner.port).expect("two cores");
    Endpoint { core_id: 1 - owner.core_id, port: other.port(), ..owner }
}

#[test]
fn partitions_are_served_by_their_owning_cores() {
    let broker = TestBroker::start(2);
    let endpoints = broker.endpoints();
    if endpoints.len() < 2 {
        eprintln!("skipping: this machine has a single CPU");
        return;
    }
    run_client(LIMIT, async move {
        // Bootstrap through core 0 only: everything else comes from metadata.
        let cluster = Cluster::connect(&endpoints[..1], ClientConfig::default()).await.unwrap();
        let admin = Admin::new(&cluster);
        admin.create_topic("spread", 4, &[]).await.unwrap();
        let topic = admin.describe_topic("spread").await.unwrap();
        let owners: BTreeSet<_> = topic.partitions.iter().map(|p| p.addr.expect("owned")).collect();
        assert_eq!(owners.len(), 2, "4 partitions spread over both cores: {topic:?}");
        assert!(owners.iter().all(|a| endpoints.contains(a)));

        // A produce sent to the wrong core is refused with the right owner.
        let conn = cluster.connection(endpoints[0]).await.unwrap();
        let foreign = topic.partitions.iter().find(|p| p.addr != Some(endpoints[0])).unwrap();
        let batch = {
            let mut b = corelog_format::BatchBuilder::new(Compression::None);
            b.push(None, b"misrouted", 1, &[]);
            b.build().unwrap().freeze()
        };
        let request = Request::Produce(ProduceRequest {
            acks: Acks::All,
            timeout_ms: 5_000,
            topics: vec![ProduceTopic {
                name: "spread".into(),
                partitions: vec![ProducePartition {
                    partition: foreign.partition,
                    records: Records::from_bytes(batch),
                }],
            }],
        });
        let Response::Produce(resp) = conn.request(&request).await.unwrap() else { panic!("produce response") };
        let answer = &resp.topics[0].partitions[0];
        assert_eq!(answer.error, ErrorCode::NotOwner);
        assert_eq!(answer.current_owner, foreign.owner);

        // Produce and consume with correct metadata.
        let producer = Producer::new(&cluster, ProducerConfig::default());
        let sent: Vec<_> = (0..400)
            .map(|i| producer.send(ProducerRecord::new("spread", format!("a{i}")).key(format!("k{i}"))))
            .collect();
        producer.flush().await.unwrap();
        let mut per_partition = [0u64; 4];
        for d in sent {
            let meta = d.await.unwrap();
            assert_eq!(meta.offset, Some(per_partition[meta.partition as usize]));
            per_partition[meta.partition as usize] += 1;
        }
        assert!(per_partition.iter().all(|n| *n > 0));

        // Point every partition at the wrong core: the producer follows the
        // NotOwner hints and delivers anyway.
        for p in 0..4 {
            cluster.update_owner("spread", p, &wrong_owner(&topic, p, &endpoints));
        }
        let sent: Vec<_> =
            (0..4).map(|p| producer.send(ProducerRecord::new("spread", format!("b{p}")).partition(p))).collect();
        for (p, d) in sent.into_iter().enumerate() {
            let meta = d.await.expect("rerouted after NotOwner");
            assert_eq!(meta.offset, Some(per_partition[p]));
            per_partition[p] += 1;
        }
        let owners_now: Vec<_> = cluster.topic("spread").unwrap().partitions.iter().map(|p| p.addr).collect();
        let true_owners: Vec<_> = topic.partitions.iter().map(|p| p.addr).collect();
        assert_eq!(owners_now, true_owners, "the hints restored the true owners");

        // Same for the consumer (and its offset lookups).
        for p in 0..4 {
            cluster.update_owner("spread", p, &wrong_owner(&topic, p, &endpoints));
        }
        let mut consumer =
            Consumer::new(&cluster, ConsumerConfig { max_wait: Duration::from_millis(100), ..Default::default() });
        consumer.assign_all("spread", StartAt::Earliest).await.unwrap();
        for p in 0..4 {
            cluster.update_owner("spread", p, &wrong_owner(&topic, p, &endpoints));
        }
        let total: u64 = per_partition.iter().sum();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::new();
        while (got.len() as u64) < total && Instant::now() < deadline {
            got.extend(consumer.poll(Duration::from_millis(200)).await.unwrap());
        }
        assert_eq!(got.len() as u64, total);
        for p in 0..4u32 {
            let offsets: Vec<u64> = got.iter().filter(|r| r.partition == p).map(|r| r.offset).collect();
            assert_eq!(offsets, (0..per_partition[p as usize]).collect::<Vec<_>>());
            assert_eq!(consumer.position("spread", p), Some(per_partition[p as usize]));
        }
    });
}

#[test]
fn stale_metadata_is_refreshed_after_topic_recreation() {
    let broker = TestBroker::start(2);
    let endpoints = broker.endpoints();
    run_client(LIMIT, async move {
        let cluster = Cluster::connect(&endpoints, ClientConfig::default()).await.unwrap();
        let admin = Admin::new(&cluster);
        admin.create_topic("cycle", 1, &[]).await.unwrap();
        let producer =
            Producer::new(&cluster, ProducerConfig { retry_backoff: Duration::from_millis(20), ..Default::default() });
        producer.send(ProducerRecord::new("cycle", "one")).await.unwrap();
        // Recreate it behind the producer's back with more partitions; a
        // second cluster handle does it so the producer's cache goes stale.
        let other = Admin::connect(&endpoints, ClientConfig::default()).await.unwrap();
        other.delete_topic("cycle").await.unwrap();
        other.create_topic("cycle", 4, &[]).await.unwrap();
        let meta = producer.send(ProducerRecord::new("cycle", "two").partition(0)).await.unwrap();
        assert_eq!(meta.offset, Some(0), "written to the new topic");
        cluster.refresh_topics(&["cycle"]).await.unwrap();
        assert_eq!(cluster.topic("cycle").unwrap().partition_count(), 4);
    });
}
