//! Random command sequences against the cluster metadata: after every
//! command the invariants hold, a refusal changed nothing, every change is
//! reported, epochs and the version only grow, and replaying the same
//! commands gives the same states.

use std::collections::BTreeSet;

use proptest::prelude::*;

use corelog_replication::metadata::cluster::{
    Change, ClusterMetadata, Command, ElectionKind, TopicId, MIN_INSYNC_REPLICAS, UNCLEAN_LEADER_ELECTION_ENABLE,
};

const NODES: u32 = 5;
const TOPICS: [&str; 3] = ["a", "b", "c"];

/// What to do, resolved against the state at the time (epochs, leaders), so
/// most commands are valid and some are deliberately not.
#[derive(Debug, Clone)]
enum Op {
    Register { node: u32, incarnation: u64, cores: u32 },
    Unfence { node: u32, stale: bool },
    Fence { node: u32, stale: bool },
    Create { topic: usize, partitions: u32, rf: u32, unclean: bool, reuse_id: bool },
    Delete { topic: usize },
    Grow { topic: usize, extra: u32 },
    Alter { topic: usize, unclean: bool, min_isr: u32 },
    AlterPartition { topic: usize, partition: u32, wrong_sender: Option<u32>, stale: u8, isr_mask: u8 },
    Elect { preferred: bool, target: Option<(usize, u32)> },
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES;
    let topic = 0..TOPICS.len();
    prop_oneof![
        2 => (node.clone(), 0..3u64, prop::bool::weighted(0.05))
            .prop_map(|(node, incarnation, odd)| Op::Register { node, incarnation, cores: cores_of(node, incarnation) + u32::from(odd) }),
        3 => (node.clone(), prop::bool::weighted(0.1)).prop_map(|(node, stale)| Op::Unfence { node, stale }),
        2 => (node.clone(), prop::bool::weighted(0.1)).prop_map(|(node, stale)| Op::Fence { node, stale }),
        3 => (topic.clone(), 1..4u32, prop_oneof![8 => 1..4u32, 1 => 0..6u32], any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(topic, partitions, rf, unclean, reuse_id)| Op::Create { topic, partitions, rf, unclean, reuse_id }),
        1 => topic.clone().prop_map(|topic| Op::Delete { topic }),
        1 => (topic.clone(), 0..3u32).prop_map(|(topic, extra)| Op::Grow { topic, extra }),
        1 => (topic.clone(), any::<bool>(), 0..4u32).prop_map(|(topic, unclean, min_isr)| Op::Alter { topic, unclean, min_isr }),
        6 => (topic.clone(), 0..4u32, prop::option::weighted(0.1, node.clone()), 0..8u8, any::<u8>())
            .prop_map(|(topic, partition, wrong_sender, stale, isr_mask)| Op::AlterPartition { topic, partition, wrong_sender, stale, isr_mask }),
        4 => (any::<bool>(), prop::option::weighted(0.3, (topic, 0..6u32))).prop_map(|(preferred, target)| Op::Elect { preferred, target }),
    ]
}

/// A registration's cores: the same for a retry of one incarnation.
fn cores_of(node: u32, incarnation: u64) -> u32 {
    1 + (node + incarnation as u32) % 3
}

/// Every case starts from brokers 0..4 registered and unfenced.
fn start() -> Vec<Op> {
    (0..4)
        .flat_map(|node| {
            [Op::Register { node, incarnation: 0, cores: cores_of(node, 0) }, Op::Unfence { node, stale: false }]
        })
        .collect()
}

fn epoch_of(m: &ClusterMetadata, node: u32, stale: bool) -> u64 {
    m.brokers.get(&node).map_or(1, |b| b.broker_epoch) + u64::from(stale)
}

