//! The producer's network side: one produce request to one endpoint and what
//! its answer means for each batch (deliver, retry, or fail), plus the
//! metadata lookups the sender task starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::accumulator::ProducerBatch;
use super::error::{ClientError, ClientResult};
use super::metadata::resolve;
use super::producer_state::{Shared, State};
use corelog_protocol::{
    Acks, ErrorCode, ProducePartition, ProducePartitionResponse, ProduceRequest, ProduceTopic, Records, Request,
    Response,
};

/// Outcome of one batch: base offset and log-append time, or the error.
type Outcome = ClientResult<(Option<u64>, Option<i64>)>;

impl Shared {
    /// Starts a metadata refresh of `topic` unless one is running or (without
    /// `force`) one finished less than `retry_backoff` ago; in that case
    /// returns when one may start. After `retries` lookups in a row that do
    /// not find the topic, the records waiting for it fail.
    pub(crate) fn fetch_metadata(self: &Rc<Self>, st: &mut State, topic: &str, force: bool) -> Option<Instant> {
        let misses = match st.metadata.start(topic, self.config.retry_backoff, force) {
            Ok(misses) => misses,
            Err(not_now) => return not_now,
        };
        let shared = self.clone();
        let topic = topic.to_owned();
        let lookup = async move {
            let result = shared.cluster.refresh_topics(&[&topic]).await;
            let known = shared.cluster.topic(&topic).is_some();
            let misses = if known { 0 } else { misses + 1 };
            let mut st = shared.state.borrow_mut();
            st.metadata.finished(&topic, misses);
            if !known && misses > shared.config.retries {
                let err = result.err().unwrap_or_else(|| ClientError::UnknownTopic(topic.clone()));
                tracing::debug!(%topic, error = %err, "giving up on records of an unavailable topic");
                for (_, slot) in st.awaiting.remove(&topic).unwrap_or_default() {
                    st.settle(slot, Err(err.clone()));
                }
                st.metadata.forget(&topic);
            }
            drop(st);
            shared.run_callbacks();
            shared.wake.notify();
        };
        corelog_runtime::spawn(lookup).detach();
        None
    }

    /// Delivers, retries or fails `batch` according to `outcome`.
    fn finish(self: &Rc<Self>, st: &mut State, addr: SocketAddr, mut batch: ProducerBatch, outcome: Outcome) {
        let (topic, partition) = (batch.topic.clone(), batch.partition);
        // With batches pipelined, a gap may be an earlier batch's failure
        // (its retry is coming): the later batch is resent after it. A
        // leader with no state for us, refusing the partition's earliest
        // open batch, makes the partition's sequences start over (KIP-360);
        // behind an earlier batch it is that one's doing, as a gap is.
        let code = outcome.as_ref().err().and_then(ClientError::code);
        let sequencing = matches!(code, Some(ErrorCode::OutOfOrderSequence | ErrorCode::UnknownProducerId));
        let behind = sequencing && st.acc.has_earlier_unresolved(&batch);
        let restart = code == Some(ErrorCode::UnknownProducerId) && !behind && st.idempotence.is_some();
        match outcome {
            Err(e) if (e.is_retriable() || behind || restart) && batch.attempts < self.config.retries => {
                if restart {
                    if let Some(idem) = st.idempotence.as_mut() {
                        idem.restart_partition(&topic, partition);
                    }
                }
                batch.attempts += 1;
                let doublings = batch.attempts.saturating_sub(1).min(16);
                let mut delay = (self.config.retry_backoff * (1u32 << doublings)).min(self.config.retry_backoff_max);
                match &e {
                    // The broker named the owner: go there now, unless it
                    // named the endpoint we asked (then its metadata is stale).
                    ClientError::NotOwner { current_owner: Some(owner), .. }
                        if resolve(&owner.host, owner.port).is_some_and(|a| a != addr) =>
                    {
                        self.cluster.update_owner(&topic, partition, owner);
                        delay = Duration::ZERO;
                    }
                    e if e.needs_metadata_refresh() => {
                        self.fetch_metadata(st, &topic, true);
                    }
                    _ => {}
                }
                tracing::debug!(%topic, partition, attempt = batch.attempts, error = %e, "retrying produce");
                batch.retry_at = Some(Instant::now() + delay);
                st.acc.requeue(batch);
            }
            outcome => {
                if let Err(e) = &outcome {
                    tracing::debug!(%topic, partition, error = %e, "produce failed");
                    if let Some(idem) = st.idempotence.as_mut() {
                        idem.reset();
                    }
                }
                st.acc.done(&batch);
                self.complete(st, batch, outcome);
            }
        }
    }
}

