//! The internal topic `__consumer_offsets`.
//!
//! The broker creates it through the normal admin path (the controller core
//! applies `CreateTopic` and every core opens its partitions) on the first
//! group request, with [`GroupSettings::offsets_partitions`](super::GroupSettings)
//! partitions and no time or size retention: the coordinator deletes what it
//! no longer needs with tombstones. Clients may read it (fetch, list
//! offsets, metadata) but not produce to it, create it, delete it or add
//! partitions to it: its partition count decides which partition, and so
//! which core, holds each group.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::shard::Shard;
use corelog_replication::metadata::cluster::{ClusterMetadata, Command};
use corelog_replication::metadata::config::{FLUSH_POLICY, MAX_MESSAGE_BYTES, RETENTION_BYTES, RETENTION_MS};

use crate::handlers::new_topic_id;

use crate::limits::{OFFSETS_TOPIC_MAX_BATCH_BYTES, OFFSETS_TOPIC_REPLICATION_FACTOR};
use corelog_coordinator::OFFSETS_TOPIC;
use corelog_protocol::{ErrorCode, TopicResult};

/// Whether `name` is a topic only the broker writes.
pub fn is_internal_topic(name: &str) -> bool {
    name == OFFSETS_TOPIC
}

/// The config `__consumer_offsets` is created with.
fn offsets_topic_config() -> BTreeMap<String, String> {
    BTreeMap::from([
        // Kept until the coordinator tombstones it (expired or deleted groups).
        (RETENTION_MS.to_string(), "-1".to_string()),
        (RETENTION_BYTES.to_string(), "-1".to_string()),
        // A commit is answered once it is on disk.
        (FLUSH_POLICY.to_string(), "always".to_string()),
        (MAX_MESSAGE_BYTES.to_string(), OFFSETS_TOPIC_MAX_BATCH_BYTES.to_string()),
    ])
}

/// Makes sure `__consumer_offsets` exists, creating it with `partitions`
/// partitions if not, and returns this core's metadata snapshot (which then
/// has it: the controller answers once every core has applied the change).
pub async fn ensure(shard: &Shard, partitions: u32) -> Result<Arc<ClusterMetadata>, String> {
    let metadata = shard.metadata();
    if metadata.topics.contains_key(OFFSETS_TOPIC) {
        return Ok(metadata);
    }
    // Kafka's offsets.topic.replication.factor is 3; fewer live brokers get
    // as many replicas as there are.
    let live = metadata.brokers.values().filter(|b| !b.fenced).count() as u32;
    let command = Command::CreateTopic {
        name: OFFSETS_TOPIC.to_string(),
        topic_id: new_topic_id(),
        partitions,
        replication_factor: live.clamp(1, OFFSETS_TOPIC_REPLICATION_FACTOR),
        config: offsets_topic_config(),
    };
    match shard.admin(command).await {
        Ok(_) => {
            tracing::info!(core = shard.core, partitions, "created {OFFSETS_TOPIC}");
            Ok(shard.metadata())
        }
        // Another request (or core) created it first.
        Err(e) if e.is_topic_exists() => Ok(shard.metadata()),
        Err(e) => {
            tracing::warn!(core = shard.core, error = %e, "cannot create {OFFSETS_TOPIC}");
            Err(format!("cannot create {OFFSETS_TOPIC}: {e}"))
        }
    }
}

/// Takes the entries naming an internal topic out of a client's
/// create/delete/grow request and returns their answers
/// (`InvalidRequest`) with their positions in the request, for
/// [`restore_rejected`].
pub fn reject_internal<T>(items: &mut Vec<T>, name: impl Fn(&T) -> &str) -> Vec<(usize, TopicResult)> {
    let mut rejected = Vec::new();
    let mut index = 0;
    items.retain(|item| {
        let n = name(item);
        let keep = !is_internal_topic(n);
        if !keep {
            rejected.push((
                index,
                TopicResult {
                    name: n.to_string(),
                    error: ErrorCode::InvalidRequest,
                    error_message: Some(format!("{n} is an internal topic, managed by the broker")),
                },
            ));
        }
        index += 1;
        keep
    });
    rejected
}

/// Puts the answers from [`reject_internal`] back at their request positions.
pub fn restore_rejected(results: &mut Vec<TopicResult>, rejected: Vec<(usize, TopicResult)>) {
    for (index, result) in rejected {
        let at = index.min(results.len());
        results.insert(at, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_entries_are_answered_in_place() {
        let mut names: Vec<String> = ["a", OFFSETS_TOPIC, "b", OFFSETS_TOPIC].iter().map(|s| s.to_string()).collect();
        let rejected = reject_internal(&mut names, |n| n);
        assert_eq!(names, vec!["a".to_string(), "b".to_string()]);
        let mut results: Vec<TopicResult> =
            names.into_iter().map(|name| TopicResult { name, error: ErrorCode::None, error_message: None }).collect();
        restore_rejected(&mut results, rejected);
        let got: Vec<(&str, ErrorCode)> = results.iter().map(|r| (r.name.as_str(), r.error)).collect();
        assert_eq!(
            got,
            vec![
                ("a", ErrorCode::None),
                (OFFSETS_TOPIC, ErrorCode::InvalidRequest),
                ("b", ErrorCode::None),
                (OFFSETS_TOPIC, ErrorCode::InvalidRequest),
            ]
        );
    }

    #[test]
    fn only_the_offsets_topic_is_internal() {
        assert!(is_internal_topic("__consumer_offsets"));
        assert!(!is_internal_topic("__mine"));
        assert!(!is_internal_topic("orders"));
    }
}
