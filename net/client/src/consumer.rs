//! [`Consumer`]: reads assigned partitions from their owning cores.
//!
//! Partitions are assigned explicitly with a starting point ([`StartAt`],
//! resolved with ListOffsets at the owner). [`Consumer::poll`] sends one fetch
//! per endpoint covering all of that endpoint's assigned partitions
//! (long-polling with `max_wait` / `min_bytes`), decodes the returned batches
//! (CRC and structure checked), drops records below each partition's
//! position (a batch may start before it) and advances the positions. With
//! `prefetch`, the next fetches are sent before `poll` returns, so they
//! travel while the caller processes the records.
//!
//! Stale metadata (`NotOwner`, unknown topic or partition) and connection
//! failures are handled inside `poll` (owner hint or refresh, then backoff);
//! an out-of-range position is reset per [`ConsumerConfig::auto_reset`].
//!
//! Lives on: the core that created it (`!Send`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corelog_runtime::sync::Notify;
use corelog_runtime::Task;
use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::StreamExt;

pub use super::consumer_records::ConsumerRecord;
use super::error::{ClientError, ClientResult};
use super::metadata::Cluster;
use super::offsets::list_offsets;
use super::ClientConfig;
use corelog_protocol::{FetchRequest, FetchResponse, FetchTopic, OffsetSpec, Request, Response};

mod config;
mod fetched;

pub use config::{ConsumerConfig, OffsetReset, StartAt};

struct PartitionState {
    /// `None` until `start` has been resolved to an offset.
    position: Option<u64>,
    start: StartAt,
    high_watermark: Option<u64>,
    /// A fetch including this partition is in flight.
    fetching: bool,
    /// Bumped by every seek, so answers to older fetches are discarded.
    epoch: u64,
    retry_at: Option<Instant>,
}

/// One partition of a fetch: where it was asked to read from, and the
/// partition's epoch then.
struct Asked {
    topic: Rc<str>,
    partition: u32,
    offset: u64,
    epoch: u64,
}

/// What a fetch task reports back.
struct Fetched {
    addr: SocketAddr,
    asked: Vec<Asked>,
    result: ClientResult<FetchResponse>,
}

/// Reads records from assigned partitions.
///
/// ```no_run
/// use std::time::Duration;
/// use corelog_client::{Consumer, ConsumerConfig, StartAt};
///
/// # async fn demo() -> Result<(), corelog_client::ClientError> {
/// let mut consumer = Consumer::connect(&["127.0.0.1:9192".parse().unwrap()], ConsumerConfig::default()).await?;
/// consumer.assign_all("orders", StartAt::Earliest).await?;
/// loop {
///     for record in consumer.poll(Duration::from_secs(1)).await? {
///         println!("{}/{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
///     }
/// }
/// # }
/// ```
pub struct Consumer {
    cluster: Cluster,
    config: ConsumerConfig,
    partitions: BTreeMap<(Rc<str>, u32), PartitionState>,
    next_epoch: u64,
    results_tx: mpsc::UnboundedSender<Fetched>,
    results_rx: mpsc::UnboundedReceiver<Fetched>,
    /// Fetch tasks by endpoint (one at a time each); dropping one cancels it.
    in_flight: HashMap<SocketAddr, Task<()>>,
    /// Endpoints not to fetch from before the instant (after a failure).
    backoff: HashMap<SocketAddr, Instant>,
    /// Topics whose metadata must be refreshed before the next fetch.
    stale: Vec<Rc<str>>,
    /// An error to report from the next `poll` (records came first).
    deferred: Option<ClientError>,
}

impl Consumer {
    /// A consumer for the cluster reached through `bootstrap`.
    pub async fn connect(bootstrap: &[SocketAddr], config: ConsumerConfig) -> ClientResult<Consumer> {
        let client = ClientConfig {
            request_timeout: config.request_timeout,
            max_frame_bytes: ClientConfig::default().max_frame_bytes.max(config.fetch_max_bytes as usize * 2),
            ..ClientConfig::default()
        };
        let cluster = Cluster::connect(bootstrap, client).await?;
        Ok(Consumer::new(&cluster, config))
    }

