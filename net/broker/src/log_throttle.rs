//! At most so many log lines per interval for an event that may repeat
//! without end (failed accepts, refused connections, damaged batches), with
//! the count of the ones left out carried by the next line logged.
//!
//! Lives on: the core whose event it throttles (plain state, no locks).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    per_interval: usize,
    /// Start of the current window and the lines logged in it.
    window: Option<Instant>,
    logged: usize,
    /// Events not logged since the last line.
    suppressed: u64,
}

impl LogThrottle {
    /// Lets `per_interval` (at least one) lines through per `interval`.
    pub fn new(interval: Duration, per_interval: usize) -> Self {
        LogThrottle { interval, per_interval: per_interval.max(1), window: None, logged: 0, suppressed: 0 }
    }

    /// One more event: `Some(events not logged before it)` if it may be
    /// logged now, None if it is counted and left out.
    pub fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.window.is_none_or(|start| now.duration_since(start) >= self.interval) {
            self.window = Some(now);
            self.logged = 0;
        }
        if self.logged >= self.per_interval {
            self.suppressed += 1;
            return None;
        }
        self.logged += 1;
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_the_first_lines_of_a_window_through_and_counts_the_rest() {
        let mut t = LogThrottle::new(Duration::from_secs(3600), 2);
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), None);
        assert_eq!(t.allow(), None);
        // A new window: the next line carries the two left out.
        t.window = t.window.map(|w| w - Duration::from_secs(3601));
        assert_eq!(t.allow(), Some(2));
        assert_eq!(t.allow(), Some(0));
    }
}