fn resolve(m: &ClusterMetadata, op: &Op) -> Command {
    match op.clone() {
        Op::Register { node, incarnation, cores } => Command::RegisterBroker {
            node_id: node,
            incarnation,
            host: format!("h{node}"),
            base_port: 1000,
            cores,
            kafka: None,
        },
        Op::Unfence { node, stale } => Command::UnfenceBroker { node_id: node, broker_epoch: epoch_of(m, node, stale) },
        Op::Fence { node, stale } => Command::FenceBroker { node_id: node, broker_epoch: epoch_of(m, node, stale) },
        Op::Create { topic, partitions, rf, unclean, reuse_id } => {
            let id = if reuse_id { (topic + 1) % TOPICS.len() } else { topic };
            Command::CreateTopic {
                name: TOPICS[topic].into(),
                topic_id: TopicId([id as u8 + 1; 16]),
                partitions,
                replication_factor: rf,
                config: [(UNCLEAN_LEADER_ELECTION_ENABLE.to_string(), unclean.to_string())].into(),
            }
        }
        Op::Delete { topic } => Command::DeleteTopic { name: TOPICS[topic].into() },
        Op::Grow { topic, extra } => {
            let current = m.topics.get(TOPICS[topic]).map_or(1, |t| t.partitions.len() as u32);
            Command::CreatePartitions { name: TOPICS[topic].into(), total: current + extra }
        }
        Op::Alter { topic, unclean, min_isr } => Command::AlterConfig {
            name: TOPICS[topic].into(),
            entries: [
                (UNCLEAN_LEADER_ELECTION_ENABLE.to_string(), unclean.to_string()),
                (MIN_INSYNC_REPLICAS.to_string(), min_isr.to_string()),
            ]
            .into(),
        },
        Op::AlterPartition { topic, partition, wrong_sender, stale, isr_mask } => {
            // An existing topic, when there is one: most requests should reach the epoch and ISR checks.
            let existing: Vec<&str> = m.topics.keys().map(String::as_str).collect();
            let name = if existing.is_empty() { TOPICS[topic] } else { existing[topic % existing.len()] };
            let partitions = m.topics.get(name).map_or(1, |t| t.partitions.len() as u32);
            let partition = if partition == 0 { partitions } else { partition % partitions };
            let Some(a) = m.topics.get(name).and_then(|t| t.partitions.get(partition as usize)) else {
                return Command::AlterPartition {
                    topic: name.into(),
                    partition,
                    leader: 0,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    new_isr: vec![0],
                };
            };
            let leader = wrong_sender.or(a.leader).unwrap_or(0);
            // Half of them: the leader lets every live replica (back) in, as when followers catch up.
            let mut new_isr: Vec<u32> = a
                .replicas
                .iter()
                .enumerate()
                .filter(|(i, r)| if isr_mask & 0x40 != 0 { alive(m, **r) } else { isr_mask & (1 << i) != 0 })
                .map(|(_, r)| *r)
                .collect();
            if isr_mask & 0x80 == 0 && !new_isr.contains(&leader) {
                new_isr.push(leader);
            }
            Command::AlterPartition {
                topic: name.into(),
                partition,
                leader,
                leader_epoch: a.leader_epoch + u32::from(stale == 1),
                partition_epoch: a.partition_epoch.saturating_sub(u32::from(stale == 2)),
                new_isr,
            }
        }
        Op::Elect { preferred, target } => Command::ElectLeaders {
            partitions: target.map(|(t, p)| vec![(TOPICS[t].to_string(), p)]),
            kind: if preferred { ElectionKind::Preferred } else { ElectionKind::Unclean },
        },
    }
}

fn alive(m: &ClusterMetadata, node: u32) -> bool {
    m.brokers.get(&node).is_some_and(|b| !b.fenced)
}

