//! What the harness asks a cluster: how many brokers are unfenced, creating
//! a replicated topic and waiting until every replica is in sync, and every
//! replica's log end (from each node's Prometheus endpoint) to see when
//! the followers have caught up with the leader.
//!
//! Lives on: the calling thread; each admin call runs on a short-lived,
//! unpinned glommio executor thread of its own (the client is `!Send`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use corelog_client::{Admin, ClientConfig, ClientError, Cluster};
use corelog_protocol::ErrorCode;
use corelog_runtime::ExecutorConfig;

use crate::metrics::scrape;

/// The gauge every core publishes (once a second) for each partition log it
/// holds, leader or follower.
pub const LOG_END_GAUGE: &str = "corelog_partition_log_end_offset";
/// How long a new replicated topic has to get every replica in sync.
pub const IN_SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two polls of the topic's metadata or the replicas' log ends.
const POLL: Duration = Duration::from_millis(100);

fn on_executor<T: Send + 'static, F: std::future::Future<Output = T> + 'static>(
    main: impl FnOnce() -> F + Send + Clone + 'static,
) -> Result<T, String> {
    let config = ExecutorConfig {
        placement: corelog_runtime::CpuPlacement::Unpinned,
        name: "bench-admin".into(),
        ..ExecutorConfig::default()
    };
    corelog_runtime::spawn_cores(1, &config, move |_| (main.clone())())
        .and_then(|mut handles| handles.remove(0).join())
        .map_err(|e| format!("admin executor: {e}"))
}

fn client() -> ClientConfig {
    ClientConfig { client_id: "corelog-bench-admin".into(), ..ClientConfig::default() }
}

/// Brokers registered and unfenced, as the answering broker knows them.
pub fn unfenced_brokers(bootstrap: &[SocketAddr]) -> Result<usize, String> {
    let bootstrap = bootstrap.to_vec();
    on_executor(move || async move {
        let admin = Admin::connect(&bootstrap, client()).await.map_err(|e| e.to_string())?;
        let cluster = admin.describe_cluster().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(cluster.brokers.iter().filter(|b| !b.fenced).count())
    })?
}

/// One partition's replicas as the metadata has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSet {
    pub partition: u32,
    pub leader: Option<SocketAddr>,
    pub replicas: Vec<u32>,
    pub isr: Vec<u32>,
}

/// Every partition of `topic`, fresh from a broker.
pub fn replica_sets(bootstrap: &[SocketAddr], topic: &str) -> Result<Vec<ReplicaSet>, String> {
    let (bootstrap, topic) = (bootstrap.to_vec(), topic.to_owned());
    on_executor(move || async move {
        let cluster = Cluster::connect(&bootstrap, client()).await.map_err(|e| e.to_string())?;
        cluster.refresh_topics(&[topic.as_str()]).await.map_err(|e| e.to_string())?;
        let info = cluster.topic_metadata(&topic).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(
            info.partitions
                .iter()
                .map(|p| ReplicaSet {
                    partition: p.partition,
                    leader: p.addr.filter(|_| p.error == ErrorCode::None),
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                })
                .collect(),
        )
    })?
}

/// Creates `topic` with `partitions` partitions of `replication_factor`
/// replicas each (an existing topic is kept), then waits until every
/// partition has a leader and all its replicas in the ISR: acks=all then
/// waits for every replica from the first record on.
pub fn ensure_replicated_topic(
    bootstrap: &[SocketAddr],
    topic: &str,
    partitions: u32,
    replication_factor: u16,
    configs: &[(String, String)],
) -> Result<(), String> {
    let (b, t, configs) = (bootstrap.to_vec(), topic.to_owned(), configs.to_vec());
    on_executor(move || async move {
        let admin = Admin::connect(&b, client()).await.map_err(|e| e.to_string())?;
        let configs: Vec<(&str, &str)> = configs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match admin.create_replicated_topic(&t, partitions, replication_factor, &configs).await {
            Ok(()) | Err(ClientError::Broker { code: ErrorCode::TopicAlreadyExists, .. }) => Ok(()),
            Err(e) => Err(format!("creating topic {t:?} with replication factor {replication_factor}: {e}")),
        }
    })??;
    let deadline = Instant::now() + IN_SYNC_TIMEOUT;
    loop {
        let sets = replica_sets(bootstrap, topic);
        if let Ok(sets) = &sets {
            let ready = sets.len() == partitions as usize
                && sets.iter().all(|s| {
                    s.leader.is_some()
                        && s.replicas.len() == replication_factor as usize
                        && s.isr.len() == s.replicas.len()
                });
            if ready {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("topic {topic:?}: replicas not all in sync within {IN_SYNC_TIMEOUT:?} ({sets:?})"));
        }
        std::thread::sleep(POLL);
    }
}

