//! Opening many partitions of a core at once (a start, a topic created
//! with many partitions).
//!
//! A partition's open is a handful of small dependent I/Os (its directory
//! and files, the leader-epoch file, the index, a scan of the segment's
//! tail); one partition at a time, the device idles between their round
//! trips: 10,000 partitions took 12 s to start on the development machine.
//! Several opens in flight overlap them, in the order the metadata lists
//! the partitions (the results come back in that order).
//!
//! Lives on: the core that owns the partitions.

use std::rc::Rc;

use futures::StreamExt;

use super::effects::Effect;
use super::partition::Partition;
use super::state::Shard;
use crate::limits::PARTITION_OPENS_IN_FLIGHT;
use corelog_storage::LogError;

/// A partition an `Effect::Open` asks this core to open (topic, id), and
/// how it went.
pub(super) type Opened<'a> = (&'a str, u32, Result<Rc<Partition>, LogError>);

impl Shard {
    /// Opens the partitions of `effects` (`Effect::Open`s for this core;
    /// others are skipped), at most [`PARTITION_OPENS_IN_FLIGHT`] at a time;
    /// the outcomes in `effects`' order.
    pub(super) async fn open_partitions<'a>(&self, effects: impl IntoIterator<Item = &'a Effect>) -> Vec<Opened<'a>> {
        futures::stream::iter(effects)
            .filter_map(|effect| async move {
                let Effect::Open { topic, partition, core, config, assignment, min_insync_replicas } = effect else {
                    return None;
                };
                if *core != self.core {
                    return None;
                }
                Some(async move {
                    let opened = self.open_partition(topic, *partition, config, assignment, *min_insync_replicas).await;
                    (topic.as_str(), *partition, opened)
                })
            })
            .buffered(PARTITION_OPENS_IN_FLIGHT)
            .collect()
            .await
    }
}
