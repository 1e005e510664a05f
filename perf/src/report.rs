//! The printed lines, in the shapes of Kafka's perf tools so that existing
//! scripts that parse them keep working. MB means MiB (2^20 bytes), as in
//! Kafka's tools.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::clock::format_time_ms;
use crate::latency::ms;

/// Bytes in Kafka's "MB".
pub const MB: f64 = 1024.0 * 1024.0;

fn per_sec(n: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        n / secs
    } else {
        0.0
    }
}

fn mean_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.mean())
    }
}

fn max_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.max() as f64)
    }
}

fn q_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.value_at_quantile(q) as f64)
    }
}

/// A reporting-window line, as kafka-producer-perf-test prints every 5 s:
/// `N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency.`
/// (`verb` is "sent", or "received" for end-to-end windows).
pub fn window_line(verb: &str, count: u64, bytes: u64, elapsed: Duration, hist: &Histogram<u64>) -> String {
    format!(
        "{count} records {verb}, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
        per_sec(count as f64, elapsed),
        per_sec(bytes as f64 / MB, elapsed),
        mean_ms(hist),
        max_ms(hist),
    )
}

/// The final line: kafka-producer-perf-test's shape with µs-resolution
/// percentiles and the 99.99th added:
/// `N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency,
/// P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th, P9999 ms 99.99th.`
pub fn total_line(verb: &str, count: u64, bytes: u64, elapsed: Duration, hist: &Histogram<u64>) -> String {
    format!(
        "{count} records {verb}, {:.6} records/sec ({:.2} MB/sec), {}.",
        per_sec(count as f64, elapsed),
        per_sec(bytes as f64 / MB, elapsed),
        latency_fields(hist),
    )
}

/// `A ms avg latency, M ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th,
/// P999 ms 99.9th, P9999 ms 99.99th`
pub fn latency_fields(hist: &Histogram<u64>) -> String {
    format!(
        "{:.2} ms avg latency, {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, {:.2} ms 99.9th, \
         {:.2} ms 99.99th",
        mean_ms(hist),
        max_ms(hist),
        q_ms(hist, 0.50),
        q_ms(hist, 0.95),
        q_ms(hist, 0.99),
        q_ms(hist, 0.999),
        q_ms(hist, 0.9999),
    )
}

/// The consumer's latency line:
/// `end-to-end latency (record timestamp -> receipt): N records, A ms avg latency, …`
pub fn consumer_latency_line(hist: &Histogram<u64>) -> String {
    format!("end-to-end latency (record timestamp -> receipt): {} records, {}.", hist.len(), latency_fields(hist))
}

/// kafka-consumer-perf-test's column header.
pub const CONSUMER_HEADER: &str = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, \
                                   nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";

/// kafka-consumer-perf-test's header with `--show-detailed-stats`.
pub const CONSUMER_DETAILED_HEADER: &str = "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, \
                                            nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";

/// What a consumer run measured, for [`consumer_row`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsumerTotals {
    /// Start and end, ms since the epoch.
    pub start_ms: i64,
    pub end_ms: i64,
    pub bytes: u64,
    pub records: u64,
    /// Time spent getting assigned (connecting, resolving positions).
    pub rebalance_ms: u64,
}

impl ConsumerTotals {
    pub fn elapsed_secs(&self) -> f64 {
        (self.end_ms - self.start_ms).max(0) as f64 / 1000.0
    }

    /// Time spent fetching: the whole run less the assignment.
    pub fn fetch_ms(&self) -> u64 {
        ((self.end_ms - self.start_ms).max(0) as u64).saturating_sub(self.rebalance_ms)
    }

    pub fn mb(&self) -> f64 {
        self.bytes as f64 / MB
    }
}

fn rate(n: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        n / secs
    } else {
        0.0
    }
}

/// kafka-consumer-perf-test's result row (times in UTC).
pub fn consumer_row(t: &ConsumerTotals) -> String {
    let secs = t.elapsed_secs();
    let fetch_secs = t.fetch_ms() as f64 / 1000.0;
    format!(
        "{}, {}, {:.4}, {:.4}, {}, {:.4}, {}, {}, {:.4}, {:.4}",
        format_time_ms(t.start_ms),
        format_time_ms(t.end_ms),
        t.mb(),
        rate(t.mb(), secs),
        t.records,
        rate(t.records as f64, secs),
        t.rebalance_ms,
        t.fetch_ms(),
        rate(t.mb(), fetch_secs),
        rate(t.records as f64, fetch_secs),
    )
}

