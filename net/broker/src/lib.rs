//! The broker's network side: one endpoint per core (`base_port + core`),
//! connections with pipelined requests answered in order, and the request
//! handlers. Each core serves the partitions it owns; any core answers
//! metadata and admin requests. With `metrics_port` set, a std thread serves
//! Prometheus metrics (per-core labels) over HTTP; see `metrics`. Each
//! core also runs a consumer-group coordinator for the partitions of
//! `__consumer_offsets` it owns (see `groups` and docs/groups.md).
//!
//! Lives on: every core; a connection and everything it touches stay on the
//! core that accepted it. The metrics HTTP thread is the one exception, and it
//! only reads atomics.

pub mod cluster;
mod connection;
mod context;
mod damaged;
mod endpoint;
mod errors;
pub mod fd_limit;
mod groups;
mod handlers;
mod kafka;
pub mod limits;
mod log_throttle;
pub mod memory;
mod metrics;
mod producer_ids;
pub mod replica;
pub mod shard;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::limits::{
    DEFAULT_BIND_RETRY, DEFAULT_CONNECTION_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_CORE,
    DEFAULT_REQUEST_MEMORY_BYTES_PER_CORE, DEFAULT_REQUEST_RECEIVE_TIMEOUT, DEFAULT_RETENTION_CHECK_MS,
};
use crate::shard::{LocalBroker, ShardSet, ShardSetConfig};
use corelog_protocol::limits::MAX_PARTITIONS_PER_TOPIC;
use corelog_runtime::{CpuPlacement, ExecutorConfig};
use corelog_storage::limits::DEFAULT_TAIL_CACHE_BYTES;

use crate::limits::START_TIMEOUT;
use context::ServerContext;
use corelog_coordinator::{CoordinatorConfig, DEFAULT_OFFSETS_TOPIC_PARTITIONS};
use corelog_protocol::limits::DEFAULT_MAX_FRAME_BYTES;
use groups::{GroupRuntime, GroupSettings};
use metrics::http::MetricsServer;
use metrics::BrokerMetrics;

