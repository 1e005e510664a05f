//! Three in-process brokers forming a cluster over loopback: replication
//! with acks=all, min.insync.replicas, ISR shrink when a follower stops, and
//! the replication metrics that show it; a follower that comes back below
//! its leader's log start.

mod support;

use std::time::{Duration, Instant};

use corelog_broker::cluster::ControllerPeer;
use corelog_broker::{Broker, BrokerConfig};
use corelog_protocol::*;
use support::*;

struct Node {
    broker: Option<Broker>,
    config: BrokerConfig,
    _dir: tempfile::TempDir,
}

use corelog_testkit::free_port;

fn controllers() -> Vec<ControllerPeer> {
    (1..=3).map(|id| ControllerPeer { node_id: id, host: "127.0.0.1".into(), port: free_port() }).collect()
}

fn start_cluster() -> Vec<Node> {
    start_nodes(&controllers(), 1..=3)
}

fn start_nodes(controllers: &[ControllerPeer], ids: std::ops::RangeInclusive<u32>) -> Vec<Node> {
    let configs: Vec<(BrokerConfig, tempfile::TempDir)> = ids
        .map(|id| {
            let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
            let config = BrokerConfig {
                node_id: id,
                base_port: free_port(),
                data_dir: dir.path().to_path_buf(),
                cores: 1,
                io_memory: 1 << 20,
                metrics_port: Some(0),
                controllers: controllers.to_vec(),
                broker_session_timeout: Duration::from_millis(2000),
                broker_heartbeat_interval: Duration::from_millis(300),
                replica_lag_time_max: Duration::from_millis(2000),
                retention_check: Duration::from_millis(200),
                ..BrokerConfig::default()
            };
            (config, dir)
        })
        .collect();
    // Start concurrently: each waits for a quorum only to serve metadata.
    let started: Vec<_> = configs
        .into_iter()
        .map(|(config, dir)| std::thread::spawn(move || (Broker::start(config.clone()).expect("start"), config, dir)))
        .collect();
    started
        .into_iter()
        .map(|h| {
            let (broker, config, dir) = h.join().unwrap();
            Node { broker: Some(broker), config, _dir: dir }
        })
        .collect()
}

fn addr(node: &Node) -> std::net::SocketAddr {
    node.broker.as_ref().unwrap().endpoints()[0]
}

