//! The send schedule and the coordinated-omission correction.
//!
//! With a target rate, record `i` (over all producers) is *due* at
//! `start + i / rate`: producer `k` of `N` sends records `k, k+N, k+2N, …`,
//! so together they follow one evenly spaced schedule. A producer sends
//! every record that is due (a burst, if it fell behind) and then sleeps
//! until the next one is due. Latency is measured from the **due time**, not
//! from the moment the record was actually handed to the client: when the
//! producer is held back (the broker stalls and the in-flight buffer fills,
//! or the machine is busy), every record that should have gone out during
//! the hold-up is charged the time it waited. Measuring from the actual send
//! would record one slow request and then only fast ones, hiding the stall
//! ("coordinated omission").
//!
//! Without a target rate there is no schedule: latency runs from the send call.

use std::time::Duration;

/// The due times of one producer's records under a global target rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Nanoseconds between consecutive records over all producers.
    interval_ns: f64,
    /// Number of producers sharing the rate.
    stride: u64,
    /// This producer's index.
    phase: u64,
}

impl Schedule {
    /// Producer `index` of `producers` sharing `rate` records/s.
    pub fn new(rate: f64, producers: usize, index: usize) -> Schedule {
        assert!(rate > 0.0, "rate must be positive");
        let producers = producers.max(1) as u64;
        Schedule { interval_ns: 1e9 / rate, stride: producers, phase: index as u64 % producers }
    }

    /// When this producer's `j`-th record is due, from the start of the run.
    pub fn due(&self, j: u64) -> Duration {
        let global = j * self.stride + self.phase;
        Duration::from_nanos((global as f64 * self.interval_ns) as u64)
    }

    /// How many of this producer's records are due at `elapsed` (its records
    /// `0..n` have due times `<= elapsed`).
    pub fn due_count(&self, elapsed: Duration) -> u64 {
        let global = (elapsed.as_nanos() as f64 / self.interval_ns).floor() as u64;
        if global < self.phase {
            0
        } else {
            (global - self.phase) / self.stride + 1
        }
    }
}

/// How many records producer `index` of `producers` sends when `total`
/// records are sent in all (producer k sends global records k, k+N, …).
pub fn records_for(total: u64, producers: usize, index: usize) -> u64 {
    let (n, k) = (producers.max(1) as u64, index as u64);
    if total <= k {
        0
    } else {
        (total - k).div_ceil(n)
    }
}

/// The latency of a record in µs: from when it was due (or sent, without a
/// schedule) to when its outcome was seen; never negative.
pub fn latency_us(intended: Duration, completed: Duration) -> u64 {
    completed.saturating_sub(intended).as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::new_histogram;

    #[test]
    fn due_times_interleave_producers_evenly() {
        let s0 = Schedule::new(1000.0, 2, 0);
        let s1 = Schedule::new(1000.0, 2, 1);
        assert_eq!(s0.due(0), Duration::ZERO);
        assert_eq!(s1.due(0), Duration::from_millis(1));
        assert_eq!(s0.due(1), Duration::from_millis(2));
        assert_eq!(s1.due(1), Duration::from_millis(3));
        assert_eq!(s0.due_count(Duration::ZERO), 1);
        assert_eq!(s1.due_count(Duration::ZERO), 0);
        assert_eq!(s1.due_count(Duration::from_micros(999)), 0);
        assert_eq!(s1.due_count(Duration::from_millis(1)), 1);
        assert_eq!(s0.due_count(Duration::from_millis(10)), 6); // 0,2,4,6,8,10
        assert_eq!(s1.due_count(Duration::from_millis(10)), 5); // 1,3,5,7,9
        for j in 0..1000 {
            assert_eq!(s1.due_count(s1.due(j)), j + 1, "record {j} is due at its own due time");
        }
    }

    #[test]
    fn records_split_over_producers_add_up() {
        for total in [0u64, 1, 2, 7, 1000, 1001] {
            for n in 1..6 {
                let sum: u64 = (0..n).map(|k| records_for(total, n, k)).sum();
                assert_eq!(sum, total, "total {total} over {n}");
            }
        }
        assert_eq!(records_for(10, 3, 0), 4);
        assert_eq!(records_for(10, 3, 2), 3);
    }

    /// A simulated run at 1000 records/s for 3 s against a server that
    /// answers each request 1 ms after it is sent, except that the sender is
    /// blocked from 1.0 s to 2.0 s (a broker stall that filled the in-flight
    /// buffer) and then sends the whole backlog at once.
    fn simulate(corrected: bool) -> hdrhistogram::Histogram<u64> {
        let schedule = Schedule::new(1000.0, 1, 0);
        let (stall_from, stall_to) = (Duration::from_secs(1), Duration::from_secs(2));
        let service = Duration::from_millis(1);
        let mut hist = new_histogram();
        for j in 0..3000 {
            let due = schedule.due(j);
            let sent = if due >= stall_from && due < stall_to { stall_to } else { due };
            let acked = sent + service;
            let start = if corrected { due } else { sent };
            hist.record(latency_us(start, acked)).unwrap();
        }
        hist
    }

    #[test]
    fn a_stall_is_charged_to_every_send_scheduled_during_it() {
        let corrected = simulate(true);
        let naive = simulate(false);
        assert_eq!(corrected.len(), 3000);
        // Measured from the actual send, the stall is invisible.
        assert_eq!(naive.max(), 1000);
        assert_eq!(naive.count_between(0, 1000), 3000);
        // Measured from the schedule, each of the 1000 records due during the
        // stall waited from its due time until the stall ended (+1 ms), and
        // the 2000 others took 1 ms.
        assert_eq!(corrected.count_between(1001, u64::MAX), 1000);
        assert_eq!(corrected.count_between(0, 1000), 2000);
        // The record due at 1.0 s waited the whole second.
        assert!(corrected.equivalent(corrected.max(), 1_001_000));
        // Half of the stalled records waited more than 0.5 s.
        let over_half_second = corrected.count_between(501_001, u64::MAX);
        assert!((499..=501).contains(&over_half_second), "{over_half_second}");
        // The stalled latencies run evenly from 2 ms to 1001 ms, so the
        // median is still 1 ms, p90 (the 700th-fastest stalled) ~701 ms.
        assert!(corrected.equivalent(corrected.value_at_quantile(0.5), 1000));
        let p90 = corrected.value_at_quantile(0.90);
        assert!((695_000..=705_000).contains(&p90), "{p90}");
        assert!(corrected.value_at_quantile(0.99) > 960_000);
    }

    #[test]
    fn latency_never_goes_negative() {
        assert_eq!(latency_us(Duration::from_millis(5), Duration::from_millis(4)), 0);
        assert_eq!(latency_us(Duration::from_millis(5), Duration::from_micros(7500)), 2500);
    }
}
