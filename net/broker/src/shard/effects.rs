//! What one broker's cores must do when the cluster metadata changes: the
//! difference between two images, from this node's point of view.
//!
//! The same diff serves every way an image arrives: a single node's own
//! controller applying an admin command, and (in a cluster) the controller
//! quorum's next image. Only partitions this node replicates matter; each
//! effect names the core that carries it out.
//!
//! Lives on: core 0 (computed there), then each effect on its core.

use corelog_replication::metadata::cluster::{ClusterMetadata, PartitionAssignment};
use corelog_replication::metadata::TopicConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// This node became a replica (a new topic or partition, or start-up):
    /// open the log on `core` and take the role `assignment` gives.
    Open {
        topic: String,
        partition: u32,
        core: u32,
        config: TopicConfig,
        assignment: PartitionAssignment,
        min_insync_replicas: u32,
    },
    /// The partition moved to another core of this node: close it here
    /// (its data stays; the directory does not depend on the core).
    Close { topic: String, partition: u32, core: u32 },
    /// The topic was deleted (or this node is no longer a replica): close
    /// the log and delete its data.
    Remove { topic: String, partition: u32, core: u32 },
    /// The topic's log config changed.
    Reconfigure { topic: String, partition: u32, core: u32, config: TopicConfig },
    /// Leader, epochs or ISR changed: take the new role.
    Assign { topic: String, partition: u32, core: u32, assignment: PartitionAssignment, min_insync_replicas: u32 },
}

impl Effect {
    pub fn core(&self) -> u32 {
        match self {
            Effect::Open { core, .. }
            | Effect::Close { core, .. }
            | Effect::Remove { core, .. }
            | Effect::Reconfigure { core, .. }
            | Effect::Assign { core, .. } => *core,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Effect::Open { .. })
    }
}

/// Every partition `node` replicates in `metadata`: (topic, partition) ->
/// (config, assignment), in topic then partition order.
fn replicated_by(
    metadata: &ClusterMetadata,
    node: u32,
) -> impl Iterator<Item = (&str, u32, (&TopicConfig, u32), &PartitionAssignment)> {
    metadata.topics.values().flat_map(move |t| {
        t.partitions
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.replicas.contains(&node))
            .map(move |(p, a)| (t.name.as_str(), p as u32, (&t.config, t.replication.min_insync_replicas), a))
    })
}

/// What `node` must do to go from `old` to `new`. Closes and removes come
/// first, so a partition moving between cores is closed before it reopens.
pub fn diff(old: &ClusterMetadata, new: &ClusterMetadata, node: u32) -> Vec<Effect> {
    type Replicas<'a> = std::collections::BTreeMap<(&'a str, u32), ((&'a TopicConfig, u32), &'a PartitionAssignment)>;
    let before: Replicas = replicated_by(old, node).map(|(t, p, c, a)| ((t, p), (c, a))).collect();
    let after: Replicas = replicated_by(new, node).map(|(t, p, c, a)| ((t, p), (c, a))).collect();
    let mut leaving = Vec::new();
    let mut arriving = Vec::new();
    for (&(topic, partition), &(_, was)) in &before {
        match after.get(&(topic, partition)) {
            None => leaving.push(Effect::Remove { topic: topic.to_string(), partition, core: was.core }),
            Some((_, now)) if now.core != was.core => {
                leaving.push(Effect::Close { topic: topic.to_string(), partition, core: was.core })
            }
            Some(_) => {}
        }
    }
    for (&(topic, partition), &((config, min_insync_replicas), now)) in &after {
        let open = || Effect::Open {
            topic: topic.to_string(),
            partition,
            core: now.core,
            config: config.clone(),
            assignment: now.clone(),
            min_insync_replicas,
        };
        match before.get(&(topic, partition)) {
            None => arriving.push(open()),
            Some((_, was)) if was.core != now.core => arriving.push(open()),
            Some(((old_config, old_min), was)) => {
                if *old_config != config {
                    arriving.push(Effect::Reconfigure {
                        topic: topic.to_string(),
                        partition,
                        core: now.core,
                        config: config.clone(),
                    });
                }
                if *was != now || *old_min != min_insync_replicas {
                    arriving.push(Effect::Assign {
                        topic: topic.to_string(),
                        partition,
                        core: now.core,
                        assignment: now.clone(),
                        min_insync_replicas,
                    });
                }
            }
        }
    }
    leaving.extend(arriving);
    leaving
}

/// Every partition `node` replicates, as opens (at start).
pub fn open_all(metadata: &ClusterMetadata, node: u32) -> Vec<Effect> {
    diff(&ClusterMetadata::default(), metadata, node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_replication::metadata::cluster::{Command, TopicId};

    fn cluster(brokers: u32) -> ClusterMetadata {
        let mut m = ClusterMetadata::default();
        for node in 0..brokers {
            m.apply(Command::RegisterBroker {
                node_id: node,
                incarnation: 1,
                host: "h".into(),
                base_port: 9000 + 10 * node as u16,
                cores: 2,
                kafka: None,
            })
            .unwrap();
            let epoch = m.brokers[&node].broker_epoch;
            m.apply(Command::UnfenceBroker { node_id: node, broker_epoch: epoch }).unwrap();
        }
        m
    }

    fn create(m: &mut ClusterMetadata, name: &str, partitions: u32, rf: u32) {
        let topic_id = TopicId::derived_from_name(name);
        let command =
            Command::CreateTopic { name: name.into(), topic_id, partitions, replication_factor: rf, config: [].into() };
        m.apply(command).unwrap();
    }

    #[test]
    fn a_new_topic_opens_only_what_this_node_replicates() {
        let old = cluster(3);
        let mut new = old.clone();
        create(&mut new, "t", 3, 2);
        for node in 0..3 {
            let effects = diff(&old, &new, node);
            assert_eq!(effects.len(), 2, "each node replicates 2 of 3 partitions at RF 2: {effects:?}");
            assert!(effects.iter().all(Effect::is_open));
        }
        assert_eq!(open_all(&new, 0), diff(&old, &new, 0));
    }

    #[test]
    fn leader_changes_assign_configs_reconfigure_and_deletes_remove() {
        let mut old = cluster(2);
        create(&mut old, "t", 1, 2);
        let mut new = old.clone();
        let epoch = new.brokers[&0].broker_epoch;
        new.apply(Command::FenceBroker { node_id: 0, broker_epoch: epoch }).unwrap();
        let effects = diff(&old, &new, 1);
        assert!(
            matches!(&effects[..], [Effect::Assign { assignment, .. }] if assignment.leader == Some(1)),
            "{effects:?}"
        );

        let mut altered = new.clone();
        let entries = [("retention.ms".to_string(), "5".to_string())].into();
        altered.apply(Command::AlterConfig { name: "t".into(), entries }).unwrap();
        assert!(matches!(&diff(&new, &altered, 1)[..], [Effect::Reconfigure { .. }]));

        let mut deleted = altered.clone();
        deleted.apply(Command::DeleteTopic { name: "t".into() }).unwrap();
        assert!(matches!(&diff(&altered, &deleted, 1)[..], [Effect::Remove { .. }]));
        assert!(diff(&deleted, &deleted, 1).is_empty());
    }
}