/// A single-node broker's settings (the `[broker]` part of corelog.toml).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// This broker's id (a single node is node 0).
    pub node_id: u32,
    /// Address every core listens on, and advertises to clients.
    pub host: String,
    /// Core i listens on `base_port + i`.
    pub base_port: u16,
    /// Core i also runs a Kafka listener on `kafka_port + i` (see
    /// docs/kafka.md). 0: no Kafka listener. Default 0 here, so embedders
    /// and tests opt in; the `corelog broker` command defaults to
    /// [`limits::DEFAULT_KAFKA_PORT`] (9092).
    pub kafka_port: u16,
    /// The host Kafka clients are told to connect to (Metadata,
    /// FindCoordinator). None: `host`.
    pub advertise: Option<String>,
    /// Where topics and the metadata live (a file system with O_DIRECT).
    pub data_dir: PathBuf,
    /// Cores to run on (clamped to the CPUs `cpu_placement` can seat).
    pub cores: usize,
    /// Which CPU each core's thread is pinned to (`--cpuset`): by default
    /// core i on the i-th CPU the process may use; unpinned when several
    /// brokers share a machine.
    pub cpu_placement: CpuPlacement,
    /// Largest request frame accepted; bigger ones close the connection.
    pub max_frame_bytes: usize,
    /// Per-partition tail cache budget.
    pub tail_cache_bytes: usize,
    /// How often retention runs over every partition.
    pub retention_check: Duration,
    /// glommio io_memory per core.
    pub io_memory: usize,
    /// Port of the admin HTTP endpoint serving Prometheus metrics at
    /// `GET /metrics` on `host` (0: any free port, see
    /// [`Broker::metrics_addr`]). None (the default): no endpoint; the
    /// metrics are still counted.
    pub metrics_port: Option<u16>,
    /// Partitions of the internal topic `__consumer_offsets` (`P` in
    /// "a group's coordinator is the core owning partition `hash(group) % P`").
    /// Used when the topic is created, on the first group request; once it
    /// exists its own partition count rules, so changing this later has no
    /// effect (a warning is logged). Default 16 (Kafka: 50).
    pub offsets_partitions: u32,
    /// How long the committed offsets of a group without members are kept
    /// after its last commit (and after it became empty); then they and the
    /// group are deleted. Default 7 days (Kafka's `offsets.retention.minutes`).
    pub offsets_retention_ms: u64,
    /// Smallest `session_timeout_ms` a JoinGroup may ask for (a smaller one
    /// gets `InvalidRequest`). Default 6 s (Kafka's `group.min.session.timeout.ms`).
    pub group_min_session_timeout_ms: u32,
    /// Largest `session_timeout_ms` a JoinGroup may ask for. Default 30 min
    /// (Kafka's `group.max.session.timeout.ms`).
    pub group_max_session_timeout_ms: u32,
    /// How long the first rebalance of an empty group waits for more members
    /// (extended by each new one, up to the rebalance timeout), so consumers
    /// started together form one generation instead of one per member. 0
    /// disables it. Default 3 s (Kafka's `group.initial.rebalance.delay.ms`).
    pub group_initial_rebalance_delay_ms: u32,
    /// Most client connections one core serves at once; a connection past
    /// it is accepted and closed at once (logged at most once per 10 s).
    /// Default 4096.
    pub max_connections_per_core: usize,
    /// Bytes of requests one core holds while they arrive and while they are
    /// handled: every read reserves its bytes first, so past this the core
    /// stops reading sockets until requests finish (back-pressure, not
    /// allocation). At least `max_frame_bytes`. Default 256 MiB.
    pub request_memory_bytes_per_core: usize,
    /// A connection with nothing to read for this long is closed. Default
    /// 10 min (Kafka's `connections.max.idle.ms`).
    pub connection_idle_timeout: Duration,
    /// A request whose first bytes arrived must arrive whole within this, or
    /// its connection is closed and its bytes given back. Default 30 s.
    pub request_receive_timeout: Duration,
    /// How long a core keeps retrying to bind its port while it is in use
    /// (the previous broker process may still be dying). Default 10 s; 0
    /// fails at once, for a caller that picks another port on a clash.
    pub bind_retry: Duration,
    /// A follower that has not caught up with the leader's log end for this
    /// long leaves the ISR (Kafka's `replica.lag.time.max.ms`). Default 30 s.
    pub replica_lag_time_max: Duration,
    /// The controller quorum's voters (`--controllers 1@host:port,...`).
    /// Empty (the default): a one-node cluster, this broker its own
    /// controller. A node whose id is listed runs a controller too
    /// (combined mode) on its entry's port.
    pub controllers: Vec<cluster::ControllerPeer>,
    /// A broker whose heartbeats stop for this long is fenced: its
    /// partitions get new leaders (Kafka's `broker.session.timeout.ms`).
    /// Default 9 s.
    pub broker_session_timeout: Duration,
    /// How often a broker heartbeats to the controller. Default 2 s.
    pub broker_heartbeat_interval: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        let coordinator = CoordinatorConfig::default();
        BrokerConfig {
            node_id: 0,
            host: "127.0.0.1".into(),
            base_port: 9192,
            kafka_port: 0,
            advertise: None,
            data_dir: PathBuf::from("corelog-data"),
            cores: corelog_runtime::available_cores(),
            cpu_placement: CpuPlacement::Spread,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            tail_cache_bytes: DEFAULT_TAIL_CACHE_BYTES,
            retention_check: Duration::from_millis(DEFAULT_RETENTION_CHECK_MS),
            io_memory: ExecutorConfig::default().io_memory,
            metrics_port: None,
            offsets_partitions: DEFAULT_OFFSETS_TOPIC_PARTITIONS,
            offsets_retention_ms: coordinator.offsets_retention_ms,
            group_min_session_timeout_ms: coordinator.min_session_timeout_ms,
            group_max_session_timeout_ms: coordinator.max_session_timeout_ms,
            group_initial_rebalance_delay_ms: coordinator.initial_rebalance_delay_ms,
            max_connections_per_core: DEFAULT_MAX_CONNECTIONS_PER_CORE,
            request_memory_bytes_per_core: DEFAULT_REQUEST_MEMORY_BYTES_PER_CORE,
            connection_idle_timeout: DEFAULT_CONNECTION_IDLE_TIMEOUT,
            request_receive_timeout: DEFAULT_REQUEST_RECEIVE_TIMEOUT,
            bind_retry: DEFAULT_BIND_RETRY,
            replica_lag_time_max: Duration::from_millis(corelog_replication::limits::REPLICA_LAG_TIME_MAX_MS),
            controllers: Vec::new(),
            broker_session_timeout: Duration::from_millis(
                corelog_replication::limits::DEFAULT_BROKER_SESSION_TIMEOUT_MS,
            ),
            broker_heartbeat_interval: Duration::from_millis(
                corelog_replication::limits::DEFAULT_BROKER_HEARTBEAT_INTERVAL_MS,
            ),
        }
    }
}

