//! The cluster metadata state machine: placement, topics, registrations,
//! queries, sessions, determinism.

mod cluster_model_support;

use cluster_model_support::*;
use corelog_replication::limits::MAX_REPLICATION_FACTOR;
use corelog_replication::metadata::cluster::{
    BrokerLoad, BrokerSessions, Change, ClusterMetadata, Command, ElectionKind, TopicId, MIN_INSYNC_REPLICAS,
    UNCLEAN_LEADER_ELECTION_ENABLE,
};
use corelog_replication::metadata::{ClusterError, MetadataError};

fn replicas(m: &ClusterMetadata, topic: &str) -> Vec<Vec<u32>> {
    m.topic(topic).unwrap().partitions.iter().map(|a| a.replicas.clone()).collect()
}

#[test]
fn placement_rotates_preferred_leaders_over_the_brokers() {
    let mut m = cluster(3, 4);
    let changes = create(&mut m, "t", 3, 3, &[]);
    assert_eq!(replicas(&m, "t"), vec![vec![0, 1, 2], vec![1, 2, 0], vec![2, 0, 1]]);
    // A new partition: every replica in sync, the preferred leader leading, epochs 0.
    let a = part(&m, "t", 1);
    assert_eq!((a.isr.clone(), a.leader, a.leader_epoch, a.partition_epoch), (vec![1, 2, 0], Some(1), 0, 0));
    assert_eq!(changed(&changes).len(), 3, "one PartitionChanged per new partition");
    assert!(changed(&changes)
        .iter()
        .enumerate()
        .all(|(p, (t, pp, a))| t == "t" && *pp == p as u32 && *a == part(&m, "t", p as u32)));
}

#[test]
fn placement_spreads_replicas_and_leaders_evenly_across_topics() {
    let mut m = cluster(5, 4);
    create(&mut m, "a", 5, 2, &[]);
    let loads = m.broker_loads();
    assert!(loads.values().all(|l| *l == BrokerLoad { replicas: 2, leaders: 1, preferred_leaders: 1 }), "{loads:?}");
    // Another topic continues from the load there is: 4 brokers x 3 replicas over 4 partitions.
    let mut m = cluster(4, 4);
    create(&mut m, "a", 1, 1, &[]);
    assert_eq!(replicas(&m, "a"), vec![vec![0]]);
    create(&mut m, "b", 1, 2, &[]);
    assert_eq!(replicas(&m, "b"), vec![vec![1, 2]], "least loaded first, ties by node id");
    create(&mut m, "c", 8, 3, &[]);
    let loads = m.broker_loads();
    let counts: Vec<u32> = loads.values().map(|l| l.replicas).collect();
    assert_eq!(counts.iter().sum::<u32>(), 1 + 2 + 24);
    assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{loads:?}");
    let preferred: Vec<u32> = loads.values().map(|l| l.preferred_leaders).collect();
    assert!(preferred.iter().max().unwrap() - preferred.iter().min().unwrap() <= 1, "{loads:?}");
}

#[test]
fn placement_skips_fenced_brokers() {
    let mut m = cluster(3, 2);
    fence(&mut m, 1);
    create(&mut m, "t", 4, 2, &[]);
    assert!(replicas(&m, "t").iter().all(|r| !r.contains(&1)));
}

#[test]
fn the_core_index_is_the_least_loaded_one_every_replica_has() {
    let mut m = cluster(2, 2);
    create(&mut m, "a", 4, 2, &[]);
    let cores: Vec<u32> = m.topic("a").unwrap().partitions.iter().map(|a| a.core).collect();
    assert_eq!(cores, vec![0, 1, 0, 1]);
    // One broker with one core pins every shared partition to core 0.
    let mut m = ClusterMetadata::default();
    join(&mut m, 0, 4);
    join(&mut m, 1, 1);
    create(&mut m, "a", 3, 2, &[]);
    assert!(m.topic("a").unwrap().partitions.iter().all(|a| a.core == 0));
    // RF 1: each broker's own cores, loaded by what it already holds.
    create(&mut m, "b", 4, 1, &[]);
    let b: Vec<(u32, u32)> = m.topic("b").unwrap().partitions.iter().map(|a| (a.replicas[0], a.core)).collect();
    assert_eq!(b, vec![(0, 1), (1, 0), (0, 2), (1, 0)]);
    // Endpoints: base_port + core.
    let b0 = m.broker(0).unwrap();
    assert_eq!((b0.port_of(0), b0.port_of(3), b0.port_of(4)), (Some(9000), Some(9003), None));
}

