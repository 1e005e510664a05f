//! What the consumer does with a fetch answer: decode and hand out records,
//! advance positions, and react to per-partition errors.

use std::collections::HashMap;
use std::time::Instant;

use super::{Asked, Consumer, Fetched, OffsetReset, StartAt};
use crate::consumer_records::{decode_records, ConsumerRecord};
use crate::error::{check_code, ClientError};
use corelog_protocol::{ErrorCode, FetchPartitionResponse};

impl Consumer {
    /// Applies one fetch answer, appending its new records to `out`.
    pub(super) fn handle(&mut self, fetched: Fetched, out: &mut Vec<ConsumerRecord>) {
        let Fetched { addr, asked, result } = fetched;
        self.in_flight.remove(&addr);
        for a in &asked {
            if let Some(s) = self.partitions.get_mut(&(a.topic.clone(), a.partition)) {
                s.fetching = false;
            }
        }
        let now = Instant::now();
        let backoff = self.config.retry_backoff;
        let response = result.and_then(|r| check_code(r.error, r.error_message.clone()).map(|()| r));
        let response = match response {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                tracing::debug!(%addr, error = %e, "fetch failed; backing off");
                self.backoff.insert(addr, now + backoff);
                if e.needs_metadata_refresh() {
                    for a in &asked {
                        self.mark_stale(&a.topic);
                    }
                }
                return;
            }
            Err(e) => return self.defer(e),
        };
        self.backoff.remove(&addr);
        let answers: HashMap<(&str, u32), &FetchPartitionResponse> = response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| ((t.name.as_str(), p.partition), p)))
            .collect();
        for Asked { topic, partition, offset, epoch } in asked {
            let Some(p) = answers.get(&(&*topic, partition)) else { continue };
            let Some(s) = self.partitions.get_mut(&(topic.clone(), partition)) else { continue };
            if s.epoch != epoch || s.position != Some(offset) {
                continue; // seeked meanwhile: this data is for an old position
            }
            let err = match p.error {
                ErrorCode::None => {
                    s.high_watermark = Some(p.high_watermark);
                    match decode_records(&topic, partition, &p.records.to_bytes(), offset, out) {
                        Ok(next) => {
                            s.position = Some(next);
                            None
                        }
                        Err(e) => Some(ClientError::Batch(e)),
                    }
                }
                ErrorCode::OffsetOutOfRange if self.config.auto_reset != OffsetReset::None => {
                    tracing::debug!(%topic, partition, offset, "position out of range; resetting");
                    s.position = None;
                    s.start = match self.config.auto_reset {
                        OffsetReset::Latest => StartAt::Latest,
                        _ => StartAt::Earliest,
                    };
                    None
                }
                ErrorCode::CorruptMessage => {
                    // Damaged on disk: the same read fails the same way, so
                    // it is the caller's to decide (seek past it, or stop).
                    s.retry_at = Some(now + backoff);
                    let message = p.error_message.clone();
                    Some(ClientError::CorruptMessage { topic: topic.to_string(), partition, offset, message })
                }
                code => {
                    let owner = p.current_owner.clone();
                    let message = p.error_message.clone();
                    let e = ClientError::for_partition(code, message, &topic, partition, owner);
                    if let ClientError::NotOwner { current_owner: Some(owner), .. } = &e {
                        self.cluster.update_owner(&topic, partition, owner);
                        None
                    } else {
                        s.retry_at = Some(now + backoff);
                        Some(e)
                    }
                }
            };
            match err {
                Some(e) if e.needs_metadata_refresh() => {
                    tracing::debug!(%topic, partition, offset, error = %e, "fetch: stale metadata; refreshing");
                    self.mark_stale(&topic)
                }
                Some(e) if e.is_retriable() => {
                    tracing::debug!(%topic, partition, offset, error = %e, "fetch failed; retrying after a backoff")
                }
                Some(e) => self.defer(e),
                None => {}
            }
        }
    }

    fn mark_stale(&mut self, topic: &std::rc::Rc<str>) {
        if !self.stale.contains(topic) {
            self.stale.push(topic.clone());
        }
    }

    /// Keeps the first error for `poll` to report once its records are out.
    fn defer(&mut self, err: ClientError) {
        tracing::debug!(error = %err, "consumer error");
        if self.deferred.is_none() {
            self.deferred = Some(err);
        }
    }
}
