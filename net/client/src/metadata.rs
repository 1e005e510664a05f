//! [`Cluster`]: the client's view of the brokers — a metadata cache (topic →
//! partitions → owning core endpoint) and a pool of one [`Connection`] per
//! endpoint.
//!
//! Every core answers Metadata requests, but a partition's produce, fetch
//! and list-offsets requests must go to the core that owns it. The producer,
//! consumer and admin client look the owner up here, and on `NotOwner` /
//! unknown-topic answers patch the cache from the broker's hint
//! ([`Cluster::update_owner`]) or refresh it ([`Cluster::refresh_topics`]).
//! Concurrent refreshes of the same topics are coalesced into one request.
//!
//! Lives on: the core that created it (`!Send`); clone it to share it between
//! a producer, consumers and an admin client on that core.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Instant;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use rustc_hash::FxHashMap;

use super::config::ClientConfig;
use super::connection::Connection;
use super::error::{check_code, ClientError, ClientResult};
use crate::limits::MAX_RECONNECT_BACKOFF;
use corelog_protocol::{BrokerMetadata, Endpoint, ErrorCode, MetadataRequest, MetadataResponse, Request, Response};

/// One partition as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition id.
    pub partition: u32,
    /// Per-partition error reported by the broker (e.g. no owner right now).
    pub error: ErrorCode,
    /// The owning node/core, if any.
    pub owner: Option<Endpoint>,
    /// The owner's endpoint resolved to a socket address.
    pub addr: Option<SocketAddr>,
    /// The leader's epoch.
    pub leader_epoch: u32,
    /// Node ids of every replica, the preferred leader first.
    pub replicas: Vec<u32>,
    /// Node ids of the in-sync replicas.
    pub isr: Vec<u32>,
    /// First offset in the log, if the answering core knew it.
    pub log_start_offset: Option<u64>,
    /// Next offset to be written, if the answering core knew it.
    pub log_end_offset: Option<u64>,
}

/// One topic as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Partitions, indexed by id.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// Number of partitions.
    pub fn partition_count(&self) -> u32 {
        // A topic has at most MAX_PARTITIONS_PER_RESPONSE partitions.
        self.partitions.len() as u32
    }
}

/// Shared handle to the metadata cache and connection pool (cheap to clone).
///
/// ```no_run
/// use corelog_client::{ClientConfig, Cluster};
///
/// # async fn demo() -> Result<(), corelog_client::ClientError> {
/// let cluster = Cluster::connect(&["127.0.0.1:9192".parse().unwrap()], ClientConfig::default()).await?;
/// let topic = cluster.topic_metadata("orders").await?;
/// for p in &topic.partitions {
///     println!("partition {} is served by {:?}", p.partition, p.addr);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Rc<ClusterInner>,
}

type ConnectFuture = Shared<LocalBoxFuture<'static, ClientResult<Connection>>>;

struct ClusterInner {
    config: ClientConfig,
    bootstrap: Vec<SocketAddr>,
    state: RefCell<State>,
    /// Serializes metadata requests so concurrent refreshes coalesce.
    refresh_lock: futures::lock::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// Looked up for every record sent (FxHash: keyed by topic names the
    /// application asked for).
    topics: FxHashMap<String, (Rc<TopicInfo>, Instant)>,
    brokers: Vec<BrokerMetadata>,
    connections: HashMap<SocketAddr, Slot>,
    /// Bumped by every metadata response applied.
    generation: u64,
    /// Generation at which each topic was last fetched (or found unknown).
    fetched: HashMap<String, u64>,
    /// Generation of the last all-topics refresh.
    full_fetched: u64,
}

enum Slot {
    Ready(Connection),
    Connecting(ConnectFuture),
}

impl Cluster {
    /// A cluster handle that has fetched the metadata of every topic from
    /// the first reachable bootstrap endpoint.
    pub async fn connect(bootstrap: &[SocketAddr], config: ClientConfig) -> ClientResult<Cluster> {
        let cluster = Cluster::new(bootstrap, config)?;
        cluster.refresh().await?;
        Ok(cluster)
    }

    /// A cluster handle that has fetched nothing yet (metadata is loaded on
    /// first use).
    pub fn new(bootstrap: &[SocketAddr], config: ClientConfig) -> ClientResult<Cluster> {
        if bootstrap.is_empty() {
            return Err(ClientError::InvalidArgument("no bootstrap endpoints".into()));
        }
        Ok(Cluster {
            inner: Rc::new(ClusterInner {
                config,
                bootstrap: bootstrap.to_vec(),
                state: RefCell::new(State::default()),
                refresh_lock: futures::lock::Mutex::new(()),
            }),
        })
    }

    /// The settings connections are opened with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The cached metadata of `topic`, if any (never fetches).
    pub fn topic(&self, topic: &str) -> Option<Rc<TopicInfo>> {
        self.inner.state.borrow().topics.get(topic).map(|(t, _)| t.clone())
    }

    /// Every cached topic, by name.
    pub fn topics(&self) -> Vec<Rc<TopicInfo>> {
        let mut topics: Vec<_> = self.inner.state.borrow().topics.values().map(|(t, _)| t.clone()).collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        topics
    }

