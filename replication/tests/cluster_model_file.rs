//! The cluster metadata's format-version-2 file and the version-1 migration,
//! through real files.

use std::fs;

use corelog_replication::metadata::cluster::{
    decode, encode, migrate_v1, BrokerRegistration, ClusterMetadata, ClusterStore, ClusterTopic, Command,
    PartitionAssignment, ReplicationConfig, TopicId, CLUSTER_FORMAT_VERSION,
};
use corelog_replication::metadata::store::METADATA_FILE;
use corelog_replication::metadata::{Metadata, MetadataError, MetadataStore, Topic, TopicConfig};

/// Every field set explicitly, so the golden bytes do not move when a
/// default does.
fn config() -> TopicConfig {
    TopicConfig {
        retention_ms: Some(86_400_000),
        retention_bytes: None,
        segment_bytes: 1 << 20,
        segment_ms: 3_600_000,
        flush_interval_ms: Some(250),
        max_message_bytes: 65_536,
    }
}

fn sample() -> ClusterMetadata {
    let broker = BrokerRegistration {
        node_id: 1,
        incarnation: 42,
        host: "b1".into(),
        base_port: 9092,
        cores: 2,
        fenced: false,
        broker_epoch: 3,
        kafka: None,
    };
    let fenced = BrokerRegistration {
        node_id: 2,
        incarnation: 7,
        host: "b2".into(),
        fenced: true,
        broker_epoch: 5,
        ..broker.clone()
    };
    let topic = ClusterTopic {
        name: "orders".into(),
        topic_id: TopicId([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        ]),
        config: config(),
        replication: ReplicationConfig {
            replication_factor: 2,
            min_insync_replicas: 1,
            unclean_leader_election: false,
        },
        partitions: vec![
            PartitionAssignment {
                core: 0,
                replicas: vec![1, 2],
                isr: vec![1],
                leader: Some(1),
                leader_epoch: 4,
                partition_epoch: 6,
            },
            PartitionAssignment {
                core: 1,
                replicas: vec![2, 1],
                isr: vec![2],
                leader: None,
                leader_epoch: 2,
                partition_epoch: 3,
            },
        ],
    };
    ClusterMetadata {
        version: 7,
        brokers: [(1, broker), (2, fenced)].into(),
        topics: [("orders".to_string(), topic)].into(),
    }
}

/// The exact bytes of [`sample`]: the layout file.rs documents. A change
/// here is a change of the file format: bump CLUSTER_FORMAT_VERSION and keep
/// loading this one, don't just update it.
const GOLDEN_V2: &str = r#"{
  "format_version": 2,
  "version": 7,
  "brokers": {
    "1": {
      "node_id": 1,
      "incarnation": 42,
      "host": "b1",
      "base_port": 9092,
      "cores": 2,
      "fenced": false,
      "broker_epoch": 3
    },
    "2": {
      "node_id": 2,
      "incarnation": 7,
      "host": "b2",
      "base_port": 9092,
      "cores": 2,
      "fenced": true,
      "broker_epoch": 5
    }
  },
  "topics": {
    "orders": {
      "name": "orders",
      "topic_id": "0123456789abcdef0123456789abcdef",
      "config": {
        "retention_ms": 86400000,
        "retention_bytes": null,
        "segment_bytes": 1048576,
        "segment_ms": 3600000,
        "flush_interval_ms": 250,
        "max_message_bytes": 65536
      },
      "replication": {
        "replication_factor": 2,
        "min_insync_replicas": 1,
        "unclean_leader_election": false
      },
      "partitions": [
        {
          "core": 0,
          "replicas": [
            1,
            2
          ],
          "isr": [
            1
          ],
          "leader": 1,
          "leader_epoch": 4,
          "partition_epoch": 6
        },
        {
          "core": 1,
          "replicas": [
            2,
            1
          ],
          "isr": [
            2
          ],
          "leader": null,
          "leader_epoch": 2,
          "partition_epoch": 3
        }
      ]
    }
  }
}"#;

#[test]
fn encodes_the_documented_format_version_2() {
    assert_eq!(CLUSTER_FORMAT_VERSION, 2);
    assert_eq!(String::from_utf8(encode(&sample())).unwrap(), GOLDEN_V2);
    assert_eq!(decode(GOLDEN_V2.as_bytes(), "golden"), Ok(sample()));
}

#[test]
fn the_store_saves_and_loads_through_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = ClusterStore::new(dir.path());
    assert_eq!(store.load().unwrap(), ClusterMetadata::default(), "no file yet: empty metadata");
    let mut m = ClusterMetadata::default();
    for node in 0..3 {
        m.apply(Command::RegisterBroker {
            node_id: node,
            incarnation: 9,
            host: "h".into(),
            base_port: 100,
            cores: 2,
            kafka: None,
        })
        .unwrap();
        let broker_epoch = m.broker(node).unwrap().broker_epoch;
        m.apply(Command::UnfenceBroker { node_id: node, broker_epoch }).unwrap();
    }
    let create = Command::CreateTopic {
        name: "t".into(),
        topic_id: TopicId([9; 16]),
        partitions: 4,
        replication_factor: 3,
        config: Default::default(),
    };
    m.apply(create).unwrap();
    store.save(&m).unwrap();
    assert_eq!(store.load().unwrap(), m);
    assert!(!dir.path().join("metadata.json.tmp").exists());
    // The single-node store refuses it: a build that only knows version 1
    // must not read (or rewrite) a cluster file.
    let Err(MetadataError::Storage(message)) = MetadataStore::new(dir.path()).load() else {
        panic!("v1 store read a v2 file")
    };
    assert!(message.contains("format version 2"), "{message}");
}

