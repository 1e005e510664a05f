use std::time::Duration;

use super::rebalance::StartKey;
use super::*;

#[test]
fn config_is_validated() {
    assert!(GroupConfig::new("g").validate().is_ok());
    assert_eq!(GroupConfig::new("g").effective_heartbeat_interval(), Duration::from_secs(10) / 3);
    let bad = [
        GroupConfig::new(""),
        GroupConfig { assignors: vec![], ..GroupConfig::new("g") },
        GroupConfig { heartbeat_interval: Some(Duration::from_secs(10)), ..GroupConfig::new("g") },
        GroupConfig { session_timeout: Duration::ZERO, ..GroupConfig::new("g") },
        GroupConfig { auto_commit: Some(Duration::ZERO), ..GroupConfig::new("g") },
    ];
    for config in bad {
        assert!(matches!(config.validate(), Err(ClientError::InvalidArgument(_))), "{config:?}");
    }
}

#[test]
fn start_points_order_for_grouping() {
    let mut keys = [
        StartKey(StartAt::Offset(5)),
        StartKey(StartAt::Latest),
        StartKey(StartAt::Offset(2)),
        StartKey(StartAt::Earliest),
    ];
    keys.sort();
    let got: Vec<StartAt> = keys.iter().map(|k| k.0).collect();
    assert_eq!(got, [StartAt::Earliest, StartAt::Latest, StartAt::Offset(2), StartAt::Offset(5)]);
}

#[test]
fn commit_requests_group_partitions_by_topic() {
    let offsets = BTreeMap::from([
        (TopicPartition::new("a", 1), 10),
        (TopicPartition::new("a", 0), 7),
        (TopicPartition::new("b", 3), 1),
    ]);
    let r = commit::commit_request("g", 4, "m-1", &offsets);
    assert_eq!((r.group_id.as_str(), r.generation_id, r.member_id.as_str()), ("g", 4, "m-1"));
    assert_eq!(r.topics.len(), 2);
    assert_eq!(r.topics[0].name, "a");
    let a: Vec<(u32, u64)> = r.topics[0].partitions.iter().map(|p| (p.partition, p.offset)).collect();
    assert_eq!(a, [(0, 7), (1, 10)]);
    assert_eq!(r.topics[1].partitions[0].offset, 1);
}

#[test]
fn rejoin_requests_respect_the_generation() {
    corelog_runtime::run_local(async {
        let cluster = Cluster::new(&["127.0.0.1:1".parse().unwrap()], Default::default()).unwrap();
        let session = Session::new(&cluster, "g");
        session.set_membership("m-1", 3);
        // About another generation: ignored.
        session.request_rejoin(2, Rejoin { reason: "old", lost: false });
        assert_eq!(session.take_rejoin(), None);
        session.generation_failed(2, "old", true);
        assert_eq!(session.membership(), (3, "m-1".to_owned()));
        // About this one.
        session.request_rejoin(3, Rejoin { reason: "rebalance", lost: false });
        session.generation_failed(3, "stale", false);
        let rejoin = session.take_rejoin().expect("a rejoin");
        assert!(rejoin.lost);
        assert_eq!(session.membership(), (NO_GENERATION, "m-1".to_owned()));
        session.set_membership("m-1", 4);
        session.generation_failed(4, "unknown", true);
        assert_eq!(session.membership(), (NO_GENERATION, String::new()));
        // The wake-up is pending for the next poll.
        assert!(corelog_runtime::timeout(Duration::from_millis(50), session.wake().notified()).await.is_some());
    });
}

#[test]
fn commits_without_a_generation_fail_without_a_request() {
    corelog_runtime::run_local(async {
        let cluster = Cluster::new(&["127.0.0.1:1".parse().unwrap()], Default::default()).unwrap();
        let session = Session::new(&cluster, "g");
        let offsets = BTreeMap::from([(TopicPartition::new("t", 0), 1)]);
        let err = commit::commit(&session, &offsets, 0).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::IllegalGeneration));
        assert!(commit::commit(&session, &BTreeMap::new(), 0).await.is_ok());
    });
}

#[test]
fn poll_needs_a_subscription() {
    corelog_runtime::run_local(async {
        let cluster = Cluster::new(&["127.0.0.1:1".parse().unwrap()], Default::default()).unwrap();
        let mut consumer = GroupConsumer::new(&cluster, GroupConfig::new("g")).unwrap();
        assert!(matches!(consumer.poll(Duration::ZERO).await, Err(ClientError::InvalidArgument(_))));
        assert!(consumer.subscribe::<&str>(&[]).is_err());
        assert!(consumer.subscribe(&[""]).is_err());
        consumer.subscribe(&["b", "a", "b"]).unwrap();
        assert_eq!(consumer.subscription(), ["a", "b"]);
        assert!(consumer.seek("a", 0, 1).await.is_err(), "not assigned");
        assert_eq!(consumer.generation(), None);
        assert!(consumer.assignment().is_empty());
    });
}

#[test]
fn a_running_poll_is_never_idle() {
    corelog_runtime::run_local(async {
        let cluster = Cluster::new(&["127.0.0.1:1".parse().unwrap()], Default::default()).unwrap();
        let session = Session::new(&cluster, "g");
        let guard = session.polling();
        corelog_runtime::sleep(Duration::from_millis(20)).await;
        assert_eq!(session.since_poll(), Duration::ZERO);
        drop(guard);
        corelog_runtime::sleep(Duration::from_millis(20)).await;
        assert!(session.since_poll() >= Duration::from_millis(20));
    });
}
