//! [`Producer`]: batches records per partition and sends each batch to the
//! core that owns its partition.
//!
//! [`Producer::send`] puts the record into its partition's open batch at
//! once (partition chosen by [`Partitioner`]) and returns a
//! [`DeliveryFuture`] that resolves when the broker has acknowledged it (or
//! it failed for good); [`Producer::send_with`] calls a callback instead,
//! which costs less per record than a future (no channel, no task wake-up)
//! for callers that send hundreds of thousands of records a second. A
//! background task on the same core sends a batch when it is full
//! (`batch_size`), has waited `linger`, or a flush is under way; the
//! batches due for one endpoint go in one produce request (one batch per
//! partition, so the broker's base offset numbers every record exactly),
//! with at most `max_in_flight` requests per endpoint. A partition has at
//! most one produce in flight, so retries never reorder it, unless the
//! producer is idempotent: then up to
//! [`MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT`](crate::limits::MAX_IN_FLIGHT_PER_PARTITION_IDEMPOTENT)
//! batches of a partition are in flight at once, in order, each in its own
//! request (ordered pipelining; see the accumulator).
//! Retriable failures are retried `retries` times after `retry_backoff`
//! (immediately when a `NotOwner` answer names the new owner), refreshing the
//! metadata when the partition moved or the topic is unknown.
//!
//! Lives on: the core that created it (`!Send`, like its [`Cluster`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use corelog_runtime::Task;
use futures::channel::oneshot;

use super::accumulator::{Accumulator, ProducerBatch, RecordSlot};
use super::error::{ClientError, ClientResult};
use super::flush::FlushTracker;
use super::metadata::Cluster;
use super::metadata_fetch::MetadataFetch;
use super::partitioner::Partitioner;
pub use super::producer_config::ProducerConfig;
use super::producer_record::{Delivery, ReportTo};
pub use super::producer_record::{DeliveryCallback, DeliveryFuture, ProducerRecord, RecordMetadata};
use super::producer_send::send_request;
use super::producer_state::{Shared, State};
use super::ClientConfig;
use corelog_runtime::sync::Notify;

/// Sends records to partitions, batched. Cheap to clone (shared handle);
/// the background sender stops when the last clone is dropped (records not
/// yet sent then fail with [`ClientError::Closed`]; call
/// [`Producer::flush`] first).
///
/// ```no_run
/// use corelog_client::{Producer, ProducerConfig, ProducerRecord};
///
/// # async fn demo() -> Result<(), corelog_client::ClientError> {
/// let producer = Producer::connect(&["127.0.0.1:9192".parse().unwrap()], ProducerConfig::default()).await?;
/// let delivery = producer.send(ProducerRecord::new("orders", "hello").key("customer-7"));
/// producer.flush().await?;
/// let meta = delivery.await?;
/// println!("stored at {}/{} offset {:?}", meta.topic, meta.partition, meta.offset);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    inner: Rc<ProducerInner>,
}

struct ProducerInner {
    shared: Rc<Shared>,
    _sender: Task<()>,
}

impl Producer {
    /// A producer for the cluster reached through `bootstrap`.
    pub async fn connect(bootstrap: &[SocketAddr], config: ProducerConfig) -> ClientResult<Producer> {
        let client = ClientConfig { request_timeout: config.request_timeout, ..ClientConfig::default() };
        let cluster = Cluster::connect(bootstrap, client).await?;
        Ok(Producer::new(&cluster, config))
    }

    /// A producer sharing `cluster`'s metadata and connections.
    pub fn new(cluster: &Cluster, config: ProducerConfig) -> Producer {
        let shared = Rc::new(Shared {
            cluster: cluster.clone(),
            state: RefCell::new(State {
                acc: Accumulator::new(config.batch_size, config.partition_depth(), config.linger, config.compression),
                partitioner: Partitioner::new(),
                awaiting: HashMap::new(),
                metadata: MetadataFetch::default(),
                in_flight: HashMap::new(),
                flush: FlushTracker::default(),
                callbacks: Vec::new(),
                idempotence: config.idempotent().then(Default::default),
            }),
            config,
            wake: Notify::default(),
        });
        let sender = corelog_runtime::spawn(run(shared.clone()));
        Producer { inner: Rc::new(ProducerInner { shared, _sender: sender }) }
    }