fn samples(node: &Node) -> std::collections::HashMap<String, f64> {
    let (_, _, body) = http_get(node.broker.as_ref().unwrap().metrics_addr().unwrap(), "/metrics", None);
    parse_samples(&body)
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn partition(node: &Node, topic: &str) -> Option<PartitionMetadata> {
    let mut c = WireClient::connect(addr(node));
    let Response::Metadata(m) = c.call(&Request::Metadata(MetadataRequest { topics: Some(vec![topic.into()]) })) else {
        return None;
    };
    m.topics.into_iter().next()?.partitions.into_iter().next()
}

#[test]
fn acks_all_needs_min_insync_replicas_and_a_stopped_follower_leaves_the_isr() {
    let mut nodes = start_cluster();
    wait_for("3 live brokers", || {
        let mut c = WireClient::connect(addr(&nodes[0]));
        let Response::DescribeCluster(d) = c.call(&Request::DescribeCluster(DescribeClusterRequest {})) else {
            return None;
        };
        (d.brokers.iter().filter(|b| !b.fenced).count() == 3 && d.controller_leader.is_some()).then_some(())
    });
    let mut c = WireClient::connect(addr(&nodes[0]));
    let create = Request::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic { name: "r".into(), partitions: 1, replication_factor: 3, configs: vec![] }],
        timeout_ms: 30_000,
        validate_only: false,
    });
    let Response::CreateTopics(created) = c.call(&create) else { panic!() };
    assert_eq!(created.topics[0].error, ErrorCode::None, "{:?}", created.topics[0].error_message);
    let p = wait_for("3 in-sync replicas", || partition(&nodes[0], "r").filter(|p| p.isr.len() == 3));
    let leader = p.owner.as_ref().unwrap().node_id;
    let leader_node = nodes.iter().position(|n| n.config.node_id == leader).unwrap();
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader_node).collect();

    wait_for("the leader knows the topic", || partition(&nodes[leader_node], "r").filter(|p| p.isr.len() == 3));
    // acks=all with every replica in sync: the high watermark covers it.
    let mut to_leader = WireClient::connect(addr(&nodes[leader_node]));
    let r = produce_result(to_leader.call(&produce("r", 0, batch("a", 10), Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 0), "{:?}", r.error_message);
    let f = fetch_result(to_leader.call(&fetch("r", 0, 0, 0)));
    assert_eq!(f.high_watermark, 10);
    wait_for("no replication lag", || {
        let s = samples(&nodes[leader_node]);
        let lag = |replica: u32| {
            s.get(&series(
                "corelog_replication_lag_records",
                &[("core", "0"), ("partition", "0"), ("replica", &replica.to_string()), ("topic", "r")],
            ))
            .copied()
        };
        let followers_caught_up = followers.iter().all(|i| lag(nodes[*i].config.node_id) == Some(0.0));
        (followers_caught_up && s.get(&series("corelog_leader_partitions", &[("core", "0")])) == Some(&1.0))
            .then_some(())
    });

    // One follower stops: it leaves the ISR; acks=all goes on with 2 (min.insync.replicas).
    nodes[followers[0]].broker.take().unwrap().shutdown().unwrap();
    wait_for("the stopped follower leaves the ISR", || {
        partition(&nodes[leader_node], "r").filter(|p| p.isr.len() == 2)
    });
    let r = produce_result(to_leader.call(&produce("r", 0, batch("b", 5), Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 10), "{:?}", r.error_message);
    let s = wait_for("the ISR shrink counted", || {
        let s = samples(&nodes[leader_node]);
        (s.get(&series("corelog_isr_shrinks_total", &[("core", "0")])).copied().unwrap_or(0.0) >= 1.0).then_some(s)
    });
    assert_eq!(s.get(&series("corelog_under_replicated_partitions", &[("core", "0")])), Some(&1.0));

    // Two in-sync replicas are below min.insync.replicas 3: acks=all is
    // refused before anything is appended. (Stopping the second follower
    // would stop two of the three controllers too: no quorum, no ISR change.)
    let alter = Request::AlterConfigs(AlterConfigsRequest {
        topics: vec![AlterTopicConfigs {
            name: "r".into(),
            ops: vec![AlterConfigOp { key: "min.insync.replicas".into(), value: Some("3".into()) }],
        }],
        validate_only: false,
    });
    let Response::AlterConfigs(altered) = c.call(&alter) else { panic!() };
    assert_eq!(altered.topics[0].error, ErrorCode::None, "{:?}", altered.topics[0].error_message);
    let r = wait_for("min.insync.replicas 3 in force", || {
        let r = produce_result(to_leader.call(&produce("r", 0, batch("c", 5), Acks::All)));
        (r.error != ErrorCode::None).then_some(r)
    });
    assert_eq!(r.error, ErrorCode::NotEnoughReplicas, "{:?}", r.error_message);
    wait_for("under min ISR counted", || {
        let s = samples(&nodes[leader_node]);
        (s.get(&series("corelog_under_min_isr_partitions", &[("core", "0")])) == Some(&1.0)).then_some(())
    });
    // acks=1 is the leader's alone; consumers see it once the ISR has it.
    let r = produce_result(to_leader.call(&produce("r", 0, batch("d", 5), Acks::Leader)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 15));
    wait_for("the remaining follower replicates it", || {
        (fetch_result(to_leader.call(&fetch("r", 0, 0, 0))).high_watermark == 20).then_some(())
    });
}

#[test]
fn a_follower_back_below_the_leaders_log_start_empties_its_log_and_rejoins_the_isr() {
    let mut nodes = start_cluster();
    let mut c = WireClient::connect(addr(&nodes[0]));
    let create = Request::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "short".into(),
            partitions: 1,
            replication_factor: 3,
            configs: vec![
                ConfigEntry { key: "segment.bytes".into(), value: "65536".into() },
                ConfigEntry { key: "retention.bytes".into(), value: "65536".into() },
            ],
        }],
        timeout_ms: 30_000,
        validate_only: false,
    });
    wait_for("the topic created (once 3 brokers are live)", || {
        let Response::CreateTopics(created) = c.call(&create) else { return None };
        matches!(created.topics[0].error, ErrorCode::None | ErrorCode::TopicAlreadyExists).then_some(())
    });
    let p = wait_for("3 in-sync replicas", || partition(&nodes[0], "short").filter(|p| p.isr.len() == 3));
    let leader = p.owner.as_ref().unwrap().node_id;
    let leader_node = nodes.iter().position(|n| n.config.node_id == leader).unwrap();
    let follower = (0..3).find(|i| *i != leader_node).unwrap();
    wait_for("the leader knows the topic", || partition(&nodes[leader_node], "short").filter(|p| p.isr.len() == 3));
    let mut to_leader = WireClient::connect(addr(&nodes[leader_node]));
    let r = produce_result(to_leader.call(&produce("short", 0, batch("before", 100), Acks::All)));
    assert_eq!(r.error, ErrorCode::None, "{:?}", r.error_message);

    // The follower stops; the leader goes on and retention deletes the
    // segments the follower would need next.
    let config = nodes[follower].config.clone();
    nodes[follower].broker.take().unwrap().shutdown().unwrap();
    wait_for("the stopped follower leaves the ISR", || {
        partition(&nodes[leader_node], "short").filter(|p| p.isr.len() == 2)
    });
    let mut end = 100;
    for i in 0..40 {
        let r = produce_result(to_leader.call(&produce("short", 0, batch(&format!("while-down-{i}"), 200), Acks::All)));
        assert_eq!((r.error, r.base_offset), (ErrorCode::None, end), "{:?}", r.error_message);
        end += 200;
    }
    let log_start = wait_for("retention moved the leader's log start past 100", || {
        let f = fetch_result(to_leader.call(&fetch("short", 0, end, 0)));
        (f.log_start_offset > 100).then_some(f.log_start_offset)
    });

    // Back, it fetches from 100, below the leader's start: it restarts its
    // log at the leader's start, catches up and rejoins the ISR.
    nodes[follower].broker = Some(Broker::start(config).expect("restart"));
    wait_for("the follower back in the ISR", || partition(&nodes[leader_node], "short").filter(|p| p.isr.len() == 3));
    let follower_id = nodes[follower].config.node_id.to_string();
    wait_for("the follower's log ends where the leader's does", || {
        let s = samples(&nodes[follower]);
        let end_gauge =
            series("corelog_partition_log_end_offset", &[("core", "0"), ("partition", "0"), ("topic", "short")]);
        (s.get(&end_gauge) == Some(&(end as f64))).then_some(())
    });
    let s = samples(&nodes[leader_node]);
    let lag = series(
        "corelog_replication_lag_records",
        &[("core", "0"), ("partition", "0"), ("replica", &follower_id), ("topic", "short")],
    );
    assert_eq!(s.get(&lag), Some(&0.0));
    assert!(log_start > 100);
}

