//! Broker metrics in the Prometheus text format, labelled by core.
//!
//! One [`BrokerMetrics`] per broker holds the registry (metric families with
//! a `core` label). Each core looks its handles up once, at start, into a
//! [`CoreMetrics`] that lives in that core's `ServerContext`; the data path
//! then only bumps atomics that the core alone writes (no locks, no
//! cross-core traffic per request). What lives inside the `!Send` engine
//! state (partitions, segments, sizes, fdatasync latencies, recovery
//! counts) is copied out by each core once a second ([`publish`]). A plain
//! std thread serves the scrape ([`http`]), off the cores.
//!
//! Lives on: `BrokerMetrics` and the scrape thread are shared by all cores;
//! a `CoreMetrics` is used by its own core (and read by the scrape thread).
//! `docs/metrics.md` lists every metric.

pub mod histogram;
pub mod http;
pub mod publish;
mod replication;

use std::time::Duration;

use corelog_format::{BatchHeader, HEADER_LEN};
use corelog_storage::log::{MicrosHistogram, MICROS_HISTOGRAM_BUCKETS};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use corelog_protocol::{ErrorCode, FetchResponse};
use histogram::AtomicHistogram;

/// Every metric name starts with this and an underscore.
pub const PREFIX: &str = "corelog";

/// The label of every per-core series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CoreLabel {
    pub core: u32,
}

/// The labels of a per-partition series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub core: u32,
    pub topic: String,
    pub partition: u32,
}

type Counters = Family<CoreLabel, Counter>;
type Gauges = Family<CoreLabel, Gauge>;
type Histograms = Family<CoreLabel, AtomicHistogram, fn() -> AtomicHistogram>;
type PartitionGauges = Family<PartitionLabels, Gauge>;
type ReplicaGauges = Family<ReplicaLabels, Gauge>;

/// The labels of a per-follower series of a partition this core leads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplicaLabels {
    pub core: u32,
    pub topic: String,
    pub partition: u32,
    pub replica: u32,
}

/// The fdatasync histogram's bounds: the engine's log2 buckets, in seconds.
fn fsync_histogram() -> AtomicHistogram {
    AtomicHistogram::new(
        (0..MICROS_HISTOGRAM_BUCKETS).filter_map(MicrosHistogram::upper_bound_micros).map(|us| us as f64 / 1e6),
    )
}