#[test]
fn a_version_1_file_migrates_to_a_one_node_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = Metadata {
        version: 3,
        topics: [
            ("orders".to_string(), Topic { name: "orders".into(), config: config(), partitions: vec![0, 1, 0] }),
            ("x".to_string(), Topic { name: "x".into(), config: TopicConfig::default(), partitions: vec![1] }),
        ]
        .into(),
    };
    MetadataStore::new(dir.path()).save(&v1).unwrap();
    let m = ClusterStore::new(dir.path()).load().unwrap();
    assert_eq!(m, migrate_v1(&v1));
    assert_eq!(m.version, 3);
    assert!(m.brokers.is_empty(), "node 0 registers on start");
    let orders = m.topic("orders").unwrap();
    assert_eq!(orders.topic_id, TopicId::derived_from_name("orders"));
    assert_ne!(orders.topic_id, m.topic("x").unwrap().topic_id);
    assert_eq!(orders.config, config());
    assert_eq!(
        orders.replication,
        ReplicationConfig { replication_factor: 1, min_insync_replicas: 1, unclean_leader_election: false }
    );
    let expected: Vec<PartitionAssignment> = [0, 1, 0]
        .into_iter()
        .map(|core| PartitionAssignment {
            core,
            replicas: vec![0],
            isr: vec![0],
            leader: Some(0),
            leader_epoch: 0,
            partition_epoch: 0,
        })
        .collect();
    assert_eq!(orders.partitions, expected);
    // Files from before format_version migrate the same way.
    let unversioned =
        fs::read_to_string(dir.path().join(METADATA_FILE)).unwrap().replace("  \"format_version\": 1,\n", "");
    assert!(!unversioned.contains("format_version"));
    assert_eq!(decode(unversioned.as_bytes(), "old"), Ok(m.clone()));

    // Node 0 starts: registering fences it (offline, ISR kept), unfencing re-elects it.
    let mut m = m;
    m.apply(Command::RegisterBroker {
        node_id: 0,
        incarnation: 1,
        host: "h".into(),
        base_port: 9092,
        cores: 2,
        kafka: None,
    })
    .unwrap();
    assert_eq!(m.offline().count(), 4);
    let broker_epoch = m.broker(0).unwrap().broker_epoch;
    m.apply(Command::UnfenceBroker { node_id: 0, broker_epoch }).unwrap();
    assert_eq!(m.offline().count(), 0);
    assert!(m.partitions().all(|p| p.assignment.leader == Some(0) && p.assignment.leader_epoch == 2));
    assert_eq!(m.check_invariants(), Ok(()));
    // A save writes version 2 from then on.
    ClusterStore::new(dir.path()).save(&m).unwrap();
    assert!(fs::read_to_string(dir.path().join(METADATA_FILE)).unwrap().starts_with("{\n  \"format_version\": 2,"));
}

#[test]
fn newer_and_damaged_files_are_refused_naming_the_source() {
    let newer = GOLDEN_V2.replace("\"format_version\": 2", "\"format_version\": 3");
    let Err(MetadataError::Storage(message)) = decode(newer.as_bytes(), "/d/metadata.json") else {
        panic!("read a newer format")
    };
    assert!(
        message.contains("/d/metadata.json") && message.contains("format version 3") && message.contains("up to 2"),
        "{message}"
    );
    let damaged = [
        GOLDEN_V2[..GOLDEN_V2.len() / 2].to_string(),
        String::new(),
        GOLDEN_V2.replace("\"format_version\": 2", "\"format_version\": 0"),
        GOLDEN_V2.replace("\"topic_id\": \"0123456789abcdef0123456789abcdef\"", "\"topic_id\": \"xyz\""),
        // Each breaks one invariant of the state.
        GOLDEN_V2.replace("\"leader\": 1,", "\"leader\": 2,"),
        GOLDEN_V2.replace("\"isr\": [\n            1\n          ],", "\"isr\": [],"),
        GOLDEN_V2.replace(
            "\"replicas\": [\n            1,\n            2\n          ]",
            "\"replicas\": [\n            1,\n            1\n          ]",
        ),
        GOLDEN_V2.replace("\"core\": 1,", "\"core\": 2,"),
        GOLDEN_V2.replace("\"name\": \"orders\",", "\"name\": \"other\","),
        GOLDEN_V2.replace("\"cores\": 2,", "\"cores\": 0,"),
        GOLDEN_V2.replace("\"min_insync_replicas\": 1,", "\"min_insync_replicas\": 3,"),
        GOLDEN_V2.replace("\"partitions\": [", "\"partitions\": [],\"was\": ["),
    ];
    for text in damaged {
        assert_ne!(text, GOLDEN_V2, "the replacement applied");
        let Err(MetadataError::Storage(message)) = decode(text.as_bytes(), "/d/metadata.json") else {
            panic!("read a damaged file: {text}")
        };
        assert!(message.contains("/d/metadata.json") && message.contains("damaged"), "{message}");
    }
}
