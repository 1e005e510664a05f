//! HdrHistogram interval logs (`.hlog`): one compressed histogram per
//! reporting interval, in the format of Java's `HistogramLogWriter` (read by
//! `HistogramLogProcessor`, the HdrHistogram plotter and hdrhistogram crates).
//!
//! ```text
//! #[corelog-perf produce, latency in us]
//! #[Histogram log format version 1.3]
//! #[StartTime: 1709214307.089 (seconds since epoch)]
//! #[BaseTime: 1709214307.089 (seconds since epoch)]
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! 0.000,5.001,3071.000,HISTFAAAAC…
//! ```
//!
//! Histograms hold µs; interval timestamps are seconds since BaseTime (the
//! run's start); `Interval_Max` is in µs too (no `MaxValueDivisor`, as
//! Java's writer by default). Encoding: V2 with DEFLATE (the
//! "compressed" V2 form every reader accepts), through the crate's
//! interval-log writer.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

/// The legend line Java writes after the headers.
const LEGEND: &str = "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

/// Appends interval histograms to a log.
pub struct HlogWriter<W: Write> {
    out: W,
    serializer: V2DeflateSerializer,
}

impl HlogWriter<BufWriter<File>> {
    /// Creates the log file at `path` and writes its headers.
    pub fn create(path: &Path, comment: &str, start_ms: i64) -> io::Result<Self> {
        HlogWriter::new(BufWriter::new(File::create(path)?), comment, start_ms)
    }
}

impl<W: Write> HlogWriter<W> {
    /// A log on `out` whose intervals count from `start_ms` (ms since the epoch).
    pub fn new(mut out: W, comment: &str, start_ms: i64) -> io::Result<Self> {
        let start = UNIX_EPOCH + Duration::from_millis(start_ms.max(0) as u64);
        let mut serializer = V2DeflateSerializer::new();
        let mut headers = IntervalLogWriterBuilder::new();
        headers
            .add_comment(&format!("[{comment}]"))
            .add_comment("[Histogram log format version 1.3]")
            .with_start_time(start)
            .with_base_time(start);
        headers.begin_log_with(&mut out, &mut serializer)?;
        writeln!(out, "{LEGEND}")?;
        Ok(HlogWriter { out, serializer })
    }

    /// Appends the histogram of the interval `[from, from + length)`
    /// (offsets from the run's start).
    pub fn write_interval(&mut self, hist: &Histogram<u64>, from: Duration, length: Duration) -> io::Result<()> {
        let mut writer = IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        writer.write_histogram(hist, from, length, None).map_err(|e| io::Error::other(e.to_string()))
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One interval read back from a log.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Seconds since BaseTime.
    pub start_s: f64,
    pub length_s: f64,
    pub hist: Histogram<u64>,
}

/// Reads every interval histogram of a log (headers and legend skipped).
pub fn read_hlog(data: &[u8]) -> Result<Vec<Interval>, String> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let mut deserializer = Deserializer::new();
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(data) {
        match entry.map_err(|e| format!("bad log line: {e:?}"))? {
            LogEntry::Interval(ilh) => {
                let bytes = decode_base64(ilh.encoded_histogram())?;
                let hist: Histogram<u64> = deserializer
                    .deserialize(&mut io::Cursor::new(bytes))
                    .map_err(|e| format!("bad histogram: {e:?}"))?;
                out.push(Interval {
                    start_s: ilh.start_timestamp().as_secs_f64(),
                    length_s: ilh.duration().as_secs_f64(),
                    hist,
                });
            }
            LogEntry::StartTime(_) | LogEntry::BaseTime(_) => {}
        }
    }
    Ok(out)
}

/// Standard base64 (with padding) to bytes.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= sextet(c).ok_or_else(|| format!("bad base64 character {:?}", c as char))? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::new_histogram;

    #[test]
    fn writes_a_log_that_reads_back() {
        let start_ms = 1_709_214_307_089;
        let mut log = HlogWriter::new(Vec::new(), "corelog-perf test", start_ms).unwrap();
        let mut a = new_histogram();
        a.record(1500).unwrap();
        a.record(2500).unwrap();
        let mut b = new_histogram();
        b.record(100_000).unwrap();
        log.write_interval(&a, Duration::ZERO, Duration::from_secs(5)).unwrap();
        log.write_interval(&b, Duration::from_secs(5), Duration::from_millis(2500)).unwrap();
        let data = log.finish().unwrap();
        let text = String::from_utf8(data.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#[corelog-perf test]");
        assert_eq!(lines[1], "#[Histogram log format version 1.3]");
        assert_eq!(lines[2], "#[StartTime: 1709214307.089 (seconds since epoch)]");
        assert_eq!(lines[3], "#[BaseTime: 1709214307.089 (seconds since epoch)]");
        assert_eq!(lines[4], LEGEND);
        assert!(lines[5].starts_with("0.000,5.000,2501.000,HISTF"), "{}", lines[5]);
        assert!(lines[6].starts_with("5.000,2.500,100031.000,HISTF"), "{}", lines[6]);
        let intervals = read_hlog(&data).unwrap();
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals[0].hist, a);
        assert_eq!(intervals[1].hist, b);
        assert_eq!((intervals[1].start_s, intervals[1].length_s), (5.0, 2.5));
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(decode_base64("aA==").unwrap(), b"h");
        assert!(decode_base64("a*").is_err());
    }
}