/// The broker's metric families and the registry that renders them.
#[derive(Debug)]
pub struct BrokerMetrics {
    registry: Registry,
    produce_requests: Counters,
    produce_errors: Counters,
    bytes_in: Counters,
    records_in: Counters,
    produce_latency: Histograms,
    fetch_requests: Counters,
    fetch_errors: Counters,
    bytes_out: Counters,
    records_out: Counters,
    fetch_latency: Histograms,
    fdatasync_latency: Histograms,
    connections: Gauges,
    connections_accepted: Counters,
    partitions: Gauges,
    segments: Gauges,
    log_size: Gauges,
    segments_rolled: Counters,
    segments_deleted: Counters,
    segments_recycled: Counters,
    segments_reused: Counters,
    recovery_bad_batches: Counters,
    recovery_truncated_bytes: Counters,
    corrupt_batches: Counters,
    fd_cache_open_files: Gauges,
    fd_cache_opens: Counters,
    partition_size: PartitionGauges,
    partition_log_end_offset: PartitionGauges,
    leader_partitions: Gauges,
    under_replicated_partitions: Gauges,
    under_min_isr_partitions: Gauges,
    isr_shrinks: Counters,
    isr_expands: Counters,
    replication_lag: ReplicaGauges,
    controller_leader: Gauges,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl BrokerMetrics {
    pub fn new() -> Self {
        let latency: fn() -> AtomicHistogram = AtomicHistogram::latency;
        let fsync: fn() -> AtomicHistogram = fsync_histogram;
        let m = BrokerMetrics {
            registry: Registry::with_prefix(PREFIX),
            produce_requests: Counters::default(),
            produce_errors: Counters::default(),
            bytes_in: Counters::default(),
            records_in: Counters::default(),
            produce_latency: Histograms::new_with_constructor(latency),
            fetch_requests: Counters::default(),
            fetch_errors: Counters::default(),
            bytes_out: Counters::default(),
            records_out: Counters::default(),
            fetch_latency: Histograms::new_with_constructor(latency),
            fdatasync_latency: Histograms::new_with_constructor(fsync),
            connections: Gauges::default(),
            connections_accepted: Counters::default(),
            partitions: Gauges::default(),
            segments: Gauges::default(),
            log_size: Gauges::default(),
            segments_rolled: Counters::default(),
            segments_deleted: Counters::default(),
            segments_recycled: Counters::default(),
            segments_reused: Counters::default(),
            recovery_bad_batches: Counters::default(),
            recovery_truncated_bytes: Counters::default(),
            corrupt_batches: Counters::default(),
            fd_cache_open_files: Gauges::default(),
            fd_cache_opens: Counters::default(),
            partition_size: PartitionGauges::default(),
            partition_log_end_offset: PartitionGauges::default(),
            leader_partitions: Gauges::default(),
            under_replicated_partitions: Gauges::default(),
            under_min_isr_partitions: Gauges::default(),
            isr_shrinks: Counters::default(),
            isr_expands: Counters::default(),
            replication_lag: ReplicaGauges::default(),
            controller_leader: Gauges::default(),
        };
        m.register_all()
    }

    fn register_all(mut self) -> Self {
        let r = &mut self.registry;
        r.register("produce_requests", "Produce requests handled", self.produce_requests.clone());
        r.register(
            "produce_errors",
            "Partitions in produce requests answered with an error",
            self.produce_errors.clone(),
        );
        r.register("bytes_in", "Record-batch bytes appended by produce requests", self.bytes_in.clone());
        r.register("records_in", "Records appended by produce requests", self.records_in.clone());
        r.register(
            "produce_latency_seconds",
            "Time to serve a produce request: validation, append and the durability wait",
            self.produce_latency.clone(),
        );
        r.register("fetch_requests", "Fetch requests handled", self.fetch_requests.clone());
        r.register("fetch_errors", "Partitions in fetch requests answered with an error", self.fetch_errors.clone());
        r.register("bytes_out", "Record-batch bytes sent in fetch responses", self.bytes_out.clone());
        r.register("records_out", "Records sent in fetch responses", self.records_out.clone());
        r.register(
            "fetch_latency_seconds",
            "Time to serve a fetch request, long-poll wait included",
            self.fetch_latency.clone(),
        );
        r.register(
            "fdatasync_latency_seconds",
            "fdatasync latency of segment flushes (published every second)",
            self.fdatasync_latency.clone(),
        );
        r.register("connections", "Open client connections", self.connections.clone());
        r.register("connections_accepted", "Client connections accepted", self.connections_accepted.clone());
        r.register("partitions", "Partitions owned by the core", self.partitions.clone());
        r.register("segments", "Segments (sealed and active) of the core's partitions", self.segments.clone());
        r.register("log_size_bytes", "Bytes of all segments of the core's partitions", self.log_size.clone());
        r.register("segments_rolled", "Active segments sealed (rolled)", self.segments_rolled.clone());
        r.register("segments_deleted", "Sealed segments deleted by retention", self.segments_deleted.clone());
        r.register(
            "segments_recycled",
            "Deleted segments whose file was kept to write a new segment into",
            self.segments_recycled.clone(),
        );
        r.register(
            "segments_reused",
            "New segments written into a recycled segment file",
            self.segments_reused.clone(),
        );
        r.register(
            "recovery_bad_batches",
            "Bad batches (torn writes, corruption) found when partitions were opened: cut from the active \
             segment's tail, kept (and refused on read) in a sealed segment",
            self.recovery_bad_batches.clone(),
        );
        r.register(
            "recovery_truncated_bytes",
            "Bytes cut from segment tails when partitions were opened",
            self.recovery_truncated_bytes.clone(),
        );
        r.register(
            "corrupt_batches",
            "Damaged stored batches reads ran into (not served; each counted once per core while remembered)",
            self.corrupt_batches.clone(),
        );
        r.register(
            "fd_cache_open_files",
            "Sealed-segment files open in the core's fd cache",
            self.fd_cache_open_files.clone(),
        );
        r.register(
            "fd_cache_opens",
            "Sealed-segment files opened because they were not in the core's fd cache",
            self.fd_cache_opens.clone(),
        );
        r.register("partition_size_bytes", "Bytes of all segments of a partition", self.partition_size.clone());
        r.register(
            "partition_log_end_offset",
            "Offset the next record appended to a partition gets",
            self.partition_log_end_offset.clone(),
        );
        r.register("leader_partitions", "Partitions the core leads", self.leader_partitions.clone());
        r.register(
            "under_replicated_partitions",
            "Partitions the core leads whose in-sync replicas are fewer than their replicas",
            self.under_replicated_partitions.clone(),
        );
        r.register(
            "under_min_isr_partitions",
            "Partitions the core leads with fewer in-sync replicas than min.insync.replicas (acks=all refused)",
            self.under_min_isr_partitions.clone(),
        );
        r.register("isr_shrinks", "In-sync replica sets of led partitions that lost members", self.isr_shrinks.clone());
        r.register(
            "isr_expands",
            "In-sync replica sets of led partitions that gained members",
            self.isr_expands.clone(),
        );
        r.register(
            "replication_lag_records",
            "Records a follower of a led partition is behind the leader's log end (as of its last fetch)",
            self.replication_lag.clone(),
        );
        r.register(
            "controller_leader",
            "Node id of the controller quorum's leader as this broker sees it (-1: unknown)",
            self.controller_leader.clone(),
        );
        self
    }

    /// The handles of `core`'s series. Called once per core, at start.
    pub fn core(&self, core: u32) -> CoreMetrics {
        let label = CoreLabel { core };
        let counter = |f: &Counters| f.get_or_create(&label).clone();
        let gauge = |f: &Gauges| f.get_or_create(&label).clone();
        let histogram = |f: &Histograms| f.get_or_create(&label).clone();
        CoreMetrics {
            core,
            produce_requests: counter(&self.produce_requests),
            produce_errors: counter(&self.produce_errors),
            bytes_in: counter(&self.bytes_in),
            records_in: counter(&self.records_in),
            produce_latency: histogram(&self.produce_latency),
            fetch_requests: counter(&self.fetch_requests),
            fetch_errors: counter(&self.fetch_errors),
            bytes_out: counter(&self.bytes_out),
            records_out: counter(&self.records_out),
            fetch_latency: histogram(&self.fetch_latency),
            fdatasync_latency: histogram(&self.fdatasync_latency),
            connections: gauge(&self.connections),
            connections_accepted: counter(&self.connections_accepted),
            partitions: gauge(&self.partitions),
            segments: gauge(&self.segments),
            log_size: gauge(&self.log_size),
            segments_rolled: counter(&self.segments_rolled),
            segments_deleted: counter(&self.segments_deleted),
            segments_recycled: counter(&self.segments_recycled),
            segments_reused: counter(&self.segments_reused),
            recovery_bad_batches: counter(&self.recovery_bad_batches),
            recovery_truncated_bytes: counter(&self.recovery_truncated_bytes),
            corrupt_batches: counter(&self.corrupt_batches),
            fd_cache_open_files: gauge(&self.fd_cache_open_files),
            fd_cache_opens: counter(&self.fd_cache_opens),
            partition_size: self.partition_size.clone(),
            partition_log_end_offset: self.partition_log_end_offset.clone(),
            leader_partitions: gauge(&self.leader_partitions),
            under_replicated_partitions: gauge(&self.under_replicated_partitions),
            under_min_isr_partitions: gauge(&self.under_min_isr_partitions),
            isr_shrinks: counter(&self.isr_shrinks),
            isr_expands: counter(&self.isr_expands),
            replication_lag: self.replication_lag.clone(),
            controller_leader: gauge(&self.controller_leader),
        }
    }

    /// Every metric in the OpenMetrics text format (ending in `# EOF`).
    pub fn encode_openmetrics(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Every metric in the Prometheus text format 0.0.4.
    pub fn encode_prometheus(&self) -> Result<String, std::fmt::Error> {
        Ok(http::openmetrics_to_prometheus(&self.encode_openmetrics()?))
    }
}

/// One core's metric handles: clones of that core's series, written only by
/// that core.
#[derive(Debug, Clone)]
pub struct CoreMetrics {
    core: u32,
    produce_requests: Counter,
    produce_errors: Counter,
    bytes_in: Counter,
    records_in: Counter,
    produce_latency: AtomicHistogram,
    fetch_requests: Counter,
    fetch_errors: Counter,
    bytes_out: Counter,
    records_out: Counter,
    fetch_latency: AtomicHistogram,
    fdatasync_latency: AtomicHistogram,
    connections: Gauge,
    connections_accepted: Counter,
    partitions: Gauge,
    segments: Gauge,
    log_size: Gauge,
    segments_rolled: Counter,
    segments_deleted: Counter,
    segments_recycled: Counter,
    segments_reused: Counter,
    recovery_bad_batches: Counter,
    recovery_truncated_bytes: Counter,
    corrupt_batches: Counter,
    fd_cache_open_files: Gauge,
    fd_cache_opens: Counter,
    /// Shared families: touched only by the once-a-second publisher, which
    /// caches the handles of its own partitions.
    partition_size: PartitionGauges,
    partition_log_end_offset: PartitionGauges,
    leader_partitions: Gauge,
    under_replicated_partitions: Gauge,
    under_min_isr_partitions: Gauge,
    isr_shrinks: Counter,
    isr_expands: Counter,
    /// Shared family, touched only by the publisher.
    replication_lag: ReplicaGauges,
    controller_leader: Gauge,
}

impl CoreMetrics {
    /// Appended batches of `bytes` bytes holding `records` records.
    pub fn appended(&self, bytes: usize, records: u64) {
        self.bytes_in.inc_by(bytes as u64);
        self.records_in.inc_by(records);
    }

    /// A produce request served in `elapsed`, with `errors` partitions failed.
    pub fn produced(&self, elapsed: Duration, errors: usize) {
        self.produce_requests.inc();
        if errors > 0 {
            self.produce_errors.inc_by(errors as u64);
        }
        self.produce_latency.observe(elapsed);
    }

    /// A fetch request served in `elapsed` with `response`.
    pub fn fetched(&self, response: &FetchResponse, elapsed: Duration) {
        let (mut bytes, mut records, mut errors) = (0u64, 0u64, 0u64);
        for p in response.topics.iter().flat_map(|t| &t.partitions) {
            if p.error != ErrorCode::None {
                errors += 1;
            }
            bytes += p.records.len() as u64;
            records += count_records(p.records.chunks().iter().map(|c| &c[..]));
        }
        self.fetch_requests.inc();
        self.bytes_out.inc_by(bytes);
        self.records_out.inc_by(records);
        if errors > 0 {
            self.fetch_errors.inc_by(errors);
        }
        self.fetch_latency.observe(elapsed);
    }

    /// A read ran into a damaged stored batch not seen before.
    pub fn corrupt_batch_found(&self) {
        self.corrupt_batches.inc();
    }

    /// A client connection accepted; the guard counts it as open until dropped.
    /// Client connections this core serves now (accepted, not yet closed).
    pub fn open_connections(&self) -> usize {
        usize::try_from(self.connections.get()).unwrap_or(0)
    }

    pub fn connection_opened(&self) -> ConnectionGuard {
        self.connections_accepted.inc();
        self.connections.inc();
        ConnectionGuard(self.connections.clone())
    }
}

/// Counts a connection as open while it lives.
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Records in whole stored batches laid back to back across `chunks` (a
/// response's data, where a cached batch is its header and its rest in two
/// chunks). Only headers are read: these are batches this broker wrote and
/// checked. A batch cut short is not counted, nor is anything after a header
/// split across chunks (the log never returns one).
pub fn count_records<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut records = 0u64;
    // The batch being walked: its bytes not yet seen and its record count.
    let mut current: Option<(usize, u32)> = None;
    for chunk in chunks {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (left, count) = match current {
                Some(batch) => batch,
                None => {
                    let Some(header) = BatchHeader::parse(rest) else { return records };
                    if header.batch_length() < HEADER_LEN {
                        return records;
                    }
                    (header.batch_length(), header.record_count())
                }
            };
            let n = left.min(rest.len());
            rest = &rest[n..];
            if n == left {
                records += u64::from(count);
                current = None;
            } else {
                current = Some((left - n, count));
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_format::{BatchBuilder, Compression};

    fn batch(n: usize) -> bytes::BytesMut {
        let mut b = BatchBuilder::new(Compression::None);
        for i in 0..n {
            b.push(None, format!("v{i}").as_bytes(), i as i64, &[]);
        }
        b.build().expect("batch")
    }

    #[test]
    fn count_records_walks_batch_headers() {
        let mut bytes = batch(3);
        bytes.extend_from_slice(&batch(5));
        assert_eq!(count_records([&bytes[..]]), 8);
        assert_eq!(count_records([&bytes[..bytes.len() - 1]]), 3, "a cut batch is not counted");
        assert_eq!(count_records([]), 0);
        // Split as a fetch from the tail cache sends them: header, then rest.
        let first = batch(3).len();
        let (a, b) = bytes.split_at(first);
        assert_eq!(count_records([&a[..HEADER_LEN], &a[HEADER_LEN..], &b[..HEADER_LEN], &b[HEADER_LEN..]]), 8);
        assert_eq!(count_records([&a[..HEADER_LEN], &a[HEADER_LEN..], &b[..HEADER_LEN]]), 3);
        assert_eq!(count_records([&bytes[..40], &bytes[40..]]), 0, "a header split across chunks");
    }

    #[test]
    fn per_core_series_render_with_their_label() {
        let m = BrokerMetrics::new();
        let (c0, c1) = (m.core(0), m.core(1));
        c0.appended(100, 7);
        c1.appended(40, 2);
        c1.produced(Duration::from_micros(70), 1);
        let _open = c1.connection_opened();
        let text = m.encode_prometheus().expect("encodes");
        for line in [
            "corelog_bytes_in_total{core=\"0\"} 100",
            "corelog_records_in_total{core=\"0\"} 7",
            "corelog_bytes_in_total{core=\"1\"} 40",
            "corelog_produce_errors_total{core=\"1\"} 1",
            "corelog_produce_latency_seconds_count{core=\"1\"} 1",
            "corelog_connections{core=\"1\"} 1",
            "# TYPE corelog_bytes_in_total counter",
            "# TYPE corelog_produce_latency_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("# EOF"));
        drop(_open);
        let text = m.encode_openmetrics().expect("encodes");
        assert!(text.contains("corelog_connections{core=\"1\"} 0"));
        assert!(text.contains("# TYPE corelog_bytes_in counter"));
        assert!(text.ends_with("# EOF\n"));
    }
}