    /// The brokers of the last metadata response.
    pub fn brokers(&self) -> Vec<BrokerMetadata> {
        self.inner.state.borrow().brokers.clone()
    }

    /// The metadata of `topic`: cached if younger than
    /// [`ClientConfig::metadata_max_age`], else fetched. Fails with
    /// [`ClientError::UnknownTopic`] if the broker does not know it.
    pub async fn topic_metadata(&self, topic: &str) -> ClientResult<Rc<TopicInfo>> {
        if let Some((info, at)) = self.inner.state.borrow().topics.get(topic) {
            if at.elapsed() < self.inner.config.metadata_max_age {
                return Ok(info.clone());
            }
        }
        if let Err(e) = self.refresh_topics(&[topic]).await {
            // Old metadata beats none when no broker answers.
            return self.topic(topic).ok_or(e);
        }
        self.topic(topic).ok_or_else(|| ClientError::UnknownTopic(topic.to_owned()))
    }

    /// The endpoint owning `partition` of `topic`, from the cache.
    pub fn owner_addr(&self, topic: &str, partition: u32) -> ClientResult<SocketAddr> {
        let info = self.topic(topic).ok_or_else(|| ClientError::UnknownTopic(topic.to_owned()))?;
        let p = info
            .partitions
            .get(partition as usize)
            .ok_or_else(|| ClientError::UnknownPartition { topic: topic.to_owned(), partition })?;
        p.addr.ok_or_else(|| ClientError::NotOwner { topic: topic.to_owned(), partition, current_owner: None })
    }

    /// Records that `owner` now owns `partition` of `topic` (from a
    /// `NotOwner` answer's hint), without a round trip.
    pub fn update_owner(&self, topic: &str, partition: u32, owner: &Endpoint) {
        let mut state = self.inner.state.borrow_mut();
        if let Some((info, _)) = state.topics.get_mut(topic) {
            if let Some(p) = Rc::make_mut(info).partitions.get_mut(partition as usize) {
                p.owner = Some(owner.clone());
                p.addr = resolve(&owner.host, owner.port);
                p.error = ErrorCode::None;
            }
        }
    }

    /// Drops `topic` from the cache (e.g. after deleting it).
    pub fn forget_topic(&self, topic: &str) {
        self.inner.state.borrow_mut().topics.remove(topic);
    }

    /// Fetches the metadata of every topic and replaces the cache.
    pub async fn refresh(&self) -> ClientResult<()> {
        let asked_at = self.inner.state.borrow().generation;
        let _lock = self.inner.refresh_lock.lock().await;
        if self.inner.state.borrow().full_fetched > asked_at {
            return Ok(()); // someone refreshed everything while we waited
        }
        let response = self.fetch_metadata(None).await?;
        self.apply(response, None);
        Ok(())
    }

    /// Fetches the metadata of `topics` and updates their cache entries
    /// (topics the broker does not know are dropped from the cache).
    pub async fn refresh_topics(&self, topics: &[&str]) -> ClientResult<()> {
        let asked_at = self.inner.state.borrow().generation;
        let _lock = self.inner.refresh_lock.lock().await;
        let wanted: Vec<String> = {
            let state = self.inner.state.borrow();
            let fresh =
                |t: &&str| state.full_fetched > asked_at || state.fetched.get(*t).is_some_and(|g| *g > asked_at);
            topics.iter().filter(|t| !fresh(t)).map(|t| (*t).to_owned()).collect()
        };
        if wanted.is_empty() {
            return Ok(());
        }
        let response = self.fetch_metadata(Some(wanted.clone())).await?;
        self.apply(response, Some(&wanted));
        Ok(())
    }

    async fn fetch_metadata(&self, topics: Option<Vec<String>>) -> ClientResult<MetadataResponse> {
        let request = Request::Metadata(MetadataRequest { topics });
        match self.request_any(&request).await? {
            Response::Metadata(m) => {
                check_code(m.error, m.error_message.clone())?;
                Ok(m)
            }
            other => Err(ClientError::Protocol(format!("metadata answered with api {}", other.api_key_raw()))),
        }
    }

