//! Latency histograms: values in µs, 3 significant digits (HdrHistogram),
//! reported in ms.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency tracked without resizing: one hour in µs (larger values
/// grow the histogram).
pub const HIGHEST_TRACKABLE_US: u64 = 3_600_000_000;

/// Significant value digits of every histogram.
pub const SIGFIG: u8 = 3;

/// An empty latency histogram: µs, 1 µs to one hour at 3 significant digits,
/// resizing for larger values.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_US, SIGFIG).expect("valid histogram bounds");
    h.auto(true);
    h
}

/// µs as ms.
pub fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// A histogram's summary in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Percentiles {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub stddev_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub p9999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// The summary of `h` (µs values); all zero for an empty histogram.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |q: f64| ms(h.value_at_quantile(q) as f64);
        Percentiles {
            count: h.len(),
            min_ms: ms(h.min() as f64),
            mean_ms: ms(h.mean()),
            stddev_ms: ms(h.stdev()),
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            p9999_ms: q(0.9999),
            max_ms: ms(h.max() as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_ms() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v * 10).unwrap(); // 10 µs .. 100 ms
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 10_000);
        assert!((p.p50_ms - 50.0).abs() < 0.05, "{}", p.p50_ms);
        assert!((p.p99_ms - 99.0).abs() < 0.1, "{}", p.p99_ms);
        assert!((p.max_ms - 100.0).abs() < 0.1, "{}", p.max_ms);
        assert!((p.mean_ms - 50.005).abs() < 0.05, "{}", p.mean_ms);
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
    }

    #[test]
    fn values_beyond_an_hour_still_record() {
        let mut h = new_histogram();
        h.record(10 * HIGHEST_TRACKABLE_US).unwrap();
        assert!(h.equivalent(h.max(), 10 * HIGHEST_TRACKABLE_US));
    }
}
