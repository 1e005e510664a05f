//! The idempotent producer's side (Kafka's `enable.idempotence`): a producer
//! id from the brokers, and per partition the sequence of the next batch,
//! written into each batch's header when it is first encoded. A retried
//! batch keeps its bytes, so the partition's leader recognises it (among the
//! producer's last ten batches) and answers with its original offsets
//! instead of storing it twice — across a leader failover too, since
//! followers keep the same producer state.
//!
//! A batch that fails for good leaves a gap in its partition's sequences;
//! as Kafka's idempotent producer without a transactional id does, the
//! producer then takes a new id, and every partition starts over at 0.
//! A partition whose leader has no state for the producer (UnknownProducerId:
//! the topic was deleted and created again, or retention removed every batch
//! of ours) starts over at 0 under the same id (Kafka's KIP-360). Batches
//! written under an id or a start that is no longer current are restamped
//! (producer fields and CRC rewritten, records untouched) before they are
//! sent again, in their partition's order.
//!
//! Lives on: the producer's core, inside its state.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corelog_protocol::{InitProducerIdRequest, Request, Response};

use super::error::ClientError;
use super::producer_state::{Shared, State};

/// What a batch's producer fields were written under: producer id, epoch
/// and how many times its partition's sequences had started over.
pub(crate) type StampKey = (i64, i16, u32);

/// The producer id and the next sequence of every partition written to.
#[derive(Default)]
pub(crate) struct Idempotence {
    /// The id and epoch batches are written with, once a broker gave one.
    producer: Option<(i64, i16)>,
    /// An InitProducerId is on its way.
    asking: bool,
    /// Not to ask again before this (after a failed ask).
    retry_at: Option<Instant>,
    failed_asks: u32,
    next_sequence: HashMap<(Rc<str>, u32), i32>,
    /// Per partition: how many times its sequences started over.
    restarts: HashMap<(Rc<str>, u32), u32>,
}

impl Idempotence {
    /// The producer fields for the next batch of `topic`/`partition`, which
    /// holds `records` records, reserving their sequences; None until a
    /// producer id is known.
    pub(crate) fn next_batch(&mut self, topic: &Rc<str>, partition: u32, records: u32) -> Option<(i64, i16, i32)> {
        let (id, epoch) = self.producer?;
        let next = self.next_sequence.entry((topic.clone(), partition)).or_insert(0);
        let base = *next;
        *next = wrapping_add(base, records);
        Some((id, epoch, base))
    }

    /// What a batch of `topic`/`partition` stamped now is stamped under;
    /// None until a producer id is known.
    pub(crate) fn stamp_key(&self, topic: &Rc<str>, partition: u32) -> Option<StampKey> {
        let (id, epoch) = self.producer?;
        let restarts = self.restarts.get(&(topic.clone(), partition)).copied().unwrap_or(0);
        Some((id, epoch, restarts))
    }

    /// The partition's leader knows nothing of this producer: its sequences
    /// start over at 0 (batches stamped before are restamped when resent).
    pub(crate) fn restart_partition(&mut self, topic: &Rc<str>, partition: u32) {
        let key = (topic.clone(), partition);
        self.next_sequence.remove(&key);
        *self.restarts.entry(key).or_insert(0) += 1;
    }

    /// A batch failed for good: its partition's sequences have a gap, so the
    /// producer starts over under a new id.
    pub(crate) fn reset(&mut self) {
        if self.producer.take().is_some() {
            tracing::debug!("a batch failed for good: taking a new producer id");
        }
        self.next_sequence.clear();
        self.restarts.clear();
    }
}

/// Sequences wrap from `i32::MAX` to 0, as Kafka's do.
fn wrapping_add(sequence: i32, n: u32) -> i32 {
    ((i64::from(sequence) + i64::from(n)) % (i64::from(i32::MAX) + 1)) as i32
}

impl Shared {
    /// Whether batches can be encoded now: without idempotence always; with
    /// it once a producer id is known (else an InitProducerId is started,
    /// and the returned instant is when to look again if it failed).
    pub(crate) fn producer_id_ready(self: &Rc<Self>, st: &mut State) -> Result<(), Option<Instant>> {
        let Some(idem) = st.idempotence.as_mut() else { return Ok(()) };
        if idem.producer.is_some() {
            return Ok(());
        }
        if idem.asking {
            return Err(None);
        }
        if let Some(at) = idem.retry_at.filter(|at| *at > Instant::now()) {
            return Err(Some(at));
        }
        idem.asking = true;
        let shared = self.clone();
        corelog_runtime::spawn(async move {
            let answer = shared.cluster.request_any(&Request::InitProducerId(InitProducerIdRequest {})).await;
            let result = match answer {
                Ok(Response::InitProducerId(r)) => match r.assigned {
                    Some(a) if r.error.is_ok() => Ok((a.producer_id, a.epoch)),
                    _ => Err(ClientError::broker(r.error, r.error_message)),
                },
                Ok(other) => {
                    Err(ClientError::Protocol(format!("InitProducerId answered with api {}", other.api_key_raw())))
                }
                Err(e) => Err(e),
            };
            let mut st = shared.state.borrow_mut();
            let idem = st.idempotence.as_mut().expect("set at creation, never removed");
            idem.asking = false;
            match result {
                Ok(producer) => {
                    idem.producer = Some(producer);
                    idem.failed_asks = 0;
                }
                Err(e) => {
                    idem.failed_asks += 1;
                    let doublings = idem.failed_asks.saturating_sub(1).min(16);
                    let delay: Duration =
                        (shared.config.retry_backoff * (1u32 << doublings)).min(shared.config.retry_backoff_max);
                    tracing::debug!(error = %e, "no producer id yet; asking again in {delay:?}");
                    idem.retry_at = Some(Instant::now() + delay);
                }
            }
            drop(st);
            shared.wake.notify();
        })
        .detach();
        Err(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_go_on_per_partition_and_start_over_after_a_reset() {
        let mut idem = Idempotence::default();
        let t: Rc<str> = "t".into();
        assert_eq!(idem.next_batch(&t, 0, 5), None, "no producer id yet");
        idem.producer = Some((7, 0));
        assert_eq!(idem.next_batch(&t, 0, 5), Some((7, 0, 0)));
        assert_eq!(idem.next_batch(&t, 0, 3), Some((7, 0, 5)));
        assert_eq!(idem.next_batch(&t, 1, 2), Some((7, 0, 0)));
        idem.reset();
        assert_eq!(idem.next_batch(&t, 0, 1), None);
        idem.producer = Some((8, 0));
        assert_eq!(idem.next_batch(&t, 0, 1), Some((8, 0, 0)));
        assert_eq!(idem.stamp_key(&t, 0), Some((8, 0, 0)));
        idem.next_batch(&t, 0, 4);
        idem.restart_partition(&t, 0);
        assert_eq!(idem.stamp_key(&t, 0), Some((8, 0, 1)), "a restart changes the stamp");
        assert_eq!(idem.next_batch(&t, 0, 1), Some((8, 0, 0)), "and starts over at 0");
        assert_eq!(idem.stamp_key(&t, 1), Some((8, 0, 0)), "other partitions keep theirs");
        assert_eq!(wrapping_add(i32::MAX, 1), 0);
        assert_eq!(wrapping_add(i32::MAX - 1, 3), 1);
    }
}
