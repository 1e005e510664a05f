//! The broker's own view of a phase, from its Prometheus endpoint: produce
//! and fetch request latency and fdatasync latency (bucket histograms,
//! summed over cores and, for a cluster, over its brokers), scraped at the start and the end of the phase.
//! Set beside the load tools' per-record latencies, they tell time spent in
//! the broker from time spent in the client and the network.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The histograms the harness reads.
pub const PRODUCE_LATENCY: &str = "corelog_produce_latency_seconds";
pub const FETCH_LATENCY: &str = "corelog_fetch_latency_seconds";
pub const FDATASYNC_LATENCY: &str = "corelog_fdatasync_latency_seconds";

/// `GET /metrics`.
pub fn scrape(addr: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("{addr}: {e}"))?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP header")?;
    let status = head.split_whitespace().nth(1);
    if !head.starts_with("HTTP/1.") || status != Some("200") {
        return Err(format!("{addr}: {}", head.lines().next().unwrap_or("")));
    }
    Ok(body.to_owned())
}

fn scrape_all(addrs: &[SocketAddr]) -> Option<String> {
    if addrs.is_empty() {
        return None;
    }
    addrs.iter().map(|a| scrape(*a).ok()).collect::<Option<Vec<_>>>().map(|texts| texts.join("\n"))
}

/// A Prometheus histogram, summed over every label set: cumulative counts
/// per upper bound (`le`, seconds; the last is +Inf), and the sum.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Buckets {
    pub cumulative: Vec<(f64, u64)>,
    pub sum_s: f64,
}

impl Buckets {
    /// `name`'s histogram in a text exposition.
    pub fn parse(text: &str, name: &str) -> Buckets {
        let bucket = format!("{name}_bucket");
        let sum = format!("{name}_sum");
        let mut b = Buckets::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let metric = series.split('{').next().unwrap_or(series);
            if metric == bucket {
                let le = series.split("le=\"").nth(1).and_then(|r| r.split('"').next()).and_then(|v| {
                    if v == "+Inf" {
                        Some(f64::INFINITY)
                    } else {
                        v.parse().ok()
                    }
                });
                let (Some(le), Ok(n)) = (le, value.parse::<f64>()) else { continue };
                match b.cumulative.iter_mut().find(|(bound, _)| *bound == le) {
                    Some((_, count)) => *count += n as u64,
                    None => b.cumulative.push((le, n as u64)),
                }
            } else if metric == sum {
                b.sum_s += value.parse::<f64>().unwrap_or(0.0);
            }
        }
        b.cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
        b
    }

    /// What was observed between `earlier` and this scrape.
    pub fn since(&self, earlier: &Buckets) -> Buckets {
        let before = |le: f64| earlier.cumulative.iter().find(|(b, _)| *b == le).map_or(0, |(_, n)| *n);
        Buckets {
            cumulative: self.cumulative.iter().map(|&(le, n)| (le, n.saturating_sub(before(le)))).collect(),
            sum_s: (self.sum_s - earlier.sum_s).max(0.0),
        }
    }

    pub fn count(&self) -> u64 {
        self.cumulative.last().map_or(0, |(_, n)| *n)
    }

    /// The upper bound (seconds) of the bucket holding quantile `q`: the
    /// quantile is at most this.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = (q * count as f64).ceil().max(1.0) as u64;
        self.cumulative.iter().find(|(_, n)| *n >= rank).map(|(le, _)| *le)
    }

    /// The summary stored in a result.
    pub fn summary(&self) -> Option<BucketSummary> {
        let count = self.count();
        let ms = |s: Option<f64>| s.map(|s| s * 1000.0);
        (count > 0).then(|| BucketSummary {
            count,
            mean_ms: self.sum_s * 1000.0 / count as f64,
            p50_le_ms: ms(self.quantile_bound(0.5)),
            p99_le_ms: ms(self.quantile_bound(0.99)),
            p999_le_ms: ms(self.quantile_bound(0.999)),
            buckets_ms: self
                .cumulative
                .iter()
                .filter(|(le, _)| le.is_finite())
                .map(|&(le, n)| (le * 1000.0, n as f64 / count as f64))
                .collect(),
        })
    }
}

/// A broker-side latency histogram over a phase. Percentiles are bucket
/// upper bounds ("at most"); `null` means above the largest finite bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketSummary {
    /// Observations (requests, or fdatasync calls).
    pub count: u64,
    pub mean_ms: f64,
    pub p50_le_ms: Option<f64>,
    pub p99_le_ms: Option<f64>,
    pub p999_le_ms: Option<f64>,
    /// (bound ms, fraction of observations at most that long).
    pub buckets_ms: Vec<(f64, f64)>,
}

