//! The broker's metadata as an I/O-free state machine: topics, their
//! partitions, configs and which core owns each partition.
//!
//! `apply(command)` validates, changes the state and returns the effects the
//! shards must carry out (open, remove, reconfigure a partition on a core).
//! The same state machine is what a Raft controller will replicate later.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MetadataError, TopicConfig};
use corelog_protocol::limits::{MAX_PARTITIONS_PER_TOPIC, MAX_TOPIC_NAME_LEN};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    pub config: TopicConfig,
    /// Owning core of each partition; the index is the partition id.
    pub partitions: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Bumped by every change; clients compare versions.
    pub version: u64,
    pub topics: BTreeMap<String, Topic>,
}

/// A change an administrator (or the controller) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateTopic {
        name: String,
        partitions: u32,
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
}

/// What a shard must do after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Open { topic: String, partition: u32, core: u32, config: TopicConfig },
    Remove { topic: String, partition: u32, core: u32 },
    Reconfigure { topic: String, partition: u32, core: u32, config: TopicConfig },
}

/// Kafka's topic-name rule: 1..=249 of `[a-zA-Z0-9._-]`, not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), MetadataError> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if name.is_empty() || name.len() > MAX_TOPIC_NAME_LEN || !ok_chars || name == "." || name == ".." {
        return Err(MetadataError::InvalidTopicName(format!(
            "{name:?}: 1 to {MAX_TOPIC_NAME_LEN} characters of [a-zA-Z0-9._-], not \".\" or \"..\""
        )));
    }
    Ok(())
}

impl Metadata {
    pub fn topic(&self, name: &str) -> Result<&Topic, MetadataError> {
        self.topics.get(name).ok_or_else(|| MetadataError::UnknownTopic(name.to_string()))
    }

    /// Partitions each of `cores` cores owns.
    fn load_per_core(&self, cores: u32) -> Vec<u32> {
        let mut load = vec![0u32; cores as usize];
        for core in self.topics.values().flat_map(|t| t.partitions.iter()) {
            if let Some(n) = load.get_mut(*core as usize) {
                *n += 1;
            }
        }
        load
    }

    /// Picks the least-loaded core (lowest id on ties) and counts the pick.
    fn place(load: &mut [u32]) -> u32 {
        let (core, _) = load.iter().enumerate().min_by_key(|(i, n)| (**n, *i)).expect("at least one core");
        load[core] += 1;
        core as u32
    }

    /// Validates and applies `command` for a broker with `cores` cores.
    pub fn apply(&mut self, command: Command, cores: u32) -> Result<Vec<Effect>, MetadataError> {
        assert!(cores > 0, "a broker has at least one core");
        let effects = match command {
            Command::CreateTopic { name, partitions, config } => {
                validate_topic_name(&name)?;
                if self.topics.contains_key(&name) {
                    return Err(MetadataError::TopicExists(name));
                }
                check_partition_count(partitions)?;
                let config = TopicConfig::default().with(&config)?;
                let mut load = self.load_per_core(cores);
                let placement: Vec<u32> = (0..partitions).map(|_| Self::place(&mut load)).collect();
                let effects = placement
                    .iter()
                    .enumerate()
                    .map(|(p, core)| Effect::Open {
                        topic: name.clone(),
                        partition: p as u32,
                        core: *core,
                        config: config.clone(),
                    })
                    .collect();
                self.topics.insert(name.clone(), Topic { name, config, partitions: placement });
                effects
            }
            Command::DeleteTopic { name } => {
                let topic = self.topics.remove(&name).ok_or_else(|| MetadataError::UnknownTopic(name.clone()))?;
                topic
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(p, core)| Effect::Remove { topic: name.clone(), partition: p as u32, core: *core })
                    .collect()
            }
            Command::CreatePartitions { name, total } => {
                let current = self.topic(&name)?.partitions.len() as u32;
                if total <= current {
                    return Err(MetadataError::InvalidPartitions(format!(
                        "topic {name:?} has {current} partitions; the new count must be larger"
                    )));
                }
                check_partition_count(total)?;
                let mut load = self.load_per_core(cores);
                let topic = self.topics.get_mut(&name).expect("checked above");
                let mut effects = Vec::new();
                for p in current..total {
                    let core = Self::place(&mut load);
                    topic.partitions.push(core);
                    effects.push(Effect::Open {
                        topic: name.clone(),
                        partition: p,
                        core,
                        config: topic.config.clone(),
                    });
                }
                effects
            }
            Command::AlterConfig { name, entries } => {
                let topic = self.topics.get_mut(&name).ok_or_else(|| MetadataError::UnknownTopic(name.clone()))?;
                topic.config = topic.config.with(&entries)?;
                topic
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(p, core)| Effect::Reconfigure {
                        topic: name.clone(),
                        partition: p as u32,
                        core: *core,
                        config: topic.config.clone(),
                    })
                    .collect()
            }
        };
        self.version += 1;
        Ok(effects)
    }

    /// At start: moves partitions owned by cores this broker no longer has
    /// (it was restarted with fewer) to the least-loaded cores, and returns
    /// an `Open` for every partition. Data stays where it is: a partition's
    /// directory does not depend on its core.
    pub fn start_on(&mut self, cores: u32) -> Vec<Effect> {
        let mut load = self.load_per_core(cores);
        let mut moved = false;
        for topic in self.topics.values_mut() {
            for core in topic.partitions.iter_mut() {
                if *core >= cores {
                    *core = Self::place(&mut load);
                    moved = true;
                }
            }
        }
        if moved {
            self.version += 1;
        }
        self.topics
            .values()
            .flat_map(|t| {
                t.partitions.iter().enumerate().map(|(p, core)| Effect::Open {
                    topic: t.name.clone(),
                    partition: p as u32,
                    core: *core,
                    config: t.config.clone(),
                })
            })
            .collect()
    }
}

