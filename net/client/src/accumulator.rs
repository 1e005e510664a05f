//! The producer's record accumulator: per-partition queues of batches being
//! filled, and the rules for when a batch is ready to send.
//!
//! A record goes into the last batch of its partition's queue unless that
//! batch would exceed `batch_size` (estimated encoded bytes), in which case
//! the batch is closed and a new one started; a batch that reaches
//! `batch_size` is closed at once. The head batch of a queue is *ready* when
//! it is closed, or has lingered `linger`, or a flush is under way — and its
//! partition has fewer than `depth` produces in flight and its retry
//! backoff is over.
//!
//! Ordered pipelining: `depth` is 1 for a plain producer (a retry can then
//! never overtake a later batch) and up to 10 for an idempotent one, whose
//! sequences let the partition's leader drop a retried batch it already
//! holds and refuse one that would leave a gap (Kafka's
//! `max.in.flight.requests.per.connection` with idempotence). Every batch
//! gets a send id, in partition order, when it is first taken; a batch
//! put back for a retry goes in front of the never-sent ones, among the
//! other retries by send id, so batches are always resent in their order.
//! Pure bookkeeping: no I/O, so it is unit-tested on its own.

use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corelog_format::{BatchBuilder, Compression};
use rustc_hash::FxHashMap;

use super::error::{ClientError, ClientResult};
use super::producer_record::ReportTo;

/// Encoded bytes a record adds to a batch beyond its key, value and header
/// bytes (the archived record's fixed part plus alignment slack); an upper
/// estimate, like the builder's own.
const RECORD_OVERHEAD: usize = 96;
/// Per-header overhead, same idea.
const HEADER_OVERHEAD: usize = 48;

/// Upper estimate of the bytes one record adds to a batch.
pub(crate) fn record_size(key: Option<&[u8]>, value: &[u8], headers: &[(String, Bytes)]) -> usize {
    let headers: usize = headers.iter().map(|(k, v)| k.len() + v.len() + HEADER_OVERHEAD).sum();
    RECORD_OVERHEAD + key.map_or(0, <[u8]>::len) + value.len() + headers
}

/// Where a record's outcome goes, and what the producer tracks about it.
pub(crate) struct RecordSlot {
    pub report: ReportTo,
    /// Create time (ms since the epoch) the record was encoded with.
    pub timestamp: i64,
    /// Flush epoch the record was accepted in.
    pub epoch: u64,
}

/// A batch of one partition, open (being filled) or closed.
pub(crate) struct ProducerBatch {
    pub topic: Rc<str>,
    pub partition: u32,
    builder: Option<BatchBuilder>,
    encoded: Option<Bytes>,
    pub records: Vec<RecordSlot>,
    created: Instant,
    closed: bool,
    /// Send attempts that failed so far.
    pub attempts: u32,
    /// Not to be sent again before this.
    pub retry_at: Option<Instant>,
    /// Its place in its partition's order, from its first take.
    send_id: Option<u64>,
    /// What its producer fields were written under (the idempotent
    /// producer's [`StampKey`](super::producer_idempotence::StampKey)).
    pub stamp: Option<super::producer_idempotence::StampKey>,
}

impl ProducerBatch {
    /// Sets the idempotent producer fields, before the first encode.
    pub fn set_producer(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) {
        if let Some(builder) = &mut self.builder {
            builder.set_producer(producer_id, producer_epoch, base_sequence);
        }
    }

    /// Rewrites the producer fields of an encoded batch (and its CRC), for
    /// a resend under a new producer id or restarted sequences.
    pub fn restamp(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> ClientResult<()> {
        let Some(encoded) = &self.encoded else {
            self.set_producer(producer_id, producer_epoch, base_sequence);
            return Ok(());
        };
        let mut bytes = encoded.to_vec();
        if !corelog_format::restamp_producer(&mut bytes, producer_id, producer_epoch, base_sequence) {
            return Err(ClientError::Protocol("an encoded batch could not be restamped".into()));
        }
        self.encoded = Some(Bytes::from(bytes));
        Ok(())
    }

    /// The encoded batch (built on first call; kept for retries).
    pub fn encode(&mut self) -> ClientResult<Bytes> {
        if let Some(bytes) = &self.encoded {
            return Ok(bytes.clone());
        }
        let builder = self.builder.take().ok_or(ClientError::Closed)?;
        let bytes = builder.build()?.freeze();
        self.encoded = Some(bytes.clone());
        Ok(bytes)
    }

    fn estimated_size(&self) -> usize {
        match (&self.builder, &self.encoded) {
            (Some(b), _) => b.estimated_size(),
            (None, Some(e)) => e.len(),
            (None, None) => 0,
        }
    }
}

#[derive(Default)]
struct PartitionQueue {
    batches: VecDeque<ProducerBatch>,
    /// Batches taken and not yet back or done.
    in_flight: usize,
    /// Send ids of the batches taken and not done (in flight, or back in
    /// the queue for a retry).
    unresolved: BTreeSet<u64>,
    next_send_id: u64,
}

/// What [`Accumulator::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Appended {
    /// A batch was closed (full), so it is ready to send.
    pub closed_batch: bool,
    /// A new batch was started (a new linger deadline exists).
    pub new_batch: bool,
}

