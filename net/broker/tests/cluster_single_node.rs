//! A broker started without `--controllers` is a one-node cluster: the
//! cluster apis answer for it over real sockets, and the controller apis are
//! refused on its client endpoints (they belong on a controller port).

mod support;

use corelog_protocol::*;
use support::*;

#[test]
fn metadata_names_the_node_as_only_replica_leader_and_controller() {
    let broker = TestBroker::start(2);
    let mut c = WireClient::connect(broker.endpoints()[1]);
    create_topic(&mut c, "t", 3);
    let Response::Metadata(m) = c.call(&Request::Metadata(MetadataRequest { topics: None })) else { panic!() };
    assert_eq!(m.controller_id, Some(0));
    let t = m.topics.iter().find(|t| t.name == "t").unwrap();
    assert_eq!(t.partitions.len(), 3);
    for p in &t.partitions {
        assert_eq!((p.replicas.as_slice(), p.isr.as_slice()), (&[0][..], &[0][..]));
        assert_eq!(p.owner.as_ref().map(|o| o.node_id), Some(0));
    }
}

#[test]
fn describe_cluster_lists_this_broker_as_controller_and_only_broker() {
    let broker = TestBroker::start(2);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    create_topic(&mut c, "t", 1);
    let Response::DescribeCluster(d) = c.call(&Request::DescribeCluster(DescribeClusterRequest {})) else { panic!() };
    assert_eq!(d.error, ErrorCode::None);
    assert_eq!((d.controller_leader, d.controllers.as_slice()), (Some(0), &[0][..]));
    assert!(d.metadata_version >= 1, "the topic creation bumped the version");
    assert_eq!(d.brokers.len(), 1);
    let b = &d.brokers[0];
    assert_eq!((b.node_id, b.cores, b.fenced), (0, 2, false));
    assert!(b.broker_epoch >= 1, "registered at start");
    assert_eq!(b.base_port, broker.endpoints()[0].port());
}

#[test]
fn preferred_election_is_not_needed_and_unknown_partitions_are_named() {
    let broker = TestBroker::start(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    create_topic(&mut c, "t", 2);
    let request = Request::ElectLeaders(ElectLeadersRequest {
        kind: ElectionKind::Preferred,
        topics: Some(vec![
            ElectTopic { name: "t".into(), partitions: vec![0, 1, 2] },
            ElectTopic { name: "nope".into(), partitions: vec![0] },
        ]),
    });
    let Response::ElectLeaders(r) = c.call(&request) else { panic!() };
    let codes: Vec<Vec<ErrorCode>> = r.topics.iter().map(|t| t.partitions.iter().map(|p| p.error).collect()).collect();
    assert_eq!(
        codes,
        vec![
            vec![ErrorCode::ElectionNotNeeded, ErrorCode::ElectionNotNeeded, ErrorCode::UnknownPartition],
            vec![ErrorCode::UnknownTopic]
        ]
    );
    assert_eq!(r.topics[0].partitions[0].leader, Some(0));
}

#[test]
fn controller_apis_are_refused_on_client_endpoints_and_the_connection_goes_on() {
    let broker = TestBroker::start(1);
    let mut c = WireClient::connect(broker.endpoints()[0]);
    let requests = [
        Request::ControllerWrite(ControllerWriteRequest { command: b"{}".to_vec() }),
        Request::BrokerHeartbeat(BrokerHeartbeatRequest { node_id: 1, broker_epoch: 1, applied_version: 0 }),
        Request::MetadataUpdate(MetadataUpdateRequest { node_id: 1, have_version: 0, max_wait_ms: 0 }),
        Request::RaftMessage(RaftMessageRequest { message: vec![1, 2, 3] }),
    ];
    for request in &requests {
        let response = c.call(request);
        assert_eq!(response.error(), ErrorCode::NotController, "{:?}", request.api_key());
    }
    assert_eq!(create_topic(&mut c, "after", 1).topics[0].error, ErrorCode::None);
}