/// `topic`'s log end per partition, one entry per node holding a replica
/// (in `metrics` order), from the gauges in every node's exposition.
/// A node that cannot be scraped is an error: its replicas would be missing.
pub fn log_ends(metrics: &[SocketAddr], topic: &str) -> Result<BTreeMap<u32, Vec<u64>>, String> {
    let mut ends: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for addr in metrics {
        let text = scrape(*addr)?;
        for (partition, end) in parse_log_ends(&text, topic) {
            ends.entry(partition).or_default().push(end);
        }
    }
    Ok(ends)
}

/// `(partition, log end)` of `topic` in one exposition.
pub fn parse_log_ends(text: &str, topic: &str) -> Vec<(u32, u64)> {
    let label = |series: &str, name: &str| -> Option<String> {
        let start = series.find(&format!("{name}=\""))? + name.len() + 2;
        series[start..].split('"').next().map(str::to_owned)
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            if series.split('{').next()? != LOG_END_GAUGE || label(series, "topic")? != topic {
                return None;
            }
            let partition = label(series, "partition")?.parse().ok()?;
            Some((partition, value.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// How the followers of a run's topics caught up after its last ack.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    /// From the call (just after the last ack) until every replica of every
    /// partition showed the same log end; `None`: not within the timeout.
    pub after: Option<Duration>,
    /// The log ends seen last, per topic and partition (one per replica).
    pub ends: Vec<(String, BTreeMap<u32, Vec<u64>>)>,
}

/// Polls every node's log-end gauges until each partition of `topics` has
/// `replicas` replicas showing the same log end, or `timeout`. The gauges
/// are published once a second, so `after` is accurate to about a second.
pub fn wait_converged(
    metrics: &[SocketAddr],
    topics: &[String],
    replicas: usize,
    timeout: Duration,
) -> Result<Convergence, String> {
    let started = Instant::now();
    loop {
        let mut ends = Vec::with_capacity(topics.len());
        for topic in topics {
            ends.push((topic.clone(), log_ends(metrics, topic)?));
        }
        let equal = ends.iter().all(|(_, parts)| {
            !parts.is_empty() && parts.values().all(|e| e.len() == replicas && e.iter().all(|&x| x == e[0]))
        });
        if equal || started.elapsed() >= timeout {
            return Ok(Convergence { after: equal.then(|| started.elapsed()), ends });
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_end_gauges_are_read_per_partition_for_one_topic() {
        let text = "# HELP corelog_partition_log_end_offset Offset the next record gets.\n\
# TYPE corelog_partition_log_end_offset gauge\n\
corelog_partition_log_end_offset{core=\"0\",topic=\"t\",partition=\"0\"} 1200\n\
corelog_partition_log_end_offset{core=\"0\",topic=\"t\",partition=\"2\"} 7\n\
corelog_partition_log_end_offset{core=\"0\",topic=\"tt\",partition=\"1\"} 99\n\
corelog_partition_size_bytes{core=\"0\",topic=\"t\",partition=\"0\"} 4096\n";
        assert_eq!(parse_log_ends(text, "t"), vec![(0, 1200), (2, 7)]);
        assert_eq!(parse_log_ends(text, "tt"), vec![(1, 99)]);
        assert!(parse_log_ends(text, "x").is_empty());
    }
}
