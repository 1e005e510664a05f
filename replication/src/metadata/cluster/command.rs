//! The commands the controller quorum replicates, and the changes applying
//! one tells the brokers about.
//!
//! # Log-entry format
//!
//! A [`Command`] is one Raft log entry: a JSON object (serde_json, compact)
//! whose `"type"` names the command in snake_case, beside the command's own
//! fields. Unknown fields are refused, not ignored: a controller that does not
//! understand an entry must stop rather than apply something else.
//!
//! ```text
//! {"type":"register_broker","node_id":1,"incarnation":42,"host":"b1","base_port":9192,"cores":4}
//! {"type":"register_broker","node_id":2,"incarnation":43,"host":"b2","base_port":9192,"cores":2,
//!  "kafka":{"host":"kafka2.example","base_port":9092}}                 kafka: absent = no Kafka listener
//! {"type":"unfence_broker","node_id":1,"broker_epoch":7}
//! {"type":"fence_broker","node_id":1,"broker_epoch":7}
//! {"type":"create_topic","name":"orders","topic_id":"<32 lowercase hex digits>","partitions":3,
//!  "replication_factor":3,"config":{"min.insync.replicas":"2"}}        config: key -> value, key order
//! {"type":"delete_topic","name":"orders"}
//! {"type":"create_partitions","name":"orders","total":6}
//! {"type":"alter_config","name":"orders","entries":{"retention.ms":"60000"}}
//! {"type":"alter_partition","topic":"orders","partition":0,"leader":1,"leader_epoch":3,
//!  "partition_epoch":5,"new_isr":[1,2]}
//! {"type":"elect_leaders","partitions":[["orders",0]],"kind":"preferred"}   partitions: null = all
//! ```
//!
//! Integers are JSON numbers (u32 or u64, exact); `kind` is "preferred" or
//! "unclean". The golden test below pins these bytes: changing them changes
//! the Raft log format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{KafkaListener, PartitionAssignment, TopicId};