    fn apply(&self, response: MetadataResponse, asked: Option<&[String]>) {
        let now = Instant::now();
        let mut state = self.inner.state.borrow_mut();
        state.generation += 1;
        let generation = state.generation;
        state.brokers = response.brokers;
        match asked {
            None => {
                state.topics.clear();
                state.full_fetched = generation;
            }
            Some(names) => {
                for name in names {
                    state.topics.remove(name);
                    state.fetched.insert(name.clone(), generation);
                }
            }
        }
        for topic in response.topics {
            if topic.error != ErrorCode::None {
                tracing::debug!(topic = %topic.name, error = %topic.error, "metadata: topic unavailable");
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .into_iter()
                .map(|p| PartitionInfo {
                    partition: p.partition,
                    error: p.error,
                    addr: p.owner.as_ref().and_then(|o| resolve(&o.host, o.port)),
                    owner: p.owner,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas,
                    isr: p.isr,
                    log_start_offset: p.log_start_offset,
                    log_end_offset: p.log_end_offset,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let dense = partitions.iter().enumerate().all(|(i, p)| p.partition as usize == i);
            if !dense {
                tracing::warn!(topic = %topic.name, "metadata: partition ids are not 0..n; ignoring the topic");
                continue;
            }
            let info = Rc::new(TopicInfo { name: topic.name.clone(), partitions });
            state.fetched.insert(topic.name.clone(), generation);
            state.topics.insert(topic.name, (info, now));
        }
    }

    /// The pooled connection to `addr`, opened if needed (one per endpoint;
    /// concurrent callers share one connection attempt).
    pub async fn connection(&self, addr: SocketAddr) -> ClientResult<Connection> {
        let pending = {
            let mut state = self.inner.state.borrow_mut();
            match state.connections.get(&addr) {
                Some(Slot::Ready(conn)) if !conn.is_closed() => return Ok(conn.clone()),
                Some(Slot::Connecting(fut)) => fut.clone(),
                _ => {
                    let config = self.inner.config.clone();
                    let fut = async move { Connection::connect(addr, &config).await }.boxed_local().shared();
                    state.connections.insert(addr, Slot::Connecting(fut.clone()));
                    fut
                }
            }
        };
        let result = pending.await;
        let mut state = self.inner.state.borrow_mut();
        if let Some(Slot::Connecting(_)) = state.connections.get(&addr) {
            match &result {
                Ok(conn) => state.connections.insert(addr, Slot::Ready(conn.clone())),
                Err(_) => state.connections.remove(&addr),
            };
        }
        result
    }

    /// Sends `request` to any reachable endpoint: an open connection first,
    /// then the known core endpoints, then the bootstrap list. Only
    /// connection-level failures move on to the next endpoint.
    ///
    /// When every endpoint fails (refused, reset: a broker that is starting
    /// or restarting), the round is tried again after a pause that doubles
    /// from `retry_backoff` up to [`MAX_RECONNECT_BACKOFF`], until
    /// `reconnect_timeout` has passed, as Kafka clients reconnect.
    pub async fn request_any(&self, request: &Request) -> ClientResult<Response> {
        let config = &self.inner.config;
        let deadline = Instant::now() + config.reconnect_timeout;
        let mut backoff = config.retry_backoff.min(MAX_RECONNECT_BACKOFF);
        loop {
            let mut last_err = None;
            for addr in self.candidates() {
                let attempt = async { self.connection(addr).await?.request(request).await }.await;
                match attempt {
                    Ok(response) => return Ok(response),
                    Err(e @ (ClientError::Io { .. } | ClientError::Disconnected(_) | ClientError::Timeout(_))) => {
                        tracing::debug!(%addr, error = %e, "endpoint unusable, trying the next");
                        last_err = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            let reason = last_err.map_or_else(|| "no endpoints".to_owned(), |e| e.to_string());
            if Instant::now() + backoff >= deadline {
                return Err(ClientError::NoBrokers(reason));
            }
            tracing::debug!(error = %reason, ?backoff, "no endpoint answered; retrying");
            corelog_runtime::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_RECONNECT_BACKOFF);
        }
    }

    /// Endpoints to try for a request any core can answer, best first.
    fn candidates(&self) -> Vec<SocketAddr> {
        let state = self.inner.state.borrow();
        let mut out: Vec<SocketAddr> = state
            .connections
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Ready(c) if !c.is_closed()))
            .map(|(addr, _)| *addr)
            .collect();
        out.sort();
        let known = state
            .brokers
            .iter()
            .flat_map(|b| b.endpoints.iter().filter_map(|e| resolve(&b.host, e.port)))
            .chain(self.inner.bootstrap.iter().copied());
        for addr in known {
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
        out
    }

    /// Closes every pooled connection.
    pub fn close(&self) {
        let connections = std::mem::take(&mut self.inner.state.borrow_mut().connections);
        for slot in connections.into_values() {
            if let Slot::Ready(conn) = slot {
                conn.close();
            }
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.state.borrow();
        f.debug_struct("Cluster")
            .field("bootstrap", &self.inner.bootstrap)
            .field("topics", &state.topics.len())
            .field("connections", &state.connections.len())
            .finish()
    }
}

/// Resolves an advertised host and port. IP literals resolve without a
/// lookup; a host name goes through the system resolver, which blocks the
/// core briefly (brokers advertise IPs in the usual deployments).
pub(crate) fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    match (host, port).to_socket_addrs() {
        Ok(mut addrs) => addrs.next(),
        Err(e) => {
            tracing::warn!(host, port, error = %e, "cannot resolve advertised host");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ip_literals() {
        assert_eq!(resolve("127.0.0.1", 9192), Some("127.0.0.1:9192".parse().unwrap()));
        assert_eq!(resolve("::1", 9193), Some("[::1]:9193".parse().unwrap()));
    }

    #[test]
    fn needs_bootstrap() {
        assert!(matches!(Cluster::new(&[], ClientConfig::default()), Err(ClientError::InvalidArgument(_))));
    }
}