/// Everything that must hold between `before` and `after` given what `apply` returned.
fn check_step(
    before: &ClusterMetadata,
    after: &ClusterMetadata,
    outcome: &Result<Vec<Change>, impl std::fmt::Debug>,
) -> Result<(), TestCaseError> {
    after.check_invariants().map_err(TestCaseError::fail)?;
    let changes = match outcome {
        Err(_) => {
            prop_assert_eq!(after, before, "a refused command changed the state");
            return Ok(());
        }
        Ok(changes) => changes,
    };
    prop_assert_eq!(
        after.version,
        before.version + u64::from(!changes.is_empty()),
        "version moves by one per changing command"
    );
    if changes.is_empty() {
        prop_assert_eq!(after, before, "no changes reported, but the state changed");
    }
    let mut reported = BTreeSet::new();
    let mut removed = BTreeSet::new();
    for change in changes {
        match change {
            Change::PartitionChanged { topic, partition, assignment } => {
                prop_assert_eq!(Some(assignment), after.topics[topic].partitions.get(*partition as usize));
                prop_assert!(
                    reported.insert((topic.clone(), *partition)),
                    "partition {}/{} reported twice",
                    topic,
                    partition
                );
            }
            Change::PartitionRemoved { topic, partition, core, replicas } => {
                let gone = &before.topics[topic].partitions[*partition as usize];
                prop_assert_eq!((&gone.core, &gone.replicas), (core, replicas));
                removed.insert((topic.clone(), *partition));
            }
            Change::TopicConfigChanged { topic } => prop_assert!(after.topics.contains_key(topic)),
            Change::BrokerChanged { node_id } => prop_assert!(after.brokers.contains_key(node_id)),
        }
    }
    for p in after.partitions() {
        let a = p.assignment;
        // A leader is alive, and while a partition has one every ISR member is alive.
        if let Some(leader) = a.leader {
            prop_assert!(
                a.isr.iter().all(|r| alive(after, *r)),
                "{}/{}: {:?} leader {} with a fenced ISR member",
                p.topic.name,
                p.partition,
                a,
                leader
            );
        }
        let key = (p.topic.name.clone(), p.partition);
        let old = before
            .topics
            .get(&p.topic.name)
            .filter(|t| t.topic_id == p.topic.topic_id)
            .and_then(|t| t.partitions.get(p.partition as usize));
        match old {
            Some(old) => {
                prop_assert!(
                    a.leader_epoch >= old.leader_epoch && a.partition_epoch >= old.partition_epoch,
                    "epochs went back: {:?} -> {:?}",
                    old,
                    a
                );
                if a.leader != old.leader {
                    prop_assert!(
                        a.leader_epoch > old.leader_epoch,
                        "leader changed without an epoch: {:?} -> {:?}",
                        old,
                        a
                    );
                }
                if a != old {
                    prop_assert!(
                        a.partition_epoch > old.partition_epoch,
                        "changed without a partition epoch: {:?} -> {:?}",
                        old,
                        a
                    );
                    prop_assert!(reported.contains(&key), "{:?} changed unreported", key);
                }
            }
            None => prop_assert!(reported.contains(&key), "new partition {:?} unreported", key),
        }
    }
    for t in before.topics.values() {
        if after.topics.get(&t.name).is_none_or(|n| n.topic_id != t.topic_id) {
            for p in 0..t.partitions.len() as u32 {
                prop_assert!(removed.contains(&(t.name.clone(), p)), "{}/{} vanished unreported", t.name, p);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant(ops in prop::collection::vec(op(), 1..80)) {
        let mut m = ClusterMetadata::default();
        let mut log = Vec::new();
        for op in start().iter().chain(&ops) {
            let command = resolve(&m, op);
            let before = m.clone();
            let outcome = m.apply(command.clone());
            check_step(&before, &m, &outcome)?;
            log.push((command, outcome));
        }
        // A second controller node replaying the log reaches the same state
        // with the same outcomes.
        let mut replica = ClusterMetadata::default();
        for (command, outcome) in &log {
            prop_assert_eq!(&replica.apply(command.clone()), outcome);
        }
        prop_assert_eq!(replica, m);
    }
}
