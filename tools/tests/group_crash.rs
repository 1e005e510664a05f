//! kill -9 the broker while a group commits offsets: after the restart the
//! group's committed offsets and its state (generation, protocol) are back,
//! and a new member resumes exactly where the group committed.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use corelog_client::*;
use support::*;

const RECORDS: usize = 2_000;

#[test]
fn committed_offsets_and_group_state_survive_kill_9() {
    let dir = data_dir();
    let mut broker = BrokerProc::start("group-crash", dir.path(), test_cores(), false);
    let bootstrap = broker.endpoints();

    let (committed, generation) = run_client(Duration::from_secs(90), async {
        let cluster = Cluster::connect(&bootstrap, client_config()).await.expect("connect");
        Admin::new(&cluster).create_topic("orders", 4, &[]).await.expect("create");
        let producer = Producer::new(&cluster, ProducerConfig::default());
        let deliveries: Vec<_> = (0..RECORDS)
            .map(|i| producer.send(ProducerRecord::new("orders", Bytes::from(format!("v{i}"))).key(format!("k{i}"))))
            .collect();
        for d in deliveries {
            d.await.expect("acked");
        }
        let config =
            GroupConfig { auto_commit: None, auto_offset_reset: OffsetReset::Earliest, ..GroupConfig::new("billing") };
        let mut member = GroupConsumer::new(&cluster, config).expect("config");
        member.subscribe(&["orders"]).expect("subscribe");
        let mut seen = 0;
        while seen < RECORDS / 2 {
            seen += member.poll(Duration::from_millis(500)).await.expect("poll").len();
        }
        member.commit_sync().await.expect("commit");
        let generation = member.generation().expect("in a generation");
        let committed = Admin::new(&cluster).group_offsets("billing").await.expect("offsets");
        assert!(!committed.is_empty());
        // Leave the member running: kill -9 comes while it is in the group.
        std::mem::forget(member);
        (committed, generation)
    });

    broker.kill();
    broker.restart();
    let bootstrap = broker.endpoints();

    run_client(Duration::from_secs(90), async {
        let cluster = connect_with_retries(&bootstrap).await;
        let admin = Admin::new(&cluster);
        let after = admin.group_offsets("billing").await.expect("offsets after restart");
        assert_eq!(after, committed, "every committed offset is back");
        let described = admin.describe_group("billing").await.expect("describe");
        assert_eq!(described.state, GroupState::Empty, "members rejoin after a coordinator restart");
        assert_eq!(described.generation, generation, "the generation is back");
        assert_eq!(described.protocol_type, "consumer");

        // A new member resumes at the committed offsets, not at the start.
        let config = GroupConfig { auto_commit: None, ..GroupConfig::new("billing") };
        let mut member = GroupConsumer::new(&cluster, config).expect("config");
        member.subscribe(&["orders"]).expect("subscribe");
        let mut first: BTreeMap<u32, u64> = BTreeMap::new();
        let mut total = 0usize;
        while total < RECORDS - committed.values().sum::<u64>() as usize {
            for r in member.poll(Duration::from_millis(500)).await.expect("poll") {
                first.entry(r.partition).or_insert(r.offset);
                total += 1;
            }
        }
        for (tp, offset) in &committed {
            if let Some(start) = first.get(&tp.partition) {
                assert_eq!(start, offset, "partition {} resumes at its committed offset", tp.partition);
            }
        }
        member.close().await.expect("close");
    });
}

/// The restarted broker accepts connections before its cores have all loaded
/// their partitions; retry the bootstrap for a little while.
async fn connect_with_retries(bootstrap: &[std::net::SocketAddr]) -> Cluster {
    let mut last = None;
    for _ in 0..50 {
        match Cluster::connect(bootstrap, client_config()).await {
            Ok(cluster) => return cluster,
            Err(e) => last = Some(e),
        }
        corelog_runtime::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot reconnect after the restart: {last:?}");
}
