//! A topic's replication settings: the replication factor and the two
//! Kafka topic-config keys that govern its ISR, kept apart from
//! [`TopicConfig`] (the log's settings) so that type and its v1 file layout
//! stay as they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::{MetadataError, TopicConfig};

/// Kafka's `min.insync.replicas`: the ISR size below which `acks=all`
/// produces fail with NotEnoughReplicas.
pub const MIN_INSYNC_REPLICAS: &str = "min.insync.replicas";
/// Kafka's `unclean.leader.election.enable`: "true" lets an out-of-sync
/// replica lead when no ISR member is alive (losing acknowledged records).
pub const UNCLEAN_LEADER_ELECTION_ENABLE: &str = "unclean.leader.election.enable";

/// The keys [`ReplicationConfig`] owns; every other key is a [`TopicConfig`] key.
pub const REPLICATION_KEYS: [&str; 2] = [MIN_INSYNC_REPLICAS, UNCLEAN_LEADER_ELECTION_ENABLE];

/// Part of a [`super::ClusterTopic`]; lives wherever the metadata does (the
/// controller core, and read-only snapshots on the other cores).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationConfig {
    pub replication_factor: u32,
    /// In 1..=replication_factor.
    pub min_insync_replicas: u32,
    pub unclean_leader_election: bool,
}

/// Splits a config map into its replication keys and its [`TopicConfig`] keys.
pub fn split_config(entries: &BTreeMap<String, String>) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    entries.iter().map(|(k, v)| (k.clone(), v.clone())).partition(|(k, _)| REPLICATION_KEYS.contains(&k.as_str()))
}

/// Both halves of a topic's config from a create's (or alter's) map, all or
/// nothing.
pub fn parse_topic_config(
    config: &TopicConfig,
    replication: &ReplicationConfig,
    entries: &BTreeMap<String, String>,
) -> Result<(TopicConfig, ReplicationConfig), MetadataError> {
    let (replication_entries, log_entries) = split_config(entries);
    Ok((config.with(&log_entries)?, replication.with(&replication_entries)?))
}

fn invalid(key: &str, value: &str, why: &str) -> MetadataError {
    MetadataError::InvalidConfig(format!("{key}={value}: {why}"))
}

impl ReplicationConfig {
    /// The defaults for a replication factor: min.insync.replicas 2 when
    /// there are at least 3 replicas (one may fail without refusing acks=all
    /// produces), else 1; no unclean election.
    pub fn defaults(replication_factor: u32) -> ReplicationConfig {
        assert!(replication_factor >= 1, "validated before");
        ReplicationConfig {
            replication_factor,
            min_insync_replicas: if replication_factor >= 3 { 2 } else { 1 },
            unclean_leader_election: false,
        }
    }

    /// Applies replication keys only; any other key is an error.
    pub fn with(&self, entries: &BTreeMap<String, String>) -> Result<ReplicationConfig, MetadataError> {
        let mut next = self.clone();
        for (key, value) in entries {
            match key.as_str() {
                MIN_INSYNC_REPLICAS => {
                    let n = value.trim().parse::<u32>().map_err(|_| invalid(key, value, "expected an integer"))?;
                    if !(1..=self.replication_factor).contains(&n) {
                        return Err(invalid(
                            key,
                            value,
                            &format!("must be in [1, {}] (the replication factor)", self.replication_factor),
                        ));
                    }
                    next.min_insync_replicas = n;
                }
                UNCLEAN_LEADER_ELECTION_ENABLE => {
                    next.unclean_leader_election = match value.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(invalid(key, value, "expected true or false")),
                    }
                }
                _ => return Err(MetadataError::InvalidConfig(format!("{key:?} is not a replication config key"))),
            }
        }
        Ok(next)
    }

    /// Both keys with their current values, as shown by describe.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MIN_INSYNC_REPLICAS.to_string(), self.min_insync_replicas.to_string()),
            (UNCLEAN_LEADER_ELECTION_ENABLE.to_string(), self.unclean_leader_election.to_string()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_follow_the_replication_factor() {
        assert_eq!(ReplicationConfig::defaults(1).min_insync_replicas, 1);
        assert_eq!(ReplicationConfig::defaults(2).min_insync_replicas, 1);
        assert_eq!(ReplicationConfig::defaults(3).min_insync_replicas, 2);
        assert_eq!(ReplicationConfig::defaults(5).min_insync_replicas, 2);
        assert!(!ReplicationConfig::defaults(3).unclean_leader_election);
    }

    #[test]
    fn the_map_splits_into_replication_and_log_keys() {
        let entries =
            map(&[(MIN_INSYNC_REPLICAS, "3"), ("retention.ms", "5"), (UNCLEAN_LEADER_ELECTION_ENABLE, "TRUE")]);
        let (config, replication) =
            parse_topic_config(&TopicConfig::default(), &ReplicationConfig::defaults(3), &entries).unwrap();
        assert_eq!(config.retention_ms, Some(5));
        assert_eq!(
            replication,
            ReplicationConfig { replication_factor: 3, min_insync_replicas: 3, unclean_leader_election: true }
        );
        let again = ReplicationConfig::defaults(3).with(&replication.to_map()).unwrap();
        assert_eq!(again, replication);
    }

    #[test]
    fn bad_values_are_errors() {
        let base = ReplicationConfig::defaults(3);
        for (k, v) in [
            (MIN_INSYNC_REPLICAS, "0"),
            (MIN_INSYNC_REPLICAS, "4"),
            (MIN_INSYNC_REPLICAS, "two"),
            (UNCLEAN_LEADER_ELECTION_ENABLE, "yes"),
        ] {
            assert!(matches!(base.with(&map(&[(k, v)])), Err(MetadataError::InvalidConfig(_))), "{k}={v}");
        }
        assert!(base.with(&map(&[("retention.ms", "1")])).is_err());
        // A bad log key fails the whole map, replication keys included.
        let mixed = map(&[(MIN_INSYNC_REPLICAS, "1"), ("no.such.key", "1")]);
        assert!(parse_topic_config(&TopicConfig::default(), &base, &mixed).is_err());
    }
}