#[test]
fn bad_replication_factors_are_refused_with_the_reason() {
    let mut m = cluster(3, 1);
    let rf_error = |why: &'static str| move |e: &ClusterError| matches!(e, ClusterError::InvalidReplicationFactor(m) if m.contains(why));
    refused(&mut m, create_command("t", 1, 0, &[]), rf_error("must be in [1,"));
    refused(&mut m, create_command("t", 1, MAX_REPLICATION_FACTOR + 1, &[]), rf_error("must be in [1,"));
    refused(&mut m, create_command("t", 1, 4, &[]), rf_error("3 available"));
    fence(&mut m, 2);
    refused(&mut m, create_command("t", 1, 3, &[]), rf_error("2 available"));
    unfence(&mut m, 2);
    create(&mut m, "t", 1, 3, &[]);
    fence(&mut m, 0);
    refused(&mut m, Command::CreatePartitions { name: "t".into(), total: 2 }, rf_error("2 available"));
}

#[test]
fn topic_commands_are_refused_for_bad_names_ids_counts_and_configs() {
    let mut m = cluster(3, 1);
    create(&mut m, "t", 2, 3, &[]);
    let dup_id = Command::CreateTopic {
        name: "u".into(),
        topic_id: TopicId::derived_from_name("t"),
        partitions: 1,
        replication_factor: 1,
        config: Default::default(),
    };
    refused(&mut m, dup_id, |e| matches!(e, ClusterError::InvalidTopicId { existing: Some(t), .. } if t == "t"));
    let zero_id = Command::CreateTopic {
        name: "u".into(),
        topic_id: TopicId::ZERO,
        partitions: 1,
        replication_factor: 1,
        config: Default::default(),
    };
    refused(&mut m, zero_id, |e| matches!(e, ClusterError::InvalidTopicId { existing: None, .. }));
    refused(&mut m, create_command("t", 1, 1, &[]), |e| {
        matches!(e, ClusterError::Metadata(MetadataError::TopicExists(_)))
    });
    refused(&mut m, create_command("a/b", 1, 1, &[]), |e| {
        matches!(e, ClusterError::Metadata(MetadataError::InvalidTopicName(_)))
    });
    refused(&mut m, create_command("u", 0, 1, &[]), |e| {
        matches!(e, ClusterError::Metadata(MetadataError::InvalidPartitions(_)))
    });
    for config in [[(MIN_INSYNC_REPLICAS, "4")], [("segment.bytes", "1")], [("no.such.key", "1")]] {
        refused(&mut m, create_command("u", 1, 3, &config), |e| {
            matches!(e, ClusterError::Metadata(MetadataError::InvalidConfig(_)))
        });
    }
    refused(&mut m, Command::CreatePartitions { name: "t".into(), total: 2 }, |e| {
        matches!(e, ClusterError::Metadata(MetadataError::InvalidPartitions(_)))
    });
    refused(&mut m, Command::CreatePartitions { name: "x".into(), total: 2 }, |e| {
        matches!(e, ClusterError::Metadata(MetadataError::UnknownTopic(_)))
    });
    refused(&mut m, Command::DeleteTopic { name: "x".into() }, |e| {
        matches!(e, ClusterError::Metadata(MetadataError::UnknownTopic(_)))
    });
    let alter =
        |k: &str, v: &str| Command::AlterConfig { name: "t".into(), entries: [(k.to_string(), v.to_string())].into() };
    refused(&mut m, alter(MIN_INSYNC_REPLICAS, "0"), |e| {
        matches!(e, ClusterError::Metadata(MetadataError::InvalidConfig(_)))
    });
    refused(&mut m, alter(UNCLEAN_LEADER_ELECTION_ENABLE, "maybe"), |e| {
        matches!(e, ClusterError::Metadata(MetadataError::InvalidConfig(_)))
    });
}