/// Sends one produce request with `batches` (at most one per partition) to
/// `addr` and settles every batch.
pub(crate) async fn send_request(shared: Rc<Shared>, addr: SocketAddr, batches: Vec<(ProducerBatch, Bytes)>) {
    let acks = shared.config.acks;
    let mut topics: Vec<ProduceTopic> = Vec::new();
    for (batch, bytes) in &batches {
        let partition = ProducePartition { partition: batch.partition, records: Records::from_bytes(bytes.clone()) };
        match topics.iter_mut().find(|t| *t.name == *batch.topic) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(ProduceTopic { name: batch.topic.to_string(), partitions: vec![partition] }),
        }
    }
    let timeout_ms = u32::try_from(shared.config.request_timeout.as_millis()).unwrap_or(u32::MAX);
    let request = Request::Produce(ProduceRequest { acks, timeout_ms, topics });
    let result = match shared.cluster.connection(addr).await {
        Ok(conn) => conn.request(&request).await,
        Err(e) => Err(e),
    };
    drop(request);
    let outcomes: Vec<(ProducerBatch, Outcome)> = match result {
        Err(e) => batches.into_iter().map(|(b, _)| (b, Err(e.clone()))).collect(),
        Ok(_) if acks == Acks::None => batches.into_iter().map(|(b, _)| (b, Ok((None, None)))).collect(),
        Ok(Response::Produce(resp)) if resp.error != ErrorCode::None => {
            let err = ClientError::broker(resp.error, resp.error_message);
            batches.into_iter().map(|(b, _)| (b, Err(err.clone()))).collect()
        }
        Ok(Response::Produce(resp)) => {
            let answers: HashMap<(&str, u32), &ProducePartitionResponse> = resp
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| ((t.name.as_str(), p.partition), p)))
                .collect();
            batches
                .into_iter()
                .map(|(b, _)| {
                    let outcome = partition_outcome(answers.get(&(&*b.topic, b.partition)).copied(), &b);
                    (b, outcome)
                })
                .collect()
        }
        Ok(other) => {
            let err = ClientError::Protocol(format!("produce answered with api {}", other.api_key_raw()));
            batches.into_iter().map(|(b, _)| (b, Err(err.clone()))).collect()
        }
    };
    let mut st = shared.state.borrow_mut();
    if let Some(n) = st.in_flight.get_mut(&addr) {
        *n = n.saturating_sub(1);
    }
    for (batch, outcome) in outcomes {
        shared.finish(&mut st, addr, batch, outcome);
    }
    drop(st);
    shared.run_callbacks();
    shared.wake.notify();
}

fn partition_outcome(answer: Option<&ProducePartitionResponse>, batch: &ProducerBatch) -> Outcome {
    let Some(p) = answer else {
        return Err(ClientError::Protocol(format!(
            "produce response has no answer for partition {} of {:?}",
            batch.partition, batch.topic
        )));
    };
    if p.error.is_ok() {
        Ok((Some(p.base_offset), p.log_append_time))
    } else {
        Err(ClientError::for_partition(
            p.error,
            p.error_message.clone(),
            &batch.topic,
            batch.partition,
            p.current_owner.clone(),
        ))
    }
}