fn check_partition_count(n: u32) -> Result<(), MetadataError> {
    if n == 0 || n > MAX_PARTITIONS_PER_TOPIC {
        return Err(MetadataError::InvalidPartitions(format!(
            "partition count {n} must be in [1, {MAX_PARTITIONS_PER_TOPIC}]"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(name: &str, partitions: u32) -> Command {
        Command::CreateTopic { name: name.into(), partitions, config: BTreeMap::new() }
    }

    #[test]
    fn create_spreads_partitions_over_the_least_loaded_cores() {
        let mut m = Metadata::default();
        let effects = m.apply(create("a", 3), 2).unwrap();
        let cores: Vec<u32> =
            effects.iter().map(|e| if let Effect::Open { core, .. } = e { *core } else { 99 }).collect();
        assert_eq!(cores, vec![0, 1, 0]);
        m.apply(create("b", 1), 2).unwrap();
        assert_eq!(m.topic("b").unwrap().partitions, vec![1]);
        assert_eq!(m.version, 2);
    }

    #[test]
    fn errors_leave_the_state_unchanged() {
        let mut m = Metadata::default();
        m.apply(create("a", 2), 2).unwrap();
        let before = m.clone();
        assert!(matches!(m.apply(create("a", 1), 2), Err(MetadataError::TopicExists(_))));
        assert!(matches!(m.apply(create("bad/name", 1), 2), Err(MetadataError::InvalidTopicName(_))));
        assert!(matches!(m.apply(create("z", 0), 2), Err(MetadataError::InvalidPartitions(_))));
        assert!(matches!(
            m.apply(Command::DeleteTopic { name: "nope".into() }, 2),
            Err(MetadataError::UnknownTopic(_))
        ));
        let bad_config = Command::CreateTopic {
            name: "c".into(),
            partitions: 1,
            config: [("segment.bytes".to_string(), "x".to_string())].into(),
        };
        assert!(matches!(m.apply(bad_config, 2), Err(MetadataError::InvalidConfig(_))));
        assert!(matches!(
            m.apply(Command::CreatePartitions { name: "a".into(), total: 2 }, 2),
            Err(MetadataError::InvalidPartitions(_))
        ));
        assert_eq!(m, before);
    }

    #[test]
    fn add_partitions_delete_and_alter_emit_effects_for_every_partition() {
        let mut m = Metadata::default();
        m.apply(create("a", 2), 2).unwrap();
        let added = m.apply(Command::CreatePartitions { name: "a".into(), total: 4 }, 2).unwrap();
        assert_eq!(added.len(), 2);
        let altered = m
            .apply(
                Command::AlterConfig {
                    name: "a".into(),
                    entries: [("retention.ms".to_string(), "5".to_string())].into(),
                },
                2,
            )
            .unwrap();
        assert_eq!(altered.len(), 4);
        assert_eq!(m.topic("a").unwrap().config.retention_ms, Some(5));
        let removed = m.apply(Command::DeleteTopic { name: "a".into() }, 2).unwrap();
        assert_eq!(removed.len(), 4);
        assert!(m.topics.is_empty());
    }

    #[test]
    fn start_moves_partitions_off_missing_cores() {
        let mut m = Metadata::default();
        m.apply(create("a", 4), 4).unwrap();
        let opens = m.start_on(2);
        assert_eq!(opens.len(), 4);
        assert!(m.topic("a").unwrap().partitions.iter().all(|c| *c < 2));
    }
}