#[test]
fn configs_split_into_the_log_and_replication_halves() {
    let mut m = cluster(3, 1);
    create(&mut m, "d", 1, 3, &[]);
    let d = m.topic("d").unwrap();
    assert_eq!(
        (d.replication.replication_factor, d.replication.min_insync_replicas, d.replication.unclean_leader_election),
        (3, 2, false)
    );
    create(&mut m, "t", 1, 3, &[(MIN_INSYNC_REPLICAS, "3"), ("retention.ms", "5")]);
    let t = m.topic("t").unwrap();
    assert_eq!((t.replication.min_insync_replicas, t.config.retention_ms), (3, Some(5)));
    let version = m.version;
    let entries = [
        (UNCLEAN_LEADER_ELECTION_ENABLE.to_string(), "true".to_string()),
        ("retention.ms".to_string(), "7".to_string()),
    ];
    let changes = m.apply(Command::AlterConfig { name: "t".into(), entries: entries.clone().into() }).unwrap();
    assert_eq!(changes, vec![Change::TopicConfigChanged { topic: "t".into() }]);
    let t = m.topic("t").unwrap();
    assert_eq!((t.replication.unclean_leader_election, t.config.retention_ms, m.version), (true, Some(7), version + 1));
    // The same values again change nothing.
    assert_eq!(m.apply(Command::AlterConfig { name: "t".into(), entries: entries.into() }).unwrap(), vec![]);
    assert_eq!(m.version, version + 1);
}

#[test]
fn grow_and_delete_tell_the_replicas() {
    let mut m = cluster(3, 2);
    create(&mut m, "t", 2, 2, &[]);
    let changes = m.apply(Command::CreatePartitions { name: "t".into(), total: 4 }).unwrap();
    let new: Vec<u32> = changed(&changes).iter().map(|(_, p, _)| *p).collect();
    assert_eq!(new, vec![2, 3]);
    assert_eq!(m.topic("t").unwrap().partitions.len(), 4);
    assert!(m.topic("t").unwrap().partitions.iter().all(|a| a.replicas.len() == 2));
    let before = m.topic("t").unwrap().clone();
    let removed = m.apply(Command::DeleteTopic { name: "t".into() }).unwrap();
    let expected: Vec<Change> = before
        .partitions
        .iter()
        .enumerate()
        .map(|(p, a)| Change::PartitionRemoved {
            topic: "t".into(),
            partition: p as u32,
            core: a.core,
            replicas: a.replicas.clone(),
        })
        .collect();
    assert_eq!(removed, expected);
    assert!(m.topics.is_empty());
}

#[test]
fn registration_gives_a_new_epoch_per_incarnation_and_starts_fenced() {
    let mut m = ClusterMetadata::default();
    let changes = m.apply(register_command(3, 77, 2)).unwrap();
    assert_eq!(changes, vec![Change::BrokerChanged { node_id: 3 }]);
    let b = m.broker(3).unwrap().clone();
    assert_eq!((b.fenced, b.broker_epoch, b.incarnation, b.cores), (true, m.version, 77, 2));
    // A retry is no change at all.
    let version = m.version;
    assert_eq!(m.apply(register_command(3, 77, 2)).unwrap(), vec![]);
    assert_eq!(m.version, version);
    refused(&mut m, register_command(3, 77, 4), |e| matches!(e, ClusterError::InvalidRegistration(_)));
    refused(&mut m, Command::UnfenceBroker { node_id: 3, broker_epoch: b.broker_epoch + 1 }, |e| {
        matches!(e, ClusterError::StaleBrokerEpoch { node_id: 3, .. })
    });
    refused(&mut m, Command::UnfenceBroker { node_id: 4, broker_epoch: 1 }, |e| {
        matches!(e, ClusterError::UnknownBroker(4))
    });
    refused(&mut m, Command::FenceBroker { node_id: 4, broker_epoch: 1 }, |e| {
        matches!(e, ClusterError::UnknownBroker(4))
    });
    unfence(&mut m, 3);
    assert!(!m.broker(3).unwrap().fenced);
    assert_eq!(unfence(&mut m, 3), vec![], "already unfenced");
    // A restart: new incarnation, new epoch, fenced again; the old epoch is stale.
    m.apply(register_command(3, 78, 2)).unwrap();
    let again = m.broker(3).unwrap();
    assert!(again.fenced && again.broker_epoch > b.broker_epoch);
    refused(
        &mut m,
        Command::FenceBroker { node_id: 3, broker_epoch: b.broker_epoch },
        |e| matches!(e, ClusterError::StaleBrokerEpoch { requested, .. } if *requested == b.broker_epoch),
    );
    assert_eq!(fence(&mut m, 3), vec![], "already fenced");
    let bad = |host: &str, base_port: u16, cores: u32| Command::RegisterBroker {
        node_id: 9,
        incarnation: 1,
        host: host.into(),
        base_port,
        cores,
        kafka: None,
    };
    for command in [bad("", 9092, 1), bad("h", 9092, 0), bad("h", 65535, 2), bad(&"h".repeat(256), 1, 1)] {
        refused(&mut m, command, |e| matches!(e, ClusterError::InvalidRegistration(_)));
    }
    refused(
        &mut m,
        Command::RegisterBroker {
            node_id: u32::MAX,
            incarnation: 1,
            host: "h".into(),
            base_port: 1,
            cores: 1,
            kafka: None,
        },
        |e| matches!(e, ClusterError::InvalidRegistration(_)),
    );
}