    /// A consumer sharing `cluster`'s metadata and connections.
    pub fn new(cluster: &Cluster, config: ConsumerConfig) -> Consumer {
        let (results_tx, results_rx) = mpsc::unbounded();
        Consumer {
            cluster: cluster.clone(),
            config,
            partitions: BTreeMap::new(),
            next_epoch: 0,
            results_tx,
            results_rx,
            in_flight: HashMap::new(),
            backoff: HashMap::new(),
            stale: Vec::new(),
            deferred: None,
        }
    }

    /// Adds `partitions` of `topic` to the assignment (or moves them, if
    /// assigned already), starting at `start`.
    pub async fn assign(&mut self, topic: &str, partitions: &[u32], start: StartAt) -> ClientResult<()> {
        let info = self.cluster.topic_metadata(topic).await?;
        if let Some(&partition) = partitions.iter().find(|p| **p >= info.partition_count()) {
            return Err(ClientError::UnknownPartition { topic: topic.to_owned(), partition });
        }
        let name: Rc<str> = Rc::from(topic);
        for &partition in partitions {
            let epoch = self.bump_epoch();
            let state =
                PartitionState { position: None, start, high_watermark: None, fetching: false, epoch, retry_at: None };
            let key = (name.clone(), partition);
            let fetching = self.partitions.get(&key).is_some_and(|s| s.fetching);
            self.partitions.insert(key, PartitionState { fetching, ..state });
        }
        self.resolve_positions().await
    }

    /// Assigns every partition of `topic`.
    pub async fn assign_all(&mut self, topic: &str, start: StartAt) -> ClientResult<()> {
        let count = self.cluster.topic_metadata(topic).await?.partition_count();
        self.assign(topic, &(0..count).collect::<Vec<_>>(), start).await
    }

    /// Removes `partitions` of `topic` from the assignment.
    pub fn unassign(&mut self, topic: &str, partitions: &[u32]) {
        for &partition in partitions {
            self.partitions.remove(&(Rc::from(topic), partition));
        }
    }

