//! HdrHistogram percentile distribution files (`.hgrm`): the text that
//! Java's `Histogram.outputPercentileDistribution` prints and the
//! HdrHistogram plotter reads.
//!
//! ```text
//!        Value     Percentile TotalCount 1/(1-Percentile)
//!
//!        0.452 0.000000000000          1           1.00
//!        1.021 0.100000000000      10078           1.11
//!        …
//!       23.855 1.000000000000     100000
//! #[Mean    =        1.552, StdDeviation   =        0.732]
//! #[Max     =       23.855, Total count    =       100000]
//! #[Buckets =           22, SubBuckets     =         2048]
//! ```
//!
//! Values are written in ms (the histograms hold µs), with as many decimals
//! as the histogram has significant digits; 5 percentile ticks per half
//! distance, as the Java default.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Percentile ticks per half distance to 100%.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The percentile distribution of `hist` (µs) in ms.
pub fn format_hgrm(hist: &Histogram<u64>) -> String {
    format_hgrm_scaled(hist, 1000.0)
}

/// The percentile distribution of `hist`, values divided by `scale`.
pub fn format_hgrm_scaled(hist: &Histogram<u64>, scale: f64) -> String {
    let digits = usize::from(hist.sigfig());
    let mut out = String::new();
    let _ = write!(out, "{:>12} {:>14} {:>10} {:>14}\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let mut total = 0u64;
    if !hist.is_empty() {
        for v in hist.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / scale;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(out, "{value:12.digits$} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
            } else {
                let _ = writeln!(out, "{value:12.digits$} {q:2.12} {total:10}");
            }
        }
    }
    let (mean, stddev, max) = if hist.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (hist.mean() / scale, hist.stdev() / scale, hist.max() as f64 / scale)
    };
    let _ = writeln!(out, "#[Mean    = {mean:12.digits$}, StdDeviation   = {stddev:12.digits$}]");
    let _ = writeln!(out, "#[Max     = {max:12.digits$}, Total count    = {:12}]", hist.len());
    let _ =
        writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", hist.buckets(), sub_bucket_count(hist.sigfig()));
    out
}

/// HdrHistogram's sub-bucket count for `sigfig` significant digits.
fn sub_bucket_count(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// One line of a distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HgrmRow {
    pub value: f64,
    pub percentile: f64,
    pub total_count: u64,
    /// `1/(1-percentile)`; `None` on the last (100%) line.
    pub inverse: Option<f64>,
}

/// A parsed `.hgrm` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hgrm {
    pub rows: Vec<HgrmRow>,
    pub mean: f64,
    pub stddev: f64,
    pub max: f64,
    pub total_count: u64,
    pub buckets: u64,
    pub sub_buckets: u64,
}

impl Hgrm {
    /// The value at `percentile` (0–1): the first row at or above it.
    pub fn value_at(&self, percentile: f64) -> Option<f64> {
        self.rows.iter().find(|r| r.percentile >= percentile).map(|r| r.value)
    }
}

/// Parses a percentile distribution (as written by [`format_hgrm`] or Java).
pub fn parse_hgrm(text: &str) -> Result<Hgrm, String> {
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty file")?;
    let columns: Vec<&str> = header.split_whitespace().collect();
    if columns != ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"] {
        return Err(format!("bad header {header:?}"));
    }
    let mut hgrm = Hgrm::default();
    let mut footer_lines = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        if let Some(body) = line.strip_prefix("#[").and_then(|l| l.strip_suffix(']')) {
            let fields = footer_fields(body)?;
            match fields.as_slice() {
                [("Mean", mean), ("StdDeviation", sd)] => {
                    hgrm.mean = num(mean)?;
                    hgrm.stddev = num(sd)?;
                }
                [("Max", max), ("Total count", n)] => {
                    hgrm.max = num(max)?;
                    hgrm.total_count = num(n)? as u64;
                }
                [("Buckets", b), ("SubBuckets", s)] => {
                    hgrm.buckets = num(b)? as u64;
                    hgrm.sub_buckets = num(s)? as u64;
                }
                _ => return Err(format!("bad footer line {line:?}")),
            }
            footer_lines += 1;
            continue;
        }
        let cells: Vec<&str> = line.split_whitespace().collect();
        let row = match cells.as_slice() {
            [v, p, c, i] => {
                HgrmRow { value: num(v)?, percentile: num(p)?, total_count: num(c)? as u64, inverse: Some(num(i)?) }
            }
            [v, p, c] => HgrmRow { value: num(v)?, percentile: num(p)?, total_count: num(c)? as u64, inverse: None },
            _ => return Err(format!("bad line {line:?}")),
        };
        if hgrm.rows.last().is_some_and(|last: &HgrmRow| row.percentile < last.percentile || row.value < last.value) {
            return Err(format!("line {line:?} goes backwards"));
        }
        hgrm.rows.push(row);
    }
    if footer_lines != 3 {
        return Err(format!("expected 3 footer lines, found {footer_lines}"));
    }
    Ok(hgrm)
}

/// `Name = value, Name2 = value2` → pairs.
fn footer_fields(body: &str) -> Result<Vec<(&str, &str)>, String> {
    body.split(',')
        .map(|f| f.split_once('=').map(|(k, v)| (k.trim(), v.trim())).ok_or_else(|| format!("bad footer {body:?}")))
        .collect()
}

fn num(s: &str) -> Result<f64, String> {
    s.parse::<f64>().map_err(|_| format!("not a number: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::new_histogram;

    #[test]
    fn writes_the_standard_layout() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 100).unwrap(); // 0.1 ms .. 100 ms
        }
        let text = format_hgrm(&h);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("       Value     Percentile TotalCount 1/(1-Percentile)"));
        assert_eq!(lines.next(), Some(""));
        assert_eq!(lines.next(), Some("       0.100 0.000000000000          1           1.00"));
        let last_row = text.lines().rev().nth(3).unwrap();
        assert_eq!(last_row, "     100.031 1.000000000000       1000");
        let footer: Vec<&str> = text.lines().rev().take(3).collect();
        assert_eq!(footer[2], "#[Mean    =       50.052, StdDeviation   =       28.868]");
        assert_eq!(footer[1], "#[Max     =      100.031, Total count    =         1000]");
        assert!(footer[0].starts_with("#[Buckets = ") && footer[0].ends_with("SubBuckets     =         2048]"));
    }

    #[test]
    fn parses_what_it_writes() {
        let mut h = new_histogram();
        for v in 0..10_000u64 {
            h.record(500 + (v * 7919) % 20_000).unwrap();
        }
        let parsed = parse_hgrm(&format_hgrm(&h)).unwrap();
        assert_eq!(parsed.total_count, 10_000);
        assert_eq!(parsed.sub_buckets, 2048);
        let last = parsed.rows.last().unwrap();
        assert_eq!((last.percentile, last.total_count, last.inverse), (1.0, 10_000, None));
        assert!(parsed.rows[..parsed.rows.len() - 1].iter().all(|r| r.inverse.is_some()));
        assert!((parsed.max - h.max() as f64 / 1000.0).abs() < 1e-9);
        let p99 = parsed.value_at(0.99).unwrap();
        assert!((p99 - h.value_at_quantile(0.99) as f64 / 1000.0).abs() < 0.05, "{p99}");
        assert!(parse_hgrm("nonsense").is_err());
    }

    #[test]
    fn an_empty_histogram_has_only_the_footer() {
        let parsed = parse_hgrm(&format_hgrm(&new_histogram())).unwrap();
        assert!(parsed.rows.is_empty());
        assert_eq!(parsed.total_count, 0);
    }
}