    /// The cluster handle this producer routes with.
    pub fn cluster(&self) -> &Cluster {
        &self.inner.shared.cluster
    }

    /// Accepts `record` into its partition's batch and returns the future of
    /// its delivery. Never blocks; fails at once only for an empty topic name.
    pub fn send(&self, record: ProducerRecord) -> DeliveryFuture {
        if record.topic.is_empty() {
            let err = ClientError::InvalidArgument("empty topic name".into());
            return DeliveryFuture { inner: Delivery::Failed(Some(err)) };
        }
        let (tx, rx) = oneshot::channel();
        self.accept(record, ReportTo::future(tx));
        DeliveryFuture { inner: Delivery::Waiting(rx) }
    }

    /// Like [`send`](Self::send), but `callback` is called exactly once with
    /// the outcome, on this core: later, from the producer's tasks, or before
    /// `send_with` returns for a record refused at once (empty topic name).
    /// It may send further records. Never blocks.
    ///
    /// ```no_run
    /// # use corelog_client::{Producer, ProducerRecord};
    /// # fn demo(producer: &Producer) {
    /// producer.send_with(ProducerRecord::new("orders", "hello"), |outcome| match outcome {
    ///     Ok(meta) => println!("stored at offset {:?}", meta.offset),
    ///     Err(e) => eprintln!("not stored: {e}"),
    /// });
    /// # }
    /// ```
    pub fn send_with(&self, record: ProducerRecord, callback: impl FnOnce(ClientResult<RecordMetadata>) + 'static) {
        if record.topic.is_empty() {
            callback(Err(ClientError::InvalidArgument("empty topic name".into())));
            return;
        }
        self.accept(record, ReportTo::callback(Box::new(callback)));
        self.inner.shared.run_callbacks();
    }

    fn accept(&self, record: ProducerRecord, report: ReportTo) {
        let shared = &self.inner.shared;
        let mut st = shared.state.borrow_mut();
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let slot = RecordSlot { report, timestamp, epoch: st.flush.accept() };
        let known = shared.cluster.topic(&record.topic).filter(|_| !st.awaiting.contains_key(&record.topic));
        let wake = match known {
            Some(info) => {
                let appended = shared.append(&mut st, info.partition_count(), record, slot);
                appended.is_some_and(|a| a.closed_batch || a.new_batch)
            }
            None => {
                st.awaiting.entry(record.topic.clone()).or_default().push((record, slot));
                true
            }
        };
        drop(st);
        if wake {
            shared.wake.notify();
        }
    }

    /// Waits until every record sent before this call is acknowledged or has
    /// failed (batches are sent without lingering meanwhile). Failures are
    /// reported by the records' own futures.
    pub async fn flush(&self) -> ClientResult<()> {
        let barrier = self.inner.shared.state.borrow_mut().flush.barrier();
        self.inner.shared.wake.notify();
        if let Some(rx) = barrier {
            rx.await.map_err(|_| ClientError::Closed)?;
        }
        Ok(())
    }
}

// The sender task's half of `Shared` (defined in `producer_state`): what to
// send, to which endpoint, now.
impl Shared {
    /// Sends what is due; returns when to look again (besides wake-ups).
    fn dispatch(self: &Rc<Self>) -> Option<Instant> {
        let now = Instant::now();
        let mut st = self.state.borrow_mut();
        let mut next = self.resolve_awaiting(&mut st);
        if let Err(retry_at) = self.producer_id_ready(&mut st) {
            // Batches wait for the producer id: their sequences need it.
            return earliest(next, retry_at);
        }
        let flushing = st.flush.is_flushing();
        // One batch per partition per request (the answer's base offset
        // numbers it), so a pipelined partition's next batch goes in the
        // next round's requests.
        for _round in 0..st.acc.depth() {
            let (sent, ready_next) = self.dispatch_round(&mut st, now, flushing);
            next = earliest(next, ready_next);
            if !sent {
                break;
            }
        }
        next
    }