/// A change to the cluster metadata, proposed by the active controller and
/// applied by every controller node. Everything random or timed (the topic id,
/// the incarnation) is carried in the command, so applying it is
/// deterministic. Built on the active controller's core 0, carried by the
/// Raft log to every controller node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// A broker (re)starting. A new incarnation gets a new broker epoch and
    /// starts fenced; the same incarnation again is a no-op.
    RegisterBroker {
        node_id: u32,
        incarnation: u64,
        host: String,
        base_port: u16,
        cores: u32,
        /// Its Kafka listener; left out when None (entries from before
        /// there was one read as None).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kafka: Option<KafkaListener>,
    },
    /// The broker's heartbeat says it has caught up with the metadata.
    UnfenceBroker {
        node_id: u32,
        broker_epoch: u64,
    },
    /// The broker's session expired.
    FenceBroker {
        node_id: u32,
        broker_epoch: u64,
    },
    CreateTopic {
        name: String,
        topic_id: TopicId,
        partitions: u32,
        replication_factor: u32,
        config: BTreeMap<String, String>,
    },
    DeleteTopic {
        name: String,
    },
    /// Grow a topic to `total` partitions.
    CreatePartitions {
        name: String,
        total: u32,
    },
    AlterConfig {
        name: String,
        entries: BTreeMap<String, String>,
    },
    /// Kafka's AlterPartition (KIP-497, KIP-841): the leader asks for a new ISR.
    AlterPartition {
        topic: String,
        partition: u32,
        leader: u32,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: Vec<u32>,
    },
    /// `partitions: None` elects every eligible partition.
    ElectLeaders {
        partitions: Option<Vec<(String, u32)>>,
        kind: ElectionKind,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElectionKind {
    /// Move leadership back to the first replica when it is in sync.
    Preferred,
    /// Give a leaderless partition any live replica, in sync or not.
    Unclean,
}

/// What a broker must do after a command: each broker acts on the changes
/// whose replicas include itself (and every broker on `BrokerChanged`, to
/// refresh its view of the endpoints). Returned by `apply` on the controller
/// core, which sends each broker the ones for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new partition, or a partition whose replicas, core, ISR, leader or
    /// epochs changed: the assignment as it is now.
    PartitionChanged { topic: String, partition: u32, assignment: PartitionAssignment },
    /// The topic was deleted: the replicas drop the partition from `core`.
    PartitionRemoved { topic: String, partition: u32, core: u32, replicas: Vec<u32> },
    /// The topic's log or replication config changed.
    TopicConfigChanged { topic: String },
    /// The broker registered, or was fenced or unfenced.
    BrokerChanged { node_id: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_command() -> Vec<Command> {
        vec![
            Command::RegisterBroker {
                node_id: 1,
                incarnation: 42,
                host: "b1".into(),
                base_port: 9192,
                cores: 4,
                kafka: None,
            },
            Command::RegisterBroker {
                node_id: 2,
                incarnation: 43,
                host: "b2".into(),
                base_port: 9192,
                cores: 2,
                kafka: Some(KafkaListener { host: "kafka2.example".into(), base_port: 9092 }),
            },
            Command::UnfenceBroker { node_id: 1, broker_epoch: 7 },
            Command::FenceBroker { node_id: 1, broker_epoch: 7 },
            Command::CreateTopic {
                name: "orders".into(),
                topic_id: TopicId([0xab; 16]),
                partitions: 3,
                replication_factor: 3,
                config: [("min.insync.replicas".to_string(), "2".to_string())].into(),
            },
            Command::DeleteTopic { name: "orders".into() },
            Command::CreatePartitions { name: "orders".into(), total: 6 },
            Command::AlterConfig {
                name: "orders".into(),
                entries: [("retention.ms".to_string(), "60000".to_string())].into(),
            },
            Command::AlterPartition {
                topic: "orders".into(),
                partition: 0,
                leader: 1,
                leader_epoch: 3,
                partition_epoch: 5,
                new_isr: vec![1, 2],
            },
            Command::ElectLeaders { partitions: Some(vec![("orders".into(), 0)]), kind: ElectionKind::Preferred },
            Command::ElectLeaders { partitions: None, kind: ElectionKind::Unclean },
        ]
    }

    /// The exact log-entry bytes of [`every_command`]: the format the module
    /// docs describe. A change here changes the Raft log format.
    const GOLDEN: [&str; 11] = [
        r#"{"type":"register_broker","node_id":1,"incarnation":42,"host":"b1","base_port":9192,"cores":4}"#,
        r#"{"type":"register_broker","node_id":2,"incarnation":43,"host":"b2","base_port":9192,"cores":2,"kafka":{"host":"kafka2.example","base_port":9092}}"#,
        r#"{"type":"unfence_broker","node_id":1,"broker_epoch":7}"#,
        r#"{"type":"fence_broker","node_id":1,"broker_epoch":7}"#,
        r#"{"type":"create_topic","name":"orders","topic_id":"abababababababababababababababab","partitions":3,"replication_factor":3,"config":{"min.insync.replicas":"2"}}"#,
        r#"{"type":"delete_topic","name":"orders"}"#,
        r#"{"type":"create_partitions","name":"orders","total":6}"#,
        r#"{"type":"alter_config","name":"orders","entries":{"retention.ms":"60000"}}"#,
        r#"{"type":"alter_partition","topic":"orders","partition":0,"leader":1,"leader_epoch":3,"partition_epoch":5,"new_isr":[1,2]}"#,
        r#"{"type":"elect_leaders","partitions":[["orders",0]],"kind":"preferred"}"#,
        r#"{"type":"elect_leaders","partitions":null,"kind":"unclean"}"#,
    ];

    #[test]
    fn commands_have_the_documented_log_entry_format() {
        for (command, golden) in every_command().into_iter().zip(GOLDEN) {
            assert_eq!(serde_json::to_string(&command).unwrap(), golden);
            assert_eq!(serde_json::from_str::<Command>(golden).unwrap(), command);
        }
    }

    #[test]
    fn unknown_commands_fields_and_bad_values_are_refused() {
        for bad in [
            r#"{"type":"rename_topic","name":"orders"}"#,
            r#"{"type":"delete_topic","name":"orders","force":true}"#,
            r#"{"type":"create_partitions","name":"orders","total":-1}"#,
            r#"{"type":"fence_broker","node_id":1}"#,
            r#"{"type":"elect_leaders","partitions":null,"kind":"random"}"#,
            r#"{"type":"create_topic","name":"o","topic_id":"abab","partitions":1,"replication_factor":1,"config":{}}"#,
            r#"{"name":"orders"}"#,
        ] {
            assert!(serde_json::from_str::<Command>(bad).is_err(), "{bad}");
        }
    }
}
