//! The controller quorum over real sockets and real log directories: each
//! controller node on a thread with its own executor.

mod controller_support;

use std::time::Duration;

use controller_support::*;
use corelog_broker::cluster::BrokerEndpoint;
use corelog_protocol::{ControllerWriteRequest, ErrorCode, RaftMessageRequest, Request, Response};
use corelog_replication::controller::codec;
use corelog_replication::controller::eraftpb::{Message, MessageType};
use corelog_replication::metadata::cluster::{Command, TopicId};

const ELECTION: Duration = Duration::from_secs(15);

fn register(node_id: u32, incarnation: u64) -> Command {
    Command::RegisterBroker { node_id, incarnation, host: "127.0.0.1".into(), base_port: 9000, cores: 1, kafka: None }
}

fn create_topic(name: &str) -> Command {
    Command::CreateTopic {
        name: name.into(),
        topic_id: TopicId::derived_from_name(name),
        partitions: 1,
        replication_factor: 1,
        config: Default::default(),
    }
}

type Quorum = (Vec<tempfile::TempDir>, Vec<ControllerNode>, Vec<corelog_broker::cluster::ControllerPeer>);

fn start_quorum(ids: &[u32]) -> Quorum {
    start_quorum_with(ids, |_| {})
}

fn start_quorum_with(ids: &[u32], adjust: impl Fn(&mut corelog_broker::cluster::ClusterSettings)) -> Quorum {
    let peers = controllers(ids);
    let dirs: Vec<tempfile::TempDir> = ids.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = ids
        .iter()
        .zip(&dirs)
        .map(|(&id, d)| {
            let mut s = settings(id, &peers);
            adjust(&mut s);
            ControllerNode::start(s, d.path())
        })
        .collect();
    (dirs, nodes, peers)
}

#[test]
fn three_controllers_elect_one_leader_and_a_write_to_a_follower_is_forwarded() {
    let (_dirs, nodes, peers) = start_quorum(&[1, 2, 3]);
    let leader = agreed_leader(&nodes.iter().collect::<Vec<_>>(), ELECTION);
    let follower = nodes.iter().find(|n| n.node_id != leader).unwrap();

    // A follower names the leader.
    let mut wire = WireClient::connect(follower.addr);
    let command = serde_json::to_vec(&register(7, 1)).unwrap();
    let Response::ControllerWrite(r) = wire.call(&Request::ControllerWrite(ControllerWriteRequest { command })) else {
        panic!()
    };
    assert_eq!((r.error, r.leader), (ErrorCode::NotController, Some(leader)));

    // A client that asks the follower first follows that hint.
    let mut order = peers.clone();
    order.sort_by_key(|p| p.node_id != follower.node_id);
    let client = ClientThread::start(order);
    let epoch = client.write(register(7, 1)).unwrap();
    assert!(epoch >= 1);
    // Fenced until a heartbeat says it has caught up with its registration.
    let hb = client.heartbeat(7, epoch, epoch).unwrap();
    assert!(hb.fenced);
    wait_until("broker 7 unfenced", ELECTION, || {
        !nodes.iter().find(|n| n.node_id == leader).unwrap().status().metadata.brokers[&7].fenced
    });
    let version = client.write(create_topic("orders")).unwrap();
    assert!(version > epoch);
    assert_eq!(client.write(create_topic("orders")).unwrap_err().0, ErrorCode::TopicAlreadyExists);
    assert_eq!(client.heartbeat(7, epoch + 100, version).unwrap_err().0, ErrorCode::StaleBrokerEpoch);

    let (v, image) = client.metadata_update(0, Duration::from_secs(1)).unwrap().expect("an image newer than 0");
    assert!(v >= version);
    assert_eq!(image.version, v);
    assert_eq!(image.topic("orders").unwrap().partitions[0].replicas, vec![7]);
    // Every controller applies the same commands.
    for node in &nodes {
        wait_until("a follower caught up", ELECTION, || node.status().metadata.version >= version);
        assert!(node.status().metadata.topics.contains_key("orders"));
    }
}

#[test]
fn an_agent_is_unfenced_gets_updates_and_is_fenced_once_it_stops() {
    let (_dirs, nodes, peers) = start_quorum(&[0]);
    agreed_leader(&[&nodes[0]], ELECTION);
    let endpoint = BrokerEndpoint { host: "127.0.0.1".into(), base_port: 9100, cores: 2, kafka: None };
    let agent = AgentThread::start(settings(5, &peers), endpoint);
    let unfenced = loop {
        let image = agent.images.recv_timeout(ELECTION).expect("an image");
        if image.brokers.get(&5).is_some_and(|b| !b.fenced) {
            break image;
        }
    };
    assert_eq!(unfenced.brokers[&5].cores, 2);
    // Another change reaches the agent.
    let client = ClientThread::start(peers.clone());
    client.write(create_topic("events")).unwrap();
    loop {
        let image = agent.images.recv_timeout(ELECTION).expect("the topic's image");
        if image.topics.contains_key("events") {
            break;
        }
    }
    // A new incarnation while the session is live is refused.
    let duplicate = client.write(register(5, 12345)).unwrap_err();
    assert_eq!(duplicate.0, ErrorCode::InvalidRequest);
    assert!(duplicate.1.contains("duplicate broker registration"), "{}", duplicate.1);

    agent.stop();
    wait_until("broker 5 fenced after its session timeout", ELECTION, || nodes[0].status().metadata.brokers[&5].fenced);
    // Once expired, a new incarnation may register.
    assert!(client.write(register(5, 12345)).is_ok());
}

