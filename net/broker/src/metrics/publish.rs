//! Copies what lives inside a core's `!Send` engine state into that core's
//! metrics, once a second: partition, segment and size gauges, and the
//! deltas of each partition log's counters (fdatasync latencies, rolls,
//! retention deletes, recovery findings) since the last pass, and the
//! core's fd cache (files open, files opened).

use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use crate::shard::{Partition, Shard};
use corelog_storage::log::LogStats;
use corelog_storage::FdCacheStats;
use prometheus_client::metrics::gauge::Gauge;

use super::replication::ReplicationSeen;
use super::{CoreMetrics, PartitionLabels};
use crate::limits::PUBLISH_INTERVAL;

/// Runs forever on the shard's core. `controller_leader` is the quorum's
/// leader as core 0 last saw it.
pub async fn publish(shard: Rc<Shard>, metrics: CoreMetrics, controller_leader: Arc<AtomicI64>) {
    let mut publisher = Publisher::new(metrics);
    let mut replication = ReplicationSeen::default();
    loop {
        {
            // Not held across the sleep: a failed log is reopened only once
            // nothing but the shard holds its partition.
            let partitions = shard.partitions();
            publisher.publish(&partitions);
            replication.publish(&publisher.metrics, &partitions, &controller_leader);
        }
        publisher.publish_fd_cache(shard.fd_cache().stats());
        corelog_runtime::sleep(PUBLISH_INTERVAL).await;
    }
}

/// What the last pass saw of one partition.
struct Seen {
    /// Identifies this very log: a partition deleted and created again under
    /// the same name is a new one. (Holding the `Weak` keeps the address from
    /// being reused.)
    partition: Weak<Partition>,
    stats: LogStats,
    size: Gauge,
    log_end_offset: Gauge,
}

struct Publisher {
    metrics: CoreMetrics,
    seen: HashMap<(String, u32), Seen>,
    /// The fd cache's open count at the last pass.
    fd_cache_opens: u64,
}

impl Publisher {
    fn new(metrics: CoreMetrics) -> Self {
        Publisher { metrics, seen: HashMap::new(), fd_cache_opens: 0 }
    }

    fn labels(&self, topic: &str, partition: u32) -> PartitionLabels {
        PartitionLabels { core: self.metrics.core, topic: topic.to_string(), partition }
    }

    fn publish(&mut self, partitions: &[Rc<Partition>]) {
        let m = &self.metrics;
        let (mut segments, mut bytes) = (0u64, 0u64);
        let mut current = HashMap::with_capacity(partitions.len());
        for p in partitions {
            let key = (p.topic.clone(), p.id);
            let stats = p.log.stats();
            let size = p.log.size_bytes();
            segments += p.log.segment_count() as u64;
            bytes += size;
            let seen = match self.seen.remove(&key) {
                Some(seen) if seen.partition.upgrade().is_some_and(|q| Rc::ptr_eq(&q, p)) => seen,
                _ => {
                    // A log opened since the last pass: its recovery findings
                    // count once, and its counters start from zero.
                    m.recovery_bad_batches.inc_by(stats.recovery.bad_batches);
                    m.recovery_truncated_bytes.inc_by(stats.recovery.truncated_bytes);
                    let labels = self.labels(&p.topic, p.id);
                    Seen {
                        partition: Rc::downgrade(p),
                        stats: LogStats { recovery: stats.recovery.clone(), ..LogStats::default() },
                        size: m.partition_size.get_or_create(&labels).clone(),
                        log_end_offset: m.partition_log_end_offset.get_or_create(&labels).clone(),
                    }
                }
            };
            self.add_deltas(&seen.stats, &stats);
            seen.size.set(clamp_i64(size));
            seen.log_end_offset.set(clamp_i64(p.log.log_end_offset()));
            current.insert(key, Seen { stats, ..seen });
        }
        // Partitions gone (deleted, moved): drop their series.
        for ((topic, id), _) in self.seen.drain() {
            let labels = PartitionLabels { core: m.core, topic, partition: id };
            m.partition_size.remove(&labels);
            m.partition_log_end_offset.remove(&labels);
        }
        self.seen = current;
        m.partitions.set(partitions.len() as i64);
        m.segments.set(clamp_i64(segments));
        m.log_size.set(clamp_i64(bytes));
    }

    fn publish_fd_cache(&mut self, stats: FdCacheStats) {
        self.metrics.fd_cache_open_files.set(stats.open as i64);
        self.metrics.fd_cache_opens.inc_by(stats.opens.saturating_sub(self.fd_cache_opens));
        self.fd_cache_opens = stats.opens;
    }

    /// Adds what the log counted between `old` and `new`.
    fn add_deltas(&self, old: &LogStats, new: &LogStats) {
        let m = &self.metrics;
        m.segments_rolled.inc_by(new.segments_rolled.saturating_sub(old.segments_rolled));
        m.segments_deleted.inc_by(new.segments_deleted.saturating_sub(old.segments_deleted));
        m.segments_recycled.inc_by(new.segments_recycled.saturating_sub(old.segments_recycled));
        m.segments_reused.inc_by(new.segments_reused.saturating_sub(old.segments_reused));
        let (old_h, new_h) = (old.fsync_latency.buckets(), new.fsync_latency.buckets());
        let mut sum = Duration::from_micros(new.fsync_micros_total.saturating_sub(old.fsync_micros_total));
        for (i, (o, n)) in old_h.iter().zip(new_h).enumerate() {
            let delta = n.saturating_sub(*o);
            if delta > 0 {
                // Bucket i here is bucket i there (same bounds); the whole
                // sum goes with the first bucket that moved.
                m.fdatasync_latency.add(i, delta, std::mem::take(&mut sum));
            }
        }
    }
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
