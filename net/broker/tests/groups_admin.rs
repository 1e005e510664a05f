//! Group administration against a real broker: delete (only empty groups),
//! describe, list per core, and requests sent to a core that does not
//! coordinate the group.

mod support;

use std::net::SocketAddr;

use corelog_protocol::*;
use support::*;

#[test]
fn only_empty_groups_are_deleted() {
    let broker = TestBroker::start_tuned(1, group_test_config);
    let mut c = coordinator_client(broker.endpoints()[0], "g");
    let joined = join(&mut c, "g", "", 10_000);
    assert_eq!(sync(&mut c, "g", joined.generation_id, &joined.member_id, vec![]).error, ErrorCode::None);
    let r = commit(&mut c, "g", joined.generation_id, &joined.member_id, &[("t", 0, 10)]);
    assert_eq!(r.error, ErrorCode::None);

    let deleted = delete_groups(&mut c, &["g", "nope"]);
    let got: Vec<(&str, ErrorCode)> = deleted.results.iter().map(|r| (r.group_id.as_str(), r.error)).collect();
    assert_eq!(got, vec![("g", ErrorCode::GroupNotEmpty), ("nope", ErrorCode::UnknownGroup)]);
    assert_eq!(committed(&mut c, "g").len(), 1, "a refused delete keeps the offsets");

    assert_eq!(leave(&mut c, "g", &joined.member_id).error, ErrorCode::None);
    let described = describe_groups(&mut c, &["g"]).groups.remove(0);
    assert_eq!((described.state, described.members.len()), (GroupState::Empty, 0));
    assert_eq!(delete_groups(&mut c, &["g"]).results[0].error, ErrorCode::None);
    let gone = describe_groups(&mut c, &["g"]).groups.remove(0);
    assert_eq!((gone.error, gone.state), (ErrorCode::UnknownGroup, GroupState::Dead));
    assert!(committed(&mut c, "g").is_empty());
    assert!(list_groups(&mut c).groups.iter().all(|g| g.group_id != "g"));

    // Deleted for good: the tombstones are replayed too.
    let broker = broker.restart_tuned();
    let mut c = coordinator_client(broker.endpoints()[0], "g");
    assert!(committed(&mut c, "g").is_empty());
    assert_eq!(describe_groups(&mut c, &["g"]).groups[0].error, ErrorCode::UnknownGroup);
}

/// The core (index into `endpoints`) that coordinates `group`.
fn coordinator_core(any: SocketAddr, endpoints: &[SocketAddr], group: &str) -> usize {
    let found = find_coordinator(&mut WireClient::connect(any), group);
    let port = found.coordinator.expect("an endpoint").port;
    endpoints.iter().position(|e| e.port() == port).expect("one of the broker's endpoints")
}

#[test]
fn a_core_that_does_not_coordinate_the_group_says_so() {
    if corelog_runtime::available_cores() < 2 {
        eprintln!("skipped: needs 2 cores");
        return;
    }
    let broker = TestBroker::start_tuned(2, group_test_config);
    let endpoints = broker.endpoints();
    // Every core answers FindCoordinator the same; find a group on each core.
    let names: Vec<String> = (0..64).map(|i| format!("group-{i}")).collect();
    let core_of = |g: &str| coordinator_core(endpoints[1], &endpoints, g);
    let on_0 = names.iter().find(|g| core_of(g) == 0).expect("a group on core 0").clone();
    let on_1 = names.iter().find(|g| core_of(g) == 1).expect("a group on core 1").clone();
    assert_eq!(coordinator_core(endpoints[0], &endpoints, &on_1), 1, "both cores agree");

    let mut core0 = WireClient::connect(endpoints[0]);
    let mut core1 = WireClient::connect(endpoints[1]);
    let wrong = join(&mut core0, &on_1, "", 10_000);
    assert_eq!((wrong.error, wrong.generation_id), (ErrorCode::NotCoordinator, -1));
    assert!(wrong.error_message.unwrap_or_default().contains(&endpoints[1].port().to_string()), "names the owner");
    assert_eq!(heartbeat(&mut core0, &on_1, 1, "m").error, ErrorCode::NotCoordinator);
    let r = commit(&mut core0, &on_1, -1, "", &[("t", 0, 1)]);
    assert_eq!((r.error, r.topics[0].partitions[0].error), (ErrorCode::NotCoordinator, ErrorCode::NotCoordinator));
    let request = Request::OffsetFetch(OffsetFetchRequest { group_id: on_1.clone(), topics: None });
    let Response::OffsetFetch(f) = core0.call(&request) else { panic!() };
    assert_eq!(f.error, ErrorCode::NotCoordinator);

    // Right cores: both groups get members.
    assert_eq!(join(&mut core0, &on_0, "", 10_000).error, ErrorCode::None);
    assert_eq!(join(&mut core1, &on_1, "", 10_000).error, ErrorCode::None);

    // Describe and delete answer per group.
    let described = describe_groups(&mut core0, &[&on_0, &on_1]);
    let got: Vec<ErrorCode> = described.groups.iter().map(|g| g.error).collect();
    assert_eq!(got, vec![ErrorCode::None, ErrorCode::NotCoordinator]);
    let deleted = delete_groups(&mut core1, &[&on_0, &on_1]);
    let got: Vec<ErrorCode> = deleted.results.iter().map(|r| r.error).collect();
    assert_eq!(got, vec![ErrorCode::NotCoordinator, ErrorCode::GroupNotEmpty]);

    // Each core lists its own groups; together they list all.
    let listed0: Vec<String> = list_groups(&mut core0).groups.into_iter().map(|g| g.group_id).collect();
    let listed1: Vec<String> = list_groups(&mut core1).groups.into_iter().map(|g| g.group_id).collect();
    assert_eq!(listed0, vec![on_0.clone()]);
    assert_eq!(listed1, vec![on_1.clone()]);
}