    /// The assigned (topic, partition) pairs.
    pub fn assignment(&self) -> Vec<(String, u32)> {
        self.partitions.keys().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    /// The offset of the next record `poll` returns for a partition (`None`
    /// if unassigned or not resolved yet).
    pub fn position(&self, topic: &str, partition: u32) -> Option<u64> {
        self.partitions.get(&(Rc::from(topic), partition)).and_then(|s| s.position)
    }

    /// The partition's high watermark as of the last fetch.
    pub fn high_watermark(&self, topic: &str, partition: u32) -> Option<u64> {
        self.partitions.get(&(Rc::from(topic), partition)).and_then(|s| s.high_watermark)
    }

    /// Records between the position and the high watermark, as of the last fetch.
    pub fn lag(&self, topic: &str, partition: u32) -> Option<u64> {
        let s = self.partitions.get(&(Rc::from(topic), partition))?;
        Some(s.high_watermark?.saturating_sub(s.position?))
    }

    /// Moves an assigned partition's position; records fetched for the old
    /// position are discarded.
    pub async fn seek(&mut self, topic: &str, partition: u32, to: StartAt) -> ClientResult<()> {
        let epoch = self.bump_epoch();
        let state = self.partitions.get_mut(&(Rc::from(topic), partition)).ok_or_else(|| {
            ClientError::InvalidArgument(format!("partition {partition} of {topic:?} is not assigned"))
        })?;
        state.position = None;
        state.start = to;
        state.epoch = epoch;
        state.retry_at = None;
        self.resolve_positions().await
    }

    fn bump_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// Resolves every position not known yet (ListOffsets at the owners).
    async fn resolve_positions(&mut self) -> ClientResult<()> {
        let mut by_topic: BTreeMap<Rc<str>, Vec<(u32, OffsetSpec)>> = BTreeMap::new();
        for ((topic, partition), s) in &mut self.partitions {
            if s.position.is_some() {
                continue;
            }
            let spec = match s.start {
                StartAt::Offset(offset) => {
                    s.position = Some(offset);
                    continue;
                }
                StartAt::Earliest => OffsetSpec::Earliest,
                StartAt::Latest => OffsetSpec::Latest,
                StartAt::Timestamp(ts) => OffsetSpec::Timestamp(ts),
            };
            by_topic.entry(topic.clone()).or_default().push((*partition, spec));
        }
        for (topic, queries) in by_topic {
            let (retries, backoff) = (self.config.retries, self.config.retry_backoff);
            let found = list_offsets(&self.cluster, &topic, &queries, retries, backoff).await?;
            let mut missing = Vec::new();
            for (partition, _) in queries {
                match found.get(&partition).and_then(|l| l.offset) {
                    Some(offset) => self.set_position(&topic, partition, offset),
                    None => missing.push((partition, OffsetSpec::Latest)),
                }
            }
            if !missing.is_empty() {
                // A timestamp past every record: start at the end.
                let found = list_offsets(&self.cluster, &topic, &missing, retries, backoff).await?;
                for (partition, _) in missing {
                    let offset = found.get(&partition).and_then(|l| l.offset).unwrap_or(0);
                    self.set_position(&topic, partition, offset);
                }
            }
        }
        Ok(())
    }

    fn set_position(&mut self, topic: &Rc<str>, partition: u32, offset: u64) {
        if let Some(s) = self.partitions.get_mut(&(topic.clone(), partition)) {
            s.position = Some(offset);
        }
    }

    /// Returns the next records of the assigned partitions, waiting up to
    /// `timeout` for some (an empty vector if none came in time).
    pub async fn poll(&mut self, timeout: Duration) -> ClientResult<Vec<ConsumerRecord>> {
        self.poll_or_wake(timeout, None).await
    }

    /// [`Consumer::poll`] that also returns (with whatever it has, possibly
    /// nothing) as soon as `wake` is notified: the group consumer's way to
    /// stop waiting for records when its group needs attention.
    pub(crate) async fn poll_or_wake(
        &mut self,
        timeout: Duration,
        wake: Option<&Notify>,
    ) -> ClientResult<Vec<ConsumerRecord>> {
        if let Some(err) = self.deferred.take() {
            return Err(err);
        }
        let deadline = Instant::now() + timeout;
        let mut records = Vec::new();
        loop {
            self.refresh_stale().await;
            self.resolve_positions().await?;
            while let Ok(fetched) = self.results_rx.try_recv() {
                self.handle(fetched, &mut records);
            }
            if records.is_empty() {
                if let Some(err) = self.deferred.take() {
                    return Err(err);
                }
            }
            if !records.is_empty() {
                if self.config.prefetch {
                    self.refresh_stale().await;
                    self.issue_fetches();
                }
                return Ok(records);
            }
            let wake_at = self.issue_fetches();
            let now = Instant::now();
            if now >= deadline {
                return Ok(records);
            }
            let wait = wake_at.map_or(deadline, |w| w.min(deadline)).saturating_duration_since(now);
            let next = match wake {
                None => corelog_runtime::timeout(wait, self.results_rx.next()).await,
                Some(notify) => {
                    match corelog_runtime::timeout(wait, select(self.results_rx.next(), notify.notified())).await {
                        Some(Either::Left((fetched, _))) => Some(fetched),
                        Some(Either::Right(((), _))) => return Ok(records),
                        None => None,
                    }
                }
            };
            if let Some(Some(fetched)) = next {
                self.handle(fetched, &mut records);
            }
        }
    }

    async fn refresh_stale(&mut self) {
        if self.stale.is_empty() {
            return;
        }
        let topics: Vec<Rc<str>> = std::mem::take(&mut self.stale);
        let names: Vec<&str> = topics.iter().map(|t| &**t).collect();
        if let Err(e) = self.cluster.refresh_topics(&names).await {
            tracing::debug!(error = %e, "consumer metadata refresh failed");
        }
    }

    /// Sends a fetch to every endpoint that has fetchable partitions and no
    /// fetch in flight; returns the earliest backoff expiry still pending.
    fn issue_fetches(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let mut wake: Option<Instant> = None;
        let mut soonest = |at: Instant| wake = Some(wake.map_or(at, |w: Instant| w.min(at)));
        let mut by_addr: BTreeMap<SocketAddr, Vec<Asked>> = BTreeMap::new();
        for ((topic, partition), s) in &mut self.partitions {
            let Some(position) = s.position else { continue };
            if s.fetching {
                continue;
            }
            if let Some(at) = s.retry_at.filter(|at| *at > now) {
                soonest(at);
                continue;
            }
            let addr = match self.cluster.owner_addr(topic, *partition) {
                Ok(addr) => addr,
                Err(_) => {
                    if !self.stale.contains(topic) {
                        self.stale.push(topic.clone());
                    }
                    let at = now + self.config.retry_backoff;
                    s.retry_at = Some(at);
                    soonest(at);
                    continue;
                }
            };
            if self.in_flight.contains_key(&addr) {
                continue; // its answer wakes poll
            }
            if let Some(at) = self.backoff.get(&addr).copied().filter(|at| *at > now) {
                soonest(at);
                continue;
            }
            by_addr.entry(addr).or_default().push(Asked {
                topic: topic.clone(),
                partition: *partition,
                offset: position,
                epoch: s.epoch,
            });
        }
        for (addr, asked) in by_addr {
            for a in &asked {
                if let Some(s) = self.partitions.get_mut(&(a.topic.clone(), a.partition)) {
                    s.fetching = true;
                }
            }
            let task = corelog_runtime::spawn(fetch(
                self.cluster.clone(),
                self.fetch_request(&asked),
                addr,
                asked,
                self.results_tx.clone(),
            ));
            self.in_flight.insert(addr, task);
        }
        wake
    }

    fn fetch_request(&self, asked: &[Asked]) -> FetchRequest {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for Asked { topic, partition, offset, .. } in asked {
            let p = corelog_protocol::FetchPartition::new(*partition, *offset, self.config.partition_max_bytes);
            match topics.last_mut().filter(|t| *t.name == **topic) {
                Some(t) => t.partitions.push(p),
                None => topics.push(FetchTopic { name: topic.to_string(), partitions: vec![p] }),
            }
        }
        FetchRequest {
            replica_id: None,
            max_wait_ms: u32::try_from(self.config.max_wait.as_millis()).unwrap_or(u32::MAX),
            min_bytes: self.config.min_bytes,
            max_bytes: self.config.fetch_max_bytes,
            topics,
        }
    }
}

/// One fetch to one endpoint; reports back through `tx`.
async fn fetch(
    cluster: Cluster,
    request: FetchRequest,
    addr: SocketAddr,
    asked: Vec<Asked>,
    tx: mpsc::UnboundedSender<Fetched>,
) {
    let request = Request::Fetch(request);
    let result = match cluster.connection(addr).await {
        Ok(conn) => conn.request(&request).await,
        Err(e) => Err(e),
    };
    let result = match result {
        Ok(Response::Fetch(resp)) => Ok(resp),
        Ok(other) => Err(ClientError::Protocol(format!("fetch answered with api {}", other.api_key_raw()))),
        Err(e) => Err(e),
    };
    let _ = tx.unbounded_send(Fetched { addr, asked, result });
}
