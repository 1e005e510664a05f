//! The producer's state shared by its handle, its sender task and its
//! in-flight requests: [`Shared`] and the mutable [`State`] inside it, with
//! the bookkeeping every side does on them (adding a record to its batch,
//! settling records, running delivery callbacks).
//!
//! The layers above use it and it uses neither: `producer` (the public
//! handle and the sender task's dispatch) and `producer_send` (one produce
//! request and what its answer means) both build on this file.
//!
//! Lives on: the core that created the producer (`!Send`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use corelog_runtime::sync::Notify;

use super::accumulator::{Accumulator, Appended, ProducerBatch, RecordSlot};
use super::error::{ClientError, ClientResult};
use super::flush::FlushTracker;
use super::metadata::Cluster;
use super::metadata_fetch::MetadataFetch;
use super::partitioner::Partitioner;
use super::producer_config::ProducerConfig;
use super::producer_idempotence::Idempotence;
use super::producer_record::{DeliveryCallback, ProducerRecord, RecordMetadata};

/// What a producer's handle, sender task and in-flight requests share
/// (through an `Rc`): the cluster it routes with, its settings, its state,
/// and the notification that wakes the sender task.
pub(crate) struct Shared {
    pub cluster: Cluster,
    pub config: ProducerConfig,
    pub state: RefCell<State>,
    pub wake: Notify,
}

/// The producer's mutable state (in [`Shared::state`], borrowed by one side
/// at a time and never across an `.await`): open batches, records waiting for their topic's metadata,
/// requests in flight per endpoint, flush and delivery bookkeeping.
pub(crate) struct State {
    pub acc: Accumulator,
    pub partitioner: Partitioner,
    /// Records of topics whose metadata is not known yet, in send order.
    pub awaiting: HashMap<String, Vec<(ProducerRecord, RecordSlot)>>,
    pub metadata: MetadataFetch,
    pub in_flight: HashMap<SocketAddr, usize>,
    pub flush: FlushTracker,
    /// Callbacks with their outcomes and flush epochs, to be run once the
    /// state is no longer borrowed.
    pub callbacks: Vec<(DeliveryCallback, ClientResult<RecordMetadata>, u64)>,
    /// Producer id and sequences, when idempotent.
    pub idempotence: Option<Idempotence>,
}

impl State {
    /// Reports a record's final outcome.
    pub(crate) fn settle(&mut self, slot: RecordSlot, outcome: ClientResult<RecordMetadata>) {
        match slot.report.report(outcome) {
            Some((callback, outcome)) => self.callbacks.push((callback, outcome, slot.epoch)),
            None => self.flush.done(slot.epoch),
        }
    }
}

impl Shared {
    /// Partitions a record of a topic with `count` partitions and adds it to
    /// its batch; fails the record if its explicit partition does not exist.
    pub(crate) fn append(
        &self,
        st: &mut State,
        count: u32,
        record: ProducerRecord,
        slot: RecordSlot,
    ) -> Option<Appended> {
        let ProducerRecord { topic, partition, key, value, headers, .. } = record;
        let partition = st.partitioner.partition(&topic, partition, key.as_deref(), count);
        if partition >= count {
            st.settle(slot, Err(ClientError::UnknownPartition { topic, partition }));
            return None;
        }
        let appended = st.acc.append(&topic, partition, key, value, headers, slot, Instant::now);
        if appended.closed_batch {
            st.partitioner.batch_closed(&topic, partition, count);
        }
        Some(appended)
    }

    /// Reports the outcome of a batch to its records: the base offset and
    /// log-append time on success.
    pub(crate) fn complete(
        &self,
        st: &mut State,
        batch: ProducerBatch,
        result: ClientResult<(Option<u64>, Option<i64>)>,
    ) {
        let ProducerBatch { topic, partition, records, .. } = batch;
        for (i, slot) in records.into_iter().enumerate() {
            let outcome = match &result {
                Ok((base, append_time)) => Ok(RecordMetadata {
                    topic: topic.clone(),
                    partition,
                    offset: base.map(|b| b + i as u64),
                    timestamp: append_time.unwrap_or(slot.timestamp),
                }),
                Err(e) => Err(e.clone()),
            };
            st.settle(slot, outcome);
        }
    }

    /// Runs the callbacks of settled records (outside the state borrow, so
    /// they may send), then counts them done for `flush`.
    pub(crate) fn run_callbacks(&self) {
        loop {
            let due = std::mem::take(&mut self.state.borrow_mut().callbacks);
            if due.is_empty() {
                return;
            }
            let mut epochs = Vec::with_capacity(due.len());
            for (callback, outcome, epoch) in due {
                callback(outcome);
                epochs.push(epoch);
            }
            let mut st = self.state.borrow_mut();
            for epoch in epochs {
                st.flush.done(epoch);
            }
        }
    }
}
