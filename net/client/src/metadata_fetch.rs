//! [`MetadataFetch`]: which topics the producer is looking up in the
//! metadata, and when it may look a topic up again.
//!
//! Pure bookkeeping: the lookups themselves are started (and their outcome
//! acted on) by `Shared::fetch_metadata` in `producer_send`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Metadata lookups of the producer, per topic.
#[derive(Default)]
pub(crate) struct MetadataFetch {
    topics: HashMap<String, FetchState>,
}

enum FetchState {
    Running,
    /// Finished at `at`; `misses` lookups in a row did not find the topic.
    Done {
        at: Instant,
        misses: u32,
    },
}

impl MetadataFetch {
    /// Starts a lookup of `topic` and returns `Ok` with how many lookups in a
    /// row have not found it so far, unless one is running (`Err(None)`) or,
    /// without `force`, the last one finished less than `backoff` ago
    /// (`Err(Some(at))`: when one may start).
    pub fn start(&mut self, topic: &str, backoff: Duration, force: bool) -> Result<u32, Option<Instant>> {
        let misses = match self.topics.get(topic) {
            Some(FetchState::Running) => return Err(None),
            Some(FetchState::Done { at, .. }) if !force && *at + backoff > Instant::now() => {
                return Err(Some(*at + backoff))
            }
            Some(FetchState::Done { misses, .. }) => *misses,
            None => 0,
        };
        self.topics.insert(topic.to_owned(), FetchState::Running);
        Ok(misses)
    }

    /// Records that the lookup of `topic` finished now, the `misses`-th in a
    /// row not to find it (0: it was found).
    pub fn finished(&mut self, topic: &str, misses: u32) {
        self.topics.insert(topic.to_owned(), FetchState::Done { at: Instant::now(), misses });
    }

    /// Forgets `topic`: the next lookup starts afresh, with no misses.
    pub fn forget(&mut self, topic: &str) {
        self.topics.remove(topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lookup_at_a_time_then_backoff_unless_forced() {
        let backoff = Duration::from_secs(60);
        let mut m = MetadataFetch::default();
        assert_eq!(m.start("t", backoff, false), Ok(0));
        assert_eq!(m.start("t", backoff, false), Err(None), "running");
        assert_eq!(m.start("t", backoff, true), Err(None), "running, even forced");
        m.finished("t", 2);
        assert!(matches!(m.start("t", backoff, false), Err(Some(at)) if at > Instant::now()), "backing off");
        assert_eq!(m.start("t", backoff, true), Ok(2), "forced: misses carried over");
        m.finished("t", 3);
        assert_eq!(m.start("t", Duration::ZERO, false), Ok(3), "backoff over");
        m.forget("t");
        assert_eq!(m.start("t", backoff, false), Ok(0), "forgotten: afresh");
        assert_eq!(m.start("u", backoff, false), Ok(0), "topics are independent");
    }
}