    /// Takes at most one ready batch per partition into requests and sends
    /// them; whether any was sent, and when to look again.
    fn dispatch_round(self: &Rc<Self>, st: &mut State, now: Instant, flushing: bool) -> (bool, Option<Instant>) {
        let (ready, mut next) = st.acc.ready(now, flushing);
        let max_in_flight = self.config.max_in_flight.max(1);
        // Per endpoint: requests to send, each a list of (batch, bytes).
        let mut requests: BTreeMap<SocketAddr, Vec<Vec<(ProducerBatch, Bytes)>>> = BTreeMap::new();
        let mut request_bytes: HashMap<SocketAddr, usize> = HashMap::new();
        for (topic, partition) in ready {
            let addr = match self.cluster.owner_addr(&topic, partition) {
                Ok(addr) => addr,
                Err(_) => {
                    next = earliest(next, self.fetch_metadata(st, &topic, false));
                    continue;
                }
            };
            let busy = st.in_flight.get(&addr).copied().unwrap_or(0);
            if busy >= max_in_flight && !requests.contains_key(&addr) {
                continue; // the endpoint's next completion wakes us
            }
            let Some(mut batch) = st.acc.take(&topic, partition) else { continue };
            if let Some(info) = self.cluster.topic(&topic) {
                st.partitioner.batch_closed(&topic, partition, info.partition_count());
            }
            // Stamped first, or again if its producer id or its partition's
            // sequences changed since (a resend, in partition order).
            let current = st.idempotence.as_ref().and_then(|i| i.stamp_key(&topic, partition));
            let mut stamped = Ok(());
            if current.is_some() && batch.stamp != current {
                let records = batch.records.len() as u32;
                if let Some((id, epoch, sequence)) =
                    st.idempotence.as_mut().and_then(|i| i.next_batch(&topic, partition, records))
                {
                    stamped = batch.restamp(id, epoch, sequence);
                    batch.stamp = current;
                }
            }
            let bytes = match stamped.and_then(|()| batch.encode()) {
                Ok(bytes) => bytes,
                Err(e) => {
                    st.acc.done(&batch);
                    self.complete(st, batch, Err(e));
                    continue;
                }
            };
            let reqs = requests.entry(addr).or_default();
            let used = request_bytes.entry(addr).or_insert(0);
            if reqs.is_empty() || *used + bytes.len() > self.config.max_request_bytes {
                if busy + reqs.len() >= max_in_flight {
                    st.acc.requeue(batch); // no request slot left for it
                    continue;
                }
                reqs.push(Vec::new());
                *used = 0;
            }
            *used += bytes.len();
            reqs.last_mut().expect("pushed above").push((batch, bytes));
        }
        let mut sent = false;
        for (addr, reqs) in requests {
            for batches in reqs.into_iter().filter(|b| !b.is_empty()) {
                *st.in_flight.entry(addr).or_default() += 1;
                sent = true;
                corelog_runtime::spawn(send_request(self.clone(), addr, batches)).detach();
            }
        }
        (sent, next)
    }

    /// Moves records of topics whose metadata arrived into batches, and asks
    /// for the metadata of the others.
    fn resolve_awaiting(self: &Rc<Self>, st: &mut State) -> Option<Instant> {
        let mut next = None;
        let topics: Vec<String> = st.awaiting.keys().cloned().collect();
        for topic in topics {
            match self.cluster.topic(&topic) {
                Some(info) => {
                    for (record, slot) in st.awaiting.remove(&topic).unwrap_or_default() {
                        self.append(st, info.partition_count(), record, slot);
                    }
                }
                None => next = earliest(next, self.fetch_metadata(st, &topic, false)),
            }
        }
        next
    }
}

/// The sender task: dispatches, then sleeps until woken or the next deadline.
async fn run(shared: Rc<Shared>) {
    loop {
        let next = shared.dispatch();
        shared.run_callbacks();
        match next {
            Some(at) => {
                let wait = at.saturating_duration_since(Instant::now()).max(Duration::from_micros(100));
                corelog_runtime::timeout(wait, shared.wake.notified()).await;
            }
            None => shared.wake.notified().await,
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