/// A `--show-detailed-stats` row: cumulative MB and records, rates over the
/// interval just ended.
pub fn consumer_detailed_row(
    now_ms: i64,
    total_bytes: u64,
    total_records: u64,
    interval_bytes: u64,
    interval_records: u64,
    interval: Duration,
) -> String {
    let secs = interval.as_secs_f64();
    let mb = interval_bytes as f64 / MB;
    format!(
        "{}, 0, {:.4}, {:.4}, {}, {:.4}, 0, {}, {:.4}, {:.4}",
        format_time_ms(now_ms),
        total_bytes as f64 / MB,
        rate(mb, secs),
        total_records,
        rate(interval_records as f64, secs),
        interval.as_millis(),
        rate(mb, secs),
        rate(interval_records as f64, secs),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::new_histogram;

    fn hist(values_us: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &v in values_us {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn window_line_has_kafkas_shape() {
        let h = hist(&[1000, 2000, 3000]);
        let line = window_line("sent", 3, 3 * 1024 * 1024, Duration::from_secs(2), &h);
        assert_eq!(line, "3 records sent, 1.5 records/sec (1.50 MB/sec), 2.0 ms avg latency, 3.0 ms max latency.");
        let empty = window_line("sent", 0, 0, Duration::from_secs(5), &new_histogram());
        assert_eq!(empty, "0 records sent, 0.0 records/sec (0.00 MB/sec), 0.0 ms avg latency, 0.0 ms max latency.");
    }

    #[test]
    fn total_line_has_kafkas_shape_plus_the_99_99th() {
        let values: Vec<u64> = (1..=10_000).collect(); // 1 µs .. 10 ms
        let h = hist(&values);
        let line = total_line("sent", 10_000, 10_000 * 1024, Duration::from_secs(4), &h);
        assert_eq!(
            line,
            "10000 records sent, 2500.000000 records/sec (2.44 MB/sec), 5.00 ms avg latency, 10.01 ms max latency, \
             5.00 ms 50th, 9.50 ms 95th, 9.90 ms 99th, 9.99 ms 99.9th, 10.00 ms 99.99th."
        );
        // A regex written for Kafka's line still matches.
        let kafka_prefix = line.split(", ").take(4).collect::<Vec<_>>();
        assert!(kafka_prefix[0].ends_with(" records sent"));
        assert!(kafka_prefix[1].ends_with(" records/sec (2.44 MB/sec)"));
        assert!(kafka_prefix[2].ends_with(" ms avg latency"));
        assert!(kafka_prefix[3].ends_with(" ms max latency"));
    }

    #[test]
    fn consumer_row_has_kafkas_columns() {
        let t = ConsumerTotals {
            start_ms: 1_709_214_307_089,
            end_ms: 1_709_214_317_089,
            bytes: 100 * 1024 * 1024,
            records: 102_400,
            rebalance_ms: 2000,
        };
        let row = consumer_row(&t);
        assert_eq!(
            row,
            "2024-02-29 13:45:07:089, 2024-02-29 13:45:17:089, 100.0000, 10.0000, 102400, 10240.0000, 2000, 8000, \
             12.5000, 12800.0000"
        );
        assert_eq!(row.split(", ").count(), CONSUMER_HEADER.split(", ").count());
        let detailed =
            consumer_detailed_row(t.end_ms, t.bytes, t.records, 5 * 1024 * 1024, 5120, Duration::from_secs(5));
        assert_eq!(
            detailed,
            "2024-02-29 13:45:17:089, 0, 100.0000, 1.0000, 102400, 1024.0000, 0, 5000, 1.0000, 1024.0000"
        );
        assert_eq!(detailed.split(", ").count(), CONSUMER_DETAILED_HEADER.split(", ").count());
    }

    #[test]
    fn consumer_latency_line_shape() {
        let h = hist(&[2000, 4000]);
        let line = consumer_latency_line(&h);
        assert!(line.starts_with("end-to-end latency (record timestamp -> receipt): 2 records, 3.00 ms avg latency"));
        assert!(line.ends_with(" ms 99.99th."));
    }
}