impl BucketSummary {
    /// `n requests, mean 1.20 ms, p50 ≤ 1 ms, p99 ≤ 5 ms, p99.9 ≤ 10 ms`
    pub fn describe(&self, what: &str) -> String {
        let bound = |b: Option<f64>| b.filter(|b| b.is_finite()).map_or("> max".into(), |b| format!("≤ {b} ms"));
        format!(
            "{} {what}, mean {:.2} ms, p50 {}, p99 {}, p99.9 {}",
            self.count,
            self.mean_ms,
            bound(self.p50_le_ms),
            bound(self.p99_le_ms),
            bound(self.p999_le_ms)
        )
    }
}

/// The broker's histograms over a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokerSide {
    /// Decoded produce request → response (validation, append, durability wait).
    pub produce: Option<BucketSummary>,
    /// Decoded fetch request → response (long-poll wait included).
    pub fetch: Option<BucketSummary>,
    /// One per group commit.
    pub fdatasync: Option<BucketSummary>,
}

/// A scrape at the start of a phase.
pub struct Snapshot(String);

impl Snapshot {
    /// Every endpoint's exposition, concatenated: the histograms sum over
    /// a cluster's brokers as they sum over cores. `None` if any fails or
    /// there is none.
    pub fn take(addrs: &[SocketAddr]) -> Option<Snapshot> {
        scrape_all(addrs).map(Snapshot)
    }

    /// The histograms between this snapshot and now.
    pub fn finish(self, addrs: &[SocketAddr]) -> Option<BrokerSide> {
        let now = scrape_all(addrs)?;
        let diff = |name: &str| Buckets::parse(&now, name).since(&Buckets::parse(&self.0, name)).summary();
        Some(BrokerSide {
            produce: diff(PRODUCE_LATENCY),
            fetch: diff(FETCH_LATENCY),
            fdatasync: diff(FDATASYNC_LATENCY),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# HELP corelog_produce_latency_seconds Produce latency.
# TYPE corelog_produce_latency_seconds histogram
corelog_produce_latency_seconds_sum{core="0"} 1.0
corelog_produce_latency_seconds_count{core="0"} 10
corelog_produce_latency_seconds_bucket{le="0.001",core="0"} 5
corelog_produce_latency_seconds_bucket{le="0.005",core="0"} 9
corelog_produce_latency_seconds_bucket{le="0.01",core="0"} 10
corelog_produce_latency_seconds_bucket{le="+Inf",core="0"} 10
corelog_produce_latency_seconds_bucket{le="0.001",core="1"} 0
corelog_produce_latency_seconds_bucket{le="0.005",core="1"} 0
corelog_produce_latency_seconds_bucket{le="0.01",core="1"} 0
corelog_produce_latency_seconds_bucket{le="+Inf",core="1"} 0
corelog_produce_requests_total{core="0"} 10
"#;

    #[test]
    fn histograms_sum_over_cores_and_diff_between_scrapes() {
        let after = BEFORE
            .replace("_sum{core=\"0\"} 1.0", "_sum{core=\"0\"} 1.5")
            .replace("le=\"0.001\",core=\"1\"} 0", "le=\"0.001\",core=\"1\"} 80")
            .replace("le=\"0.005\",core=\"1\"} 0", "le=\"0.005\",core=\"1\"} 98")
            .replace("le=\"0.01\",core=\"1\"} 0", "le=\"0.01\",core=\"1\"} 99")
            .replace("le=\"+Inf\",core=\"1\"} 0", "le=\"+Inf\",core=\"1\"} 100");
        let before = Buckets::parse(BEFORE, PRODUCE_LATENCY);
        assert_eq!(before.cumulative, vec![(0.001, 5), (0.005, 9), (0.01, 10), (f64::INFINITY, 10)]);
        let d = Buckets::parse(&after, PRODUCE_LATENCY).since(&before);
        assert_eq!(d.count(), 100);
        assert_eq!(d.quantile_bound(0.5), Some(0.001));
        assert_eq!(d.quantile_bound(0.98), Some(0.005));
        assert_eq!(d.quantile_bound(0.99), Some(0.01));
        assert_eq!(d.quantile_bound(0.999), Some(f64::INFINITY));
        let s = d.summary().unwrap();
        assert!((s.mean_ms - 5.0).abs() < 1e-9, "{}", s.mean_ms);
        assert_eq!(s.buckets_ms, vec![(1.0, 0.8), (5.0, 0.98), (10.0, 0.99)]);
        assert_eq!(s.describe("requests"), "100 requests, mean 5.00 ms, p50 ≤ 1 ms, p99 ≤ 10 ms, p99.9 > max");
        assert_eq!(Buckets::parse("", PRODUCE_LATENCY).summary(), None);
    }
}