#[test]
fn a_restart_with_fewer_cores_moves_its_partitions_to_cores_it_has() {
    let mut m = cluster(2, 4);
    create(&mut m, "t", 4, 2, &[]);
    assert_eq!(m.topic("t").unwrap().partitions.iter().map(|a| a.core).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    let before = m.topic("t").unwrap().partitions.clone();
    let changes = m.apply(register_command(1, 5, 2)).unwrap();
    let after = &m.topic("t").unwrap().partitions;
    assert!(after.iter().all(|a| a.core < 2), "{after:?}");
    assert_eq!(after.iter().map(|a| a.core).collect::<Vec<_>>(), vec![0, 1, 0, 1]);
    // Every partition changed (node 1 left every ISR, and two moved core); each is told once.
    assert_eq!(changed(&changes).len(), 4);
    for (b, a) in before.iter().zip(after) {
        assert_eq!((a.leader, a.isr.clone()), (Some(0), vec![0]), "node 1 is fenced by its restart");
        assert!(a.leader_epoch >= b.leader_epoch && a.partition_epoch > b.partition_epoch);
    }
    assert_eq!(m.check_invariants(), Ok(()));
}

#[test]
fn queries_find_led_replicated_under_replicated_and_offline_partitions() {
    let mut m = cluster(3, 1);
    create(&mut m, "t", 3, 2, &[]);
    assert_eq!(replicas(&m, "t"), vec![vec![0, 1], vec![2, 0], vec![1, 2]]);
    let ids = |it: Vec<corelog_replication::metadata::cluster::PartitionRef<'_>>| -> Vec<u32> {
        it.iter().map(|p| p.partition).collect()
    };
    assert_eq!(ids(m.partitions_led_by(0).collect()), vec![0]);
    assert_eq!(ids(m.partitions_replicated_by(0).collect()), vec![0, 1]);
    assert_eq!(m.under_replicated().count(), 0);
    fence(&mut m, 0);
    assert_eq!(m.partitions_led_by(0).count(), 0);
    assert_eq!(ids(m.partitions_replicated_by(0).collect()), vec![0, 1], "a fenced broker still holds its replicas");
    assert_eq!(ids(m.under_replicated().collect()), vec![0, 1]);
    assert_eq!(m.under_min_isr().count(), 0, "min.insync.replicas is 1 for RF 2");
    assert_eq!(m.offline().count(), 0);
    assert_eq!(ids(m.partitions_led_by(1).collect()), vec![0, 2]);
    fence(&mut m, 1);
    assert_eq!(ids(m.offline().collect()), vec![0], "its ISR was [1] alone");
    assert_eq!(ids(m.partitions_led_by(2).collect()), vec![1, 2]);
    assert_eq!(m.broker_loads()[&2], BrokerLoad { replicas: 2, leaders: 2, preferred_leaders: 1 });
    assert_eq!(m.broker_loads()[&1].leaders, 0);
}