fn live_brokers(node: &Node) -> Option<usize> {
    let mut c = WireClient::connect(addr(node));
    let Response::DescribeCluster(d) = c.call(&Request::DescribeCluster(DescribeClusterRequest {})) else {
        return None;
    };
    d.controller_leader?;
    Some(d.brokers.iter().filter(|b| !b.fenced).count())
}

#[test]
fn a_broker_that_is_not_a_controller_joins_a_running_cluster_and_takes_replicas() {
    let controllers = controllers();
    let nodes = start_nodes(&controllers, 1..=3);
    wait_for("3 live brokers", || (live_brokers(&nodes[0]) == Some(3)).then_some(()));
    let joined = start_nodes(&controllers, 4..=4);
    wait_for("the fourth broker registered and unfenced", || (live_brokers(&nodes[0]) == Some(4)).then_some(()));
    // Not a controller, it knows the quorum's leader from its heartbeats.
    wait_for("the fourth broker names the controller leader", || live_brokers(&joined[0]).map(|_| ()));
    // Replication factor 4 needs it.
    let mut c = WireClient::connect(addr(&joined[0]));
    let create = Request::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic { name: "wide".into(), partitions: 2, replication_factor: 4, configs: vec![] }],
        timeout_ms: 30_000,
        validate_only: false,
    });
    let Response::CreateTopics(created) = c.call(&create) else { panic!() };
    assert_eq!(created.topics[0].error, ErrorCode::None, "{:?}", created.topics[0].error_message);
    let p = wait_for("4 in-sync replicas", || partition(&joined[0], "wide").filter(|p| p.isr.len() == 4));
    assert_eq!(p.replicas.len(), 4);
    let leader = nodes.iter().chain(&joined).find(|n| Some(n.config.node_id) == p.owner.as_ref().map(|o| o.node_id));
    let leader = leader.unwrap();
    // Each broker adopts the quorum's images on its own: the leader may not
    // have applied this one when the creator answered.
    wait_for("the leader knows the topic", || partition(leader, "wide"));
    let mut to_leader = WireClient::connect(addr(leader));
    let r = produce_result(to_leader.call(&produce("wide", 0, batch("w", 3), Acks::All)));
    assert_eq!((r.error, r.base_offset), (ErrorCode::None, 0), "{:?}", r.error_message);
}
