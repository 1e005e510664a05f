//! What a leader knows of one follower: how far it has replicated and when
//! it was last caught up (Kafka's `Replica` state on the leader). Lives
//! inside the leader's state machine on the partition's core.

/// One follower, as its fetches report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FollowerProgress {
    /// The durable end the follower last reported since this leadership
    /// began: it holds every offset below durably. `None` until it fetches.
    pub(crate) replicated_end: Option<u64>,
    /// When its durable end last moved up or caught up with its fetch
    /// offset: a follower whose disk stops syncing is not in sync, however
    /// well it fetches.
    last_durable_progress_ms: u64,
    /// Kafka's `lastCaughtUpTimeMs`.
    pub(crate) last_caught_up_ms: u64,
    /// Time and leader log end of the previous fetch, for Kafka's second
    /// caught-up rule.
    last_fetch_ms: u64,
    last_fetch_leader_end: u64,
}

impl FollowerProgress {
    /// A follower as a new leader first sees it: an ISR member counts as
    /// caught up now (it gets a full lag interval to fetch); any other as
    /// never (Kafka's `resetReplicaState`).
    pub(crate) fn new(in_isr: bool, now_ms: u64) -> Self {
        let caught_up = if in_isr { now_ms } else { 0 };
        Self {
            replicated_end: None,
            last_caught_up_ms: caught_up,
            last_durable_progress_ms: caught_up,
            last_fetch_ms: caught_up,
            last_fetch_leader_end: 0,
        }
    }

    /// A fetch at `fetch_offset`, durable below `durable_end` (at most
    /// `fetch_offset`), while the leader's log ends at `leader_end`. Caught
    /// up if the fetch offset reached the leader's end as of this fetch, or
    /// the end as of its previous fetch (it then was caught up at that
    /// time): Kafka's `updateFetchState`, on the fetch offset because a
    /// pipelining follower's durable end trails it by design.
    pub(crate) fn record_fetch(&mut self, fetch_offset: u64, durable_end: u64, leader_end: u64, now_ms: u64) {
        debug_assert!(durable_end <= fetch_offset);
        if fetch_offset >= leader_end {
            self.last_caught_up_ms = self.last_caught_up_ms.max(now_ms);
        } else if fetch_offset >= self.last_fetch_leader_end {
            self.last_caught_up_ms = self.last_caught_up_ms.max(self.last_fetch_ms);
        }
        if durable_end == fetch_offset || self.replicated_end.is_none_or(|old| durable_end > old) {
            self.last_durable_progress_ms = self.last_durable_progress_ms.max(now_ms);
        }
        self.replicated_end = Some(durable_end);
        self.last_fetch_ms = now_ms;
        self.last_fetch_leader_end = leader_end;
    }

    /// Kafka's `isCaughtUp` (durably at the leader's end, or caught up
    /// within the lag limit), and its disk made progress within the limit.
    pub(crate) fn is_caught_up(&self, leader_end: u64, now_ms: u64, lag_max_ms: u64) -> bool {
        let within = |since: u64| now_ms.saturating_sub(since) <= lag_max_ms;
        self.replicated_end == Some(leader_end)
            || (within(self.last_caught_up_ms) && within(self.last_durable_progress_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catching_the_previous_end_counts_from_the_previous_fetch() {
        let mut p = FollowerProgress::new(true, 0);
        p.record_fetch(0, 0, 10, 100); // behind
        assert_eq!(p.last_caught_up_ms, 0);
        p.record_fetch(10, 10, 20, 200); // reached the end as of the fetch at 100
        assert_eq!(p.last_caught_up_ms, 100);
        p.record_fetch(20, 20, 20, 300); // at the end now
        assert_eq!(p.last_caught_up_ms, 300);
        assert_eq!(p.replicated_end, Some(20));
    }

    #[test]
    fn caught_up_by_end_or_by_time() {
        let mut p = FollowerProgress::new(true, 1_000);
        assert!(p.is_caught_up(50, 1_000 + 30_000, 30_000));
        assert!(!p.is_caught_up(50, 1_000 + 30_001, 30_000));
        p.record_fetch(50, 50, 60, 1_500);
        assert!(!p.is_caught_up(60, 40_000, 30_000));
        // A follower holding the whole log stays in sync on an idle partition.
        assert!(p.is_caught_up(50, 40_000, 30_000));
        let outsider = FollowerProgress::new(false, 1_000);
        assert!(!outsider.is_caught_up(0, 40_000, 30_000));
    }

    #[test]
    fn the_fetch_offset_catches_up_and_the_durable_end_counts() {
        let mut p = FollowerProgress::new(true, 0);
        // Pipelined: the records fetched last are still being synced.
        p.record_fetch(20, 10, 20, 100);
        assert_eq!(p.last_caught_up_ms, 100);
        assert_eq!(p.replicated_end, Some(10));
        assert!(p.is_caught_up(20, 100, 30_000));
    }

    #[test]
    fn a_follower_whose_disk_stops_syncing_falls_out_of_sync() {
        let mut p = FollowerProgress::new(true, 0);
        p.record_fetch(10, 10, 10, 1_000);
        // It goes on fetching, caught up by fetch offset, but its durable
        // end never moves again.
        for t in 1..=40 {
            p.record_fetch(10 + t, 10, 10 + t, 1_000 + t * 1_000);
        }
        assert_eq!(p.last_caught_up_ms, 41_000);
        assert!(!p.is_caught_up(50, 41_000, 30_000));
    }
}