#[test]
fn a_new_leader_takes_over_and_a_restarted_node_catches_up() {
    // Snapshots every few entries: the restarted node is behind the
    // leader's compacted log and catches up from its snapshot.
    let (_dirs, mut nodes, peers) = start_quorum_with(&[1, 2, 3], |s| s.snapshot_interval = 3);
    let client = ClientThread::start(peers.clone());
    agreed_leader(&nodes.iter().collect::<Vec<_>>(), ELECTION);
    client.write(register(10, 1)).unwrap();
    let old = agreed_leader(&nodes.iter().collect::<Vec<_>>(), ELECTION);
    let index = nodes.iter().position(|n| n.node_id == old).unwrap();
    let stopped = nodes.remove(index);
    let dir = stopped.dir.clone();
    stopped.stop();

    let new = agreed_leader(&nodes.iter().collect::<Vec<_>>(), ELECTION);
    assert_ne!(new, old);
    let mut version = 0;
    for node in 11..20 {
        version = client.write(register(node, 1)).unwrap();
    }

    let mut again = settings(old, &peers);
    again.snapshot_interval = 3;
    let restarted = ControllerNode::start(again, &dir);
    let leader = nodes.iter().find(|n| n.node_id == new).unwrap();
    wait_until("the restarted node caught up", ELECTION, || restarted.status().metadata.version >= version);
    assert_eq!(restarted.status().metadata, leader.status().metadata);
    // The leader took snapshots of its metadata and compacted its log.
    assert!(leader.dir.join("controller").join("snapshot").exists());
    assert!(!restarted.status().is_leader);
    assert_eq!(restarted.status().leader, Some(new));
}

#[test]
fn bad_input_on_the_controller_port_is_refused_and_the_service_goes_on() {
    let (_dirs, nodes, peers) = start_quorum(&[4]);
    agreed_leader(&[&nodes[0]], ELECTION);
    let addr = nodes[0].addr;
    use std::io::Write;

    let mut garbage = WireClient::connect(addr);
    garbage.stream.write_all(&[0x5a; 64]).unwrap();
    assert!(garbage.closed_by_peer(), "garbage closes the connection");

    let mut oversized = WireClient::connect(addr);
    let frame = corelog_protocol::encode_request(1, &Request::RaftMessage(RaftMessageRequest { message: vec![] }))
        .unwrap()
        .to_contiguous();
    let mut header = frame[..32].to_vec();
    header[..4].copy_from_slice(&(1u32 << 30).to_le_bytes());
    oversized.stream.write_all(&header).unwrap();
    assert!(oversized.closed_by_peer(), "an oversized frame closes the connection");

    let mut wire = WireClient::connect(addr);
    let Response::RaftMessage(r) = wire.call(&Request::RaftMessage(RaftMessageRequest { message: vec![0xff; 16] }))
    else {
        panic!()
    };
    assert_eq!(r.error, ErrorCode::InvalidRequest);
    let mut elsewhere = Message::default();
    elsewhere.set_msg_type(MessageType::MsgHeartbeat);
    elsewhere.to = 77;
    elsewhere.from = 2;
    let message = codec::encode(&elsewhere).unwrap();
    let Response::RaftMessage(r) = wire.call(&Request::RaftMessage(RaftMessageRequest { message })) else { panic!() };
    assert_eq!(r.error, ErrorCode::InvalidRequest);
    assert!(r.error_message.unwrap().contains("raft id 77"));
    let command = b"{not json".to_vec();
    let Response::ControllerWrite(r) = wire.call(&Request::ControllerWrite(ControllerWriteRequest { command })) else {
        panic!()
    };
    assert_eq!(r.error, ErrorCode::InvalidRequest);
    // A client api on the controller port.
    let refused = wire.call(&Request::Metadata(corelog_protocol::MetadataRequest { topics: None }));
    assert_eq!(refused.error(), ErrorCode::UnsupportedApi);

    let client = ClientThread::start(peers);
    assert!(client.write(register(1, 1)).is_ok());
    assert!(nodes[0].status().failure.is_none());
}

#[test]
fn a_single_controller_quorum_works_alone() {
    let (_dirs, nodes, peers) = start_quorum(&[0]);
    let client = ClientThread::start(peers);
    let epoch = client.write(register(3, 9)).unwrap();
    // The same incarnation again is a no-op at the same version.
    assert_eq!(client.write(register(3, 9)).unwrap(), epoch);
    let (v, image) = client.metadata_update(0, Duration::ZERO).unwrap().unwrap();
    assert_eq!((v, image.brokers[&3].broker_epoch), (epoch, epoch));
    // Nothing newer: the long poll waits, then answers with no image.
    let started = std::time::Instant::now();
    assert!(client.metadata_update(v, Duration::from_millis(300)).unwrap().is_none());
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(nodes[0].status().is_leader);
}
