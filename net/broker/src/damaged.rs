//! Damaged stored batches that reads ran into: each is counted
//! (`corelog_corrupt_batches_total`) and logged once per partition and byte
//! position, however many consumers keep asking for it; the warnings are
//! rate-limited per core besides, so a disk full of damage cannot flood the
//! log. The reader gets `CORRUPT_MESSAGE` (errors.rs) either way.
//!
//! Lives on: one per core, in its `ServerContext` (no locks: only that core's
//! handlers touch it).

use std::cell::RefCell;
use std::collections::HashSet;

use corelog_storage::LogError;

use crate::limits::{DAMAGED_BATCH_LOG_INTERVAL, DAMAGED_BATCH_WARNINGS_PER_INTERVAL, MAX_REMEMBERED_DAMAGED_BATCHES};
use crate::log_throttle::LogThrottle;
use crate::metrics::CoreMetrics;

/// A damaged batch: topic, partition, segment base offset, byte position.
type Place = (String, u32, u64, u64);

pub struct DamagedBatches {
    state: RefCell<State>,
}

impl Default for DamagedBatches {
    fn default() -> Self {
        let log = LogThrottle::new(DAMAGED_BATCH_LOG_INTERVAL, DAMAGED_BATCH_WARNINGS_PER_INTERVAL);
        DamagedBatches { state: RefCell::new(State { seen: HashSet::new(), log }) }
    }
}

struct State {
    /// Batches already counted and logged (at most
    /// `MAX_REMEMBERED_DAMAGED_BATCHES`; past that, new ones are counted and
    /// logged each time they are read, within the rate limit).
    seen: HashSet<Place>,
    log: LogThrottle,
}

impl DamagedBatches {
    /// Notes what a read of `topic`/`partition` failed with, if it is a
    /// damaged batch: counted and logged the first time that batch is seen.
    pub fn report(&self, metrics: &CoreMetrics, topic: &str, partition: u32, error: &LogError) {
        let LogError::CorruptBatch { offset, next_offset, segment, position, reason } = error else { return };
        let mut st = self.state.borrow_mut();
        let place = (topic.to_owned(), partition, *segment, *position);
        if st.seen.contains(&place) {
            return;
        }
        if st.seen.len() < MAX_REMEMBERED_DAMAGED_BATCHES {
            st.seen.insert(place);
        }
        metrics.corrupt_batch_found();
        let Some(suppressed) = st.log.allow() else { return };
        tracing::warn!(
            topic,
            partition,
            offset,
            next_offset,
            segment,
            position,
            %reason,
            not_logged_before = suppressed,
            "damaged stored batch; not served (readers get CORRUPT_MESSAGE; offsets from next_offset on read fine)"
        );
    }
}