/// The Kafka listener this broker registers: its advertised host and Kafka
/// base port (None with the listener off).
fn kafka_listener(config: &BrokerConfig) -> Option<corelog_replication::metadata::cluster::KafkaListener> {
    (config.kafka_port != 0).then(|| corelog_replication::metadata::cluster::KafkaListener {
        host: config.advertise.clone().unwrap_or_else(|| config.host.clone()),
        base_port: config.kafka_port,
    })
}

/// A cluster member's settings, or None for a one-node cluster.
fn cluster_settings(
    config: &BrokerConfig,
    cores: u32,
) -> io::Result<Option<(cluster::ClusterSettings, cluster::BrokerEndpoint)>> {
    if config.controllers.is_empty() {
        return Ok(None);
    }
    if config.broker_heartbeat_interval * 2 >= config.broker_session_timeout {
        let message = "broker_heartbeat_interval must be less than half of broker_session_timeout";
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    let mut settings = cluster::ClusterSettings::new(config.node_id, config.controllers.clone());
    settings.session_timeout = config.broker_session_timeout;
    settings.heartbeat_interval = config.broker_heartbeat_interval;
    settings.bind_retry = config.bind_retry;
    let endpoint = cluster::BrokerEndpoint {
        host: config.host.clone(),
        base_port: config.base_port,
        cores,
        kafka: kafka_listener(config),
    };
    Ok(Some((settings, endpoint)))
}

/// A running broker.
pub struct Broker {
    shards: ShardSet,
    endpoints: Vec<SocketAddr>,
    kafka_endpoints: Vec<SocketAddr>,
    /// Stops when the broker is dropped (after its cores stop).
    metrics_http: Option<MetricsServer>,
}

impl Broker {
    /// Starts one pinned executor per core and returns once every core
    /// listens on its endpoint. First raises the process's soft open-file
    /// limit to the hard one and logs how many partitions it leaves room
    /// for (see [`fd_limit`]).
    pub fn start(config: BrokerConfig) -> io::Result<Broker> {
        let ip: IpAddr = config
            .host
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("host {:?}: {e}", config.host)))?;
        let cores = config.cores.clamp(1, config.cpu_placement.max_cores());
        if cores > limits::MAX_CORES_PER_NODE {
            let message = format!("at most {} cores per node", limits::MAX_CORES_PER_NODE);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        if config.kafka_port != 0 && config.node_id > limits::MAX_KAFKA_NODE_ID {
            let message = format!("with the Kafka listener on, node_id must be at most {}", limits::MAX_KAFKA_NODE_ID);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        if usize::from(config.base_port) + cores > usize::from(u16::MAX) + 1 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "base_port + cores exceeds 65535"));
        }
        if config.kafka_port != 0 && usize::from(config.kafka_port) + cores > usize::from(u16::MAX) + 1 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "kafka_port + cores exceeds 65535"));
        }
        if config.kafka_port != 0 {
            let (native, kafka) = (usize::from(config.base_port), usize::from(config.kafka_port));
            if native < kafka + cores && kafka < native + cores {
                let message = "the Kafka ports (kafka_port + core) overlap the native ones (port + core)";
                return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
            }
        }
        if !(1..=MAX_PARTITIONS_PER_TOPIC).contains(&config.offsets_partitions) {
            let message = format!("offsets_partitions must be in [1, {MAX_PARTITIONS_PER_TOPIC}]");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        if config.request_memory_bytes_per_core < config.max_frame_bytes {
            let message = format!(
                "request_memory_bytes_per_core ({}) must be at least max_frame_bytes ({}): a largest frame must fit",
                config.request_memory_bytes_per_core, config.max_frame_bytes
            );
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        if config.max_connections_per_core == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "max_connections_per_core must be at least 1"));
        }
        let controller_leader = Arc::new(std::sync::atomic::AtomicI64::new(-1));
        let fd_budget = fd_limit::raise_and_budget(cores as u64, config.max_connections_per_core as u64)?;
        let endpoints: Vec<SocketAddr> = (0..cores).map(|c| SocketAddr::new(ip, config.base_port + c as u16)).collect();
        let kafka_endpoints: Vec<SocketAddr> = match config.kafka_port {
            0 => Vec::new(),
            port => (0..cores).map(|c| SocketAddr::new(ip, port + c as u16)).collect(),
        };
        let metrics = Arc::new(BrokerMetrics::new());
        let metrics_http = config
            .metrics_port
            .map(|port| MetricsServer::start(SocketAddr::new(ip, port), metrics.clone()))
            .transpose()?;
        let (ready_tx, ready_rx) = flume::unbounded::<Result<(), String>>();
        let shard_config = ShardSetConfig {
            broker: LocalBroker {
                node_id: config.node_id,
                host: config.host.clone(),
                base_port: config.base_port,
                kafka: kafka_listener(&config),
            },
            replica: corelog_replication::replica::ReplicaConfig {
                replica_lag_time_max_ms: config.replica_lag_time_max.as_millis() as u64,
                ..Default::default()
            },
            cluster: cluster_settings(&config, cores as u32)?,
            controller_leader: controller_leader.clone(),
            data_dir: config.data_dir.clone(),
            cores,
            tail_cache_bytes: config.tail_cache_bytes,
            retention_check: config.retention_check,
            executor: ExecutorConfig {
                io_memory: config.io_memory,
                placement: config.cpu_placement.clone(),
                ..ExecutorConfig::default()
            },
            fd_budget,
        };
        let (context_config, leader_seen) = (config.clone(), controller_leader.clone());
        let shards = ShardSet::start(shard_config, move |shard| {
            // One context per core, holding that core's metric handles and
            // group coordinator (started by the endpoint once the shard is ready).
            let context = Rc::new(ServerContext {
                config: context_config.clone(),
                core: shard.core,
                metrics: metrics.core(shard.core),
                request_memory: corelog_runtime::sync::Semaphore::new(context_config.request_memory_bytes_per_core),
                damaged: damaged::DamagedBatches::default(),
                groups: GroupRuntime::new(shard.clone(), GroupSettings::from_broker(&context_config)),
                controller_leader: leader_seen.clone(),
                member_ids: Default::default(),
            });
            endpoint::serve(shard, context, ready_tx.clone())
        })?;
        for _ in 0..cores {
            match ready_rx.recv_timeout(START_TIMEOUT) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = shards.shutdown();
                    return Err(io::Error::other(e));
                }
                Err(_) => {
                    let _ = shards.shutdown();
                    return Err(io::Error::other("broker cores did not start listening in time"));
                }
            }
        }
        let metrics_addr = metrics_http.as_ref().map(MetricsServer::local_addr);
        tracing::info!(?endpoints, ?kafka_endpoints, ?metrics_addr, data_dir = %config.data_dir.display(), "broker started");
        Ok(Broker { shards, endpoints, kafka_endpoints, metrics_http })
    }

    /// Per-core endpoints; index = core.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.endpoints.clone()
    }

    /// Per-core Kafka listeners (index = core); empty with `kafka_port` 0.
    pub fn kafka_endpoints(&self) -> Vec<SocketAddr> {
        self.kafka_endpoints.clone()
    }

    /// Where `GET /metrics` is served, if `metrics_port` was set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_http.as_ref().map(MetricsServer::local_addr)
    }

    /// Flushes every partition and stops every core.
    pub fn shutdown(self) -> Result<(), String> {
        self.shards.shutdown()
    }

    /// Blocks until the cores exit (after a shutdown requested elsewhere).
    pub fn join(self) -> Result<(), String> {
        self.shards.join()
    }

    /// Handles that stop the broker from another thread (a signal handler).
    pub fn stopper(&self) -> BrokerStopper {
        BrokerStopper(self.shards.stopper())
    }
}

/// Stops a running broker from any thread.
#[derive(Clone)]
pub struct BrokerStopper(Vec<corelog_runtime::ControlSender<crate::shard::ControlMessage>>);

impl BrokerStopper {
    /// Asks every core to flush and exit; `Broker::join` then returns.
    pub fn stop(&self) {
        for core in &self.0 {
            let (done, _rx) = futures::channel::oneshot::channel();
            let _ = core.send(crate::shard::ControlMessage::Shutdown { done });
        }
    }
}