#[test]
fn sessions_expire_silent_unfenced_brokers_at_their_current_epoch() {
    let mut m = cluster(3, 1);
    let epoch = |m: &ClusterMetadata, n: u32| m.broker(n).unwrap().broker_epoch;
    let mut sessions = BrokerSessions::new(1_000);
    assert_eq!(sessions.expired(&m, 1_000 + 8_999, 9_000), vec![], "everyone gets a full session from activation");
    sessions.heartbeat(0, epoch(&m, 0), 5_000);
    sessions.heartbeat(1, epoch(&m, 1), 6_000);
    // Node 2 heartbeats with an old epoch: it does not count.
    sessions.heartbeat(2, epoch(&m, 2) - 1, 9_000);
    assert_eq!(sessions.expired(&m, 10_000, 9_000), vec![(2, epoch(&m, 2))]);
    assert_eq!(sessions.expired(&m, 14_000, 9_000), vec![(0, epoch(&m, 0)), (2, epoch(&m, 2))]);
    // A fenced broker is not reported again; an older heartbeat time never wins.
    fence(&mut m, 2);
    sessions.heartbeat(1, epoch(&m, 1), 2_000);
    assert_eq!(sessions.expired(&m, 15_000, 9_000), vec![(0, epoch(&m, 0)), (1, epoch(&m, 1))]);
    // A new active controller forgets and restarts every session.
    sessions.reset(20_000);
    assert_eq!(sessions.expired(&m, 28_000, 9_000), vec![]);
    assert_eq!(sessions.expired(&m, 29_000, 9_000), vec![(0, epoch(&m, 0)), (1, epoch(&m, 1))]);
}

/// A mixed run of commands, failures included.
fn script() -> Vec<Command> {
    let mut commands: Vec<Command> = (0..4).map(|n| register_command(n, 10 + u64::from(n), 2)).collect();
    // Broker epochs are the versions the registrations were applied at: 1..=4.
    commands.extend((0..4).map(|n| Command::UnfenceBroker { node_id: n, broker_epoch: u64::from(n) + 1 }));
    commands.extend([
        create_command("a", 6, 3, &[]),
        create_command("b", 3, 2, &[(UNCLEAN_LEADER_ELECTION_ENABLE, "true")]),
        create_command("bad", 1, 9, &[]),
        Command::FenceBroker { node_id: 1, broker_epoch: 2 },
        Command::CreatePartitions { name: "a".into(), total: 8 },
        Command::FenceBroker { node_id: 2, broker_epoch: 3 },
        Command::UnfenceBroker { node_id: 1, broker_epoch: 2 },
        Command::ElectLeaders { partitions: None, kind: ElectionKind::Preferred },
        register_command(2, 99, 1),
        Command::DeleteTopic { name: "b".into() },
    ]);
    commands
}

#[test]
fn the_same_commands_give_the_same_states_and_changes() {
    let run = || {
        let mut m = ClusterMetadata::default();
        let outcomes: Vec<_> = script().into_iter().map(|c| m.apply(c)).collect();
        (m, outcomes)
    };
    let (a, outcomes_a) = run();
    let (b, outcomes_b) = run();
    assert_eq!(a, b);
    assert_eq!(outcomes_a, outcomes_b);
    assert_eq!(outcomes_a.iter().filter(|o| o.is_err()).count(), 1, "{outcomes_a:?}");
    assert_eq!(a.check_invariants(), Ok(()));
    // Through the log-entry encoding too, as a follower controller sees them.
    let mut c = ClusterMetadata::default();
    for command in script() {
        let entry = serde_json::to_vec(&command).unwrap();
        let _ = c.apply(serde_json::from_slice(&entry).unwrap());
    }
    assert_eq!(c, a);
}

#[test]
fn a_registration_carries_its_kafka_listener() {
    use corelog_replication::metadata::cluster::KafkaListener;
    let mut m = ClusterMetadata::default();
    let with = |incarnation: u64, kafka: Option<KafkaListener>| Command::RegisterBroker {
        node_id: 4,
        incarnation,
        host: "h".into(),
        base_port: 9192,
        cores: 2,
        kafka,
    };
    let listener = KafkaListener { host: "kafka4.example".into(), base_port: 9092 };
    m.apply(with(1, Some(listener.clone()))).unwrap();
    assert_eq!(m.broker(4).unwrap().kafka, Some(listener.clone()));
    assert_eq!(m.apply(with(1, Some(listener.clone()))).unwrap(), vec![], "a retry");
    refused(&mut m, with(1, None), |e| matches!(e, ClusterError::InvalidRegistration(_)));
    for bad in [
        KafkaListener { host: String::new(), base_port: 9092 },
        KafkaListener { host: "h".repeat(256), base_port: 9092 },
        KafkaListener { host: "h".into(), base_port: 65535 },
    ] {
        refused(&mut m, with(2, Some(bad)), |e| matches!(e, ClusterError::InvalidRegistration(_)));
    }
    // A restart without a listener drops it.
    m.apply(with(3, None)).unwrap();
    assert_eq!(m.broker(4).unwrap().kafka, None);
}
