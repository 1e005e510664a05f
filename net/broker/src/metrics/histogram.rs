//! A histogram whose hot path is lock-free: fixed bucket bounds and one
//! atomic per bucket, written by the core that owns it and read by the
//! scrape thread. (prometheus-client's own `Histogram` takes a lock on every
//! observation.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Produce/fetch latency bounds in seconds: 50 µs to 10 s on a 1-2.5-5
/// scale (+Inf is implicit).
pub const LATENCY_BOUNDS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A histogram of seconds with fixed bounds. Clones share the counts.
#[derive(Debug, Clone)]
pub struct AtomicHistogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Inclusive upper bounds, ascending; the last bucket (+Inf) has none.
    bounds: Vec<f64>,
    /// Per-bucket counts (not cumulative), `bounds.len() + 1` of them.
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let bounds: Vec<f64> = bounds.into_iter().collect();
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds ascend");
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        AtomicHistogram { inner: Arc::new(Inner { bounds, buckets, sum_nanos: AtomicU64::new(0) }) }
    }

    /// A histogram with the produce/fetch latency bounds.
    pub fn latency() -> Self {
        Self::new(LATENCY_BOUNDS.iter().copied())
    }

    /// Counts one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.inner.bounds.partition_point(|&b| b < secs);
        self.add(i, 1, d);
    }

    /// Adds `n` observations to bucket `i` (an index into the bounds, or
    /// their length for +Inf) and `total` to the sum: for folding in counts
    /// taken elsewhere (the engine's fdatasync histogram).
    pub fn add(&self, i: usize, n: u64, total: Duration) {
        if n == 0 {
            return;
        }
        let i = i.min(self.inner.buckets.len() - 1);
        self.inner.buckets[i].fetch_add(n, Ordering::Relaxed);
        let nanos = u64::try_from(total.as_nanos()).unwrap_or(u64::MAX);
        self.inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let inner = &self.inner;
        // The encoder accumulates; f64::MAX is how it spells +Inf.
        let buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(inner.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total, so the two always agree.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = AtomicHistogram::new([0.001, 0.01]);
        h.observe(Duration::from_micros(1_000)); // == bound: first bucket
        h.observe(Duration::from_micros(1_001));
        h.observe(Duration::from_secs(1)); // +Inf
        let counts: Vec<u64> = h.inner.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        assert_eq!(counts, vec![1, 1, 1]);
        h.add(99, 2, Duration::from_secs(2));
        assert_eq!(h.inner.buckets[2].load(Ordering::Relaxed), 3);
    }
}
