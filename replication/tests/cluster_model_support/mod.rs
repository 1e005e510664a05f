//! Helpers shared by the cluster_model* tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use corelog_replication::metadata::cluster::{Change, ClusterMetadata, Command, PartitionAssignment, TopicId};

pub fn id(n: u8) -> TopicId {
    TopicId([n; 16])
}

pub fn register_command(node_id: u32, incarnation: u64, cores: u32) -> Command {
    Command::RegisterBroker {
        node_id,
        incarnation,
        host: format!("b{node_id}"),
        base_port: 9000 + node_id as u16 * 100,
        cores,
        kafka: None,
    }
}

/// Registers and unfences a broker; returns its broker epoch.
pub fn join(m: &mut ClusterMetadata, node_id: u32, cores: u32) -> u64 {
    m.apply(register_command(node_id, 1000 + u64::from(node_id), cores)).unwrap();
    let broker_epoch = m.broker(node_id).unwrap().broker_epoch;
    m.apply(Command::UnfenceBroker { node_id, broker_epoch }).unwrap();
    broker_epoch
}

/// A cluster of unfenced brokers 0..n with `cores` cores each.
pub fn cluster(n: u32, cores: u32) -> ClusterMetadata {
    let mut m = ClusterMetadata::default();
    for node in 0..n {
        join(&mut m, node, cores);
    }
    m
}

pub fn create_command(name: &str, partitions: u32, rf: u32, config: &[(&str, &str)]) -> Command {
    Command::CreateTopic {
        name: name.into(),
        topic_id: TopicId::derived_from_name(name),
        partitions,
        replication_factor: rf,
        config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
    }
}

pub fn create(m: &mut ClusterMetadata, name: &str, partitions: u32, rf: u32, config: &[(&str, &str)]) -> Vec<Change> {
    m.apply(create_command(name, partitions, rf, config)).unwrap()
}

pub fn fence(m: &mut ClusterMetadata, node_id: u32) -> Vec<Change> {
    let broker_epoch = m.broker(node_id).unwrap().broker_epoch;
    m.apply(Command::FenceBroker { node_id, broker_epoch }).unwrap()
}

pub fn unfence(m: &mut ClusterMetadata, node_id: u32) -> Vec<Change> {
    let broker_epoch = m.broker(node_id).unwrap().broker_epoch;
    m.apply(Command::UnfenceBroker { node_id, broker_epoch }).unwrap()
}

pub fn part(m: &ClusterMetadata, topic: &str, partition: u32) -> PartitionAssignment {
    m.partition(topic, partition).unwrap().clone()
}

/// The partitions the changes say changed, with their new assignments.
pub fn changed(changes: &[Change]) -> Vec<(String, u32, PartitionAssignment)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::PartitionChanged { topic, partition, assignment } => {
                Some((topic.clone(), *partition, assignment.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Asserts `command` is refused with an error matching `check` and leaves `m` as it was.
pub fn refused(
    m: &mut ClusterMetadata,
    command: Command,
    check: impl Fn(&corelog_replication::metadata::ClusterError) -> bool,
) {
    let before = m.clone();
    let shown = format!("{command:?}");
    match m.apply(command) {
        Err(e) => assert!(check(&e), "{shown}: unexpected error {e:?}"),
        Ok(changes) => panic!("{shown}: accepted with {changes:?}"),
    }
    assert_eq!(*m, before, "{shown}: a refused command changed the state");
}