/// Per-partition batch queues of one producer.
pub(crate) struct Accumulator {
    batch_size: usize,
    /// Most batches of one partition in flight at once.
    depth: usize,
    linger: Duration,
    compression: Compression,
    /// Looked up for every record: FxHash, not SipHash (the keys are the
    /// application's own topic names, nothing an attacker picks).
    queues: FxHashMap<Rc<str>, FxHashMap<u32, PartitionQueue>>,
}

impl Accumulator {
    /// `depth`: most batches of one partition in flight at once (see the
    /// module doc).
    pub fn new(batch_size: usize, depth: usize, linger: Duration, compression: Compression) -> Self {
        Accumulator {
            batch_size: batch_size.max(1),
            depth: depth.max(1),
            linger,
            compression,
            queues: FxHashMap::default(),
        }
    }

    /// Most batches of one partition in flight at once.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Adds a record to the last batch of `topic`/`partition`; `now` is
    /// read only if a new batch starts (its linger runs from then), not for
    /// every record.
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &mut self,
        topic: &str,
        partition: u32,
        key: Option<Bytes>,
        value: Bytes,
        headers: Vec<(String, Bytes)>,
        slot: RecordSlot,
        now: impl FnOnce() -> Instant,
    ) -> Appended {
        let size = record_size(key.as_deref(), &value, &headers);
        let (batch_size, compression) = (self.batch_size, self.compression);
        let topic_rc: Rc<str> = match self.queues.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => Rc::from(topic),
        };
        let queue = self.queue_mut(&topic_rc, partition);
        let mut out = Appended::default();
        let fits = |b: &ProducerBatch| !b.closed && (b.records.is_empty() || b.estimated_size() + size <= batch_size);
        if !queue.batches.back().is_some_and(fits) {
            if let Some(last) = queue.batches.back_mut() {
                out.closed_batch |= !last.closed;
                last.closed = true;
            }
            queue.batches.push_back(ProducerBatch {
                topic: topic_rc.clone(),
                partition,
                builder: Some(BatchBuilder::new(compression)),
                encoded: None,
                records: Vec::new(),
                created: now(),
                closed: false,
                attempts: 0,
                retry_at: None,
                send_id: None,
                stamp: None,
            });
            out.new_batch = true;
        }
        let batch = queue.batches.back_mut().expect("pushed above");
        if let Some(builder) = &mut batch.builder {
            builder.push_shared(key, value, slot.timestamp, headers);
        }
        batch.records.push(slot);
        if batch.estimated_size() >= batch_size {
            batch.closed = true;
            out.closed_batch = true;
        }
        out
    }

    /// The partitions whose head batch may be sent now, and the earliest
    /// instant another one becomes sendable (linger or backoff expiry).
    pub fn ready(&self, now: Instant, flushing: bool) -> (Vec<(Rc<str>, u32)>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        let mut wake_at = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        for (topic, partitions) in &self.queues {
            for (&partition, queue) in partitions {
                let Some(head) = queue.batches.front() else { continue };
                if queue.in_flight >= self.depth {
                    continue; // a completion wakes the sender
                }
                if let Some(at) = head.retry_at.filter(|at| *at > now) {
                    wake_at(at);
                    continue;
                }
                let due = head.created + self.linger;
                if head.closed || flushing || due <= now {
                    ready.push((topic.clone(), partition));
                } else {
                    wake_at(due);
                }
            }
        }
        ready.sort();
        (ready, next)
    }

    /// Takes the head batch of a partition for sending (closing it) and
    /// counts it in flight.
    pub fn take(&mut self, topic: &str, partition: u32) -> Option<ProducerBatch> {
        let depth = self.depth;
        let queue = self.queues.get_mut(topic)?.get_mut(&partition)?;
        if queue.in_flight >= depth {
            return None;
        }
        let mut batch = queue.batches.pop_front()?;
        batch.closed = true;
        if batch.send_id.is_none() {
            batch.send_id = Some(queue.next_send_id);
            queue.unresolved.insert(queue.next_send_id);
            queue.next_send_id += 1;
        }
        queue.in_flight += 1;
        Some(batch)
    }

    /// Puts a batch whose send failed back, to be sent again: after the
    /// retries of earlier batches, before later ones and the never-sent.
    pub fn requeue(&mut self, batch: ProducerBatch) {
        let queue = self.queue_mut(&batch.topic, batch.partition);
        queue.in_flight = queue.in_flight.saturating_sub(1);
        let at = queue
            .batches
            .iter()
            .position(|b| match (b.send_id, batch.send_id) {
                (Some(queued), Some(mine)) => queued > mine,
                _ => true,
            })
            .unwrap_or(queue.batches.len());
        queue.batches.insert(at, batch);
    }

    /// Whether a batch of `batch`'s partition sent before it is still
    /// unresolved (in flight or waiting for its retry): then a refusal of
    /// `batch` for a gap in the sequences may be that batch's doing.
    pub fn has_earlier_unresolved(&self, batch: &ProducerBatch) -> bool {
        let Some(mine) = batch.send_id else { return false };
        let queue = self.queues.get(&*batch.topic).and_then(|p| p.get(&batch.partition));
        queue.is_some_and(|q| q.unresolved.first().is_some_and(|&first| first < mine))
    }

    /// Ends the send of a taken batch (after success or final failure).
    pub fn done(&mut self, batch: &ProducerBatch) {
        let (topic, partition) = (&*batch.topic, batch.partition);
        if let Some(partitions) = self.queues.get_mut(topic) {
            if let Some(queue) = partitions.get_mut(&partition) {
                queue.in_flight = queue.in_flight.saturating_sub(1);
                if let Some(id) = batch.send_id {
                    queue.unresolved.remove(&id);
                }
                if queue.batches.is_empty() && queue.in_flight == 0 {
                    partitions.remove(&partition);
                }
            }
            if partitions.is_empty() {
                self.queues.remove(topic);
            }
        }
    }

    /// Whether nothing is queued or in flight.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queues.values().all(|p| p.values().all(|q| q.batches.is_empty() && q.in_flight == 0))
    }

    fn queue_mut(&mut self, topic: &Rc<str>, partition: u32) -> &mut PartitionQueue {
        self.queues.entry(topic.clone()).or_default().entry(partition).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelog_format::{iter_batches, DecodedBatch};

    fn slot(ts: i64) -> RecordSlot {
        let (tx, _) = futures::channel::oneshot::channel();
        RecordSlot { report: ReportTo::future(tx), timestamp: ts, epoch: 0 }
    }

    fn push(acc: &mut Accumulator, p: u32, value: &[u8], now: Instant) -> Appended {
        acc.append("t", p, Some(Bytes::from_static(b"k")), Bytes::copy_from_slice(value), vec![], slot(1_000), || now)
    }

    #[test]
    fn batches_close_at_batch_size() {
        let now = Instant::now();
        let mut acc = Accumulator::new(1_000, 1, Duration::from_secs(60), Compression::None);
        let first = push(&mut acc, 0, &[7; 300], now);
        assert_eq!(first, Appended { closed_batch: false, new_batch: true });
        assert_eq!(push(&mut acc, 0, &[7; 300], now), Appended::default());
        // The third would overflow 1000 estimated bytes: new batch, old one closed.
        assert_eq!(push(&mut acc, 0, &[7; 300], now), Appended { closed_batch: true, new_batch: true });
        let (ready, next) = acc.ready(now, false);
        assert_eq!(ready, vec![(Rc::from("t"), 0)]);
        assert_eq!(next, None, "the only other batch is behind the ready head");
        let mut batch = acc.take("t", 0).unwrap();
        assert_eq!(batch.records.len(), 2);
        let bytes = batch.encode().unwrap();
        assert!(bytes.len() <= 1_000, "batch of {} bytes exceeds batch_size", bytes.len());
        let decoded: Vec<_> = iter_batches(&bytes, 1 << 20).collect();
        assert_eq!(decoded.len(), 1);
        let b = DecodedBatch::decode(decoded[0].as_ref().unwrap(), 1 << 20).unwrap();
        assert_eq!(b.len(), 2);
        // In flight: the partition's next batch waits even if closed.
        assert!(acc.ready(now, true).0.is_empty());
        acc.done(&batch);
        assert_eq!(acc.ready(now, true).0.len(), 1);
    }

    #[test]
    fn oversized_record_gets_its_own_closed_batch() {
        let now = Instant::now();
        let mut acc = Accumulator::new(100, 1, Duration::from_secs(60), Compression::None);
        let a = push(&mut acc, 0, &[1; 500], now);
        assert!(a.closed_batch && a.new_batch);
        let batch = acc.take("t", 0).unwrap();
        assert_eq!(batch.records.len(), 1);
    }

    #[test]
    fn linger_and_flush_decide_readiness() {
        let now = Instant::now();
        let linger = Duration::from_millis(5);
        let mut acc = Accumulator::new(1 << 20, 1, linger, Compression::None);
        push(&mut acc, 0, b"a", now);
        push(&mut acc, 1, b"b", now + Duration::from_millis(2));
        let (ready, next) = acc.ready(now, false);
        assert!(ready.is_empty());
        assert_eq!(next, Some(now + linger));
        assert_eq!(acc.ready(now, true).0.len(), 2, "flush ignores linger");
        let (ready, next) = acc.ready(now + linger, false);
        assert_eq!(ready, vec![(Rc::from("t"), 0)]);
        assert_eq!(next, Some(now + Duration::from_millis(7)));
    }

    #[test]
    fn requeue_keeps_order_and_backoff() {
        let now = Instant::now();
        let mut acc = Accumulator::new(1 << 20, 1, Duration::ZERO, Compression::None);
        acc.append("t", 0, None, Bytes::from_static(b"first"), vec![], slot(1), || now);
        let mut first = acc.take("t", 0).unwrap();
        acc.append("t", 0, None, Bytes::from_static(b"second"), vec![], slot(2), || now);
        assert!(acc.ready(now, false).0.is_empty(), "one send in flight per partition");
        first.attempts += 1;
        first.retry_at = Some(now + Duration::from_millis(100));
        acc.requeue(first);
        let (ready, next) = acc.ready(now, false);
        assert!(ready.is_empty());
        assert_eq!(next, Some(now + Duration::from_millis(100)));
        let later = now + Duration::from_millis(100);
        assert_eq!(acc.ready(later, false).0.len(), 1);
        let again = acc.take("t", 0).unwrap();
        assert_eq!(again.records[0].timestamp, 1, "the failed batch goes first");
        assert_eq!(again.attempts, 1);
        acc.done(&again);
        let second = acc.take("t", 0).unwrap();
        assert_eq!(second.records[0].timestamp, 2);
        assert!(!acc.is_empty());
        acc.done(&second);
        assert!(acc.is_empty());
    }

    #[test]
    fn an_idempotent_partition_pipelines_and_resends_failures_in_order() {
        let now = Instant::now();
        let mut acc = Accumulator::new(1 << 20, 3, Duration::ZERO, Compression::None);
        let mut taken = Vec::new();
        for ts in 1..=4 {
            acc.append("t", 0, None, Bytes::from_static(b"r"), vec![], slot(ts), || now);
            taken.extend(acc.take("t", 0));
        }
        assert_eq!(taken.len(), 3, "three in flight, the fourth waits");
        assert!(acc.ready(now, false).0.is_empty());
        let [first, second, third]: [ProducerBatch; 3] = taken.try_into().ok().unwrap();
        assert!(!acc.has_earlier_unresolved(&first));
        assert!(acc.has_earlier_unresolved(&third));
        // The first and third fail, the third's answer coming first; the
        // second succeeds.
        acc.requeue(third);
        acc.requeue(first);
        acc.done(&second);
        let order: Vec<i64> = (0..3).map(|_| acc.take("t", 0).unwrap().records[0].timestamp).collect();
        assert_eq!(order, [1, 3, 4], "retries first, in their order, then the never-sent batch");
    }

    #[test]
    fn headers_count_toward_size() {
        let h = vec![("trace".to_owned(), Bytes::from_static(&[0; 100]))];
        assert_eq!(record_size(None, b"", &h), RECORD_OVERHEAD + 5 + 100 + HEADER_OVERHEAD);
        assert_eq!(record_size(Some(b"kk"), b"vvv", &[]), RECORD_OVERHEAD + 5);
    }
}
