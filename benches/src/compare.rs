//! `corelog-bench compare`: stored runs side by side, with ratios against
//! the first.

use std::path::{Path, PathBuf};

use crate::result::{BenchResult, LatencySummary, RESULT_FILE};

/// A stored run.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub result: BenchResult,
}

impl Run {
    /// Loads a run directory; a directory without `result.json` stands for
    /// its newest run (e.g. `bench-results/1k-max-durable`).
    pub fn load(path: &Path) -> Result<Run, String> {
        let dir = resolve_dir(path)?;
        Ok(Run { result: BenchResult::load(&dir)?, dir })
    }

    /// `A`, `B`, … `Z`, `AA`, …
    pub fn letter(i: usize) -> String {
        let mut s = String::new();
        let mut n = i + 1;
        while n > 0 {
            n -= 1;
            s.insert(0, (b'A' + (n % 26) as u8) as char);
            n /= 26;
        }
        s
    }

    /// How the chart's legend names the run.
    pub fn label(&self, i: usize) -> String {
        format!("{}: {} {}", Run::letter(i), self.result.workload.name, self.result.timestamp)
    }
}

fn resolve_dir(path: &Path) -> Result<PathBuf, String> {
    if path.join(RESULT_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut runs: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.join(RESULT_FILE).is_file()).collect();
    // Run directories are named by UTC timestamp: the last sorts newest.
    runs.sort();
    runs.pop().ok_or_else(|| format!("{}: no {RESULT_FILE} in it or in a directory below it", path.display()))
}

/// How a row's values print.
#[derive(Clone, Copy)]
enum Fmt {
    /// MB/s, ms: two decimals.
    Fixed2,
    /// Counts and rates: whole, with thousands separators.
    Whole,
    /// A fraction as a percentage.
    Percent,
}

type Getter = Box<dyn Fn(&BenchResult) -> Option<f64>>;

struct Row {
    label: &'static str,
    fmt: Fmt,
    /// Show "(N.NNx)" against the first run.
    ratio: bool,
    get: Getter,
}

impl Row {
    fn new(label: &'static str, fmt: Fmt, ratio: bool, get: impl Fn(&BenchResult) -> Option<f64> + 'static) -> Row {
        Row { label, fmt, ratio, get: Box::new(get) }
    }
}

/// p50, p95, p99, p99.9, p99.99 and max of one latency stream.
fn latency_rows(labels: [&'static str; 6], stream: fn(&BenchResult) -> Option<LatencySummary>) -> Vec<Row> {
    let fields: [fn(&LatencySummary) -> f64; 6] =
        [|l| l.p50_ms, |l| l.p95_ms, |l| l.p99_ms, |l| l.p999_ms, |l| l.p9999_ms, |l| l.max_ms];
    labels
        .into_iter()
        .zip(fields)
        .map(|(label, field)| Row::new(label, Fmt::Fixed2, true, move |r| stream(r).map(|l| field(&l))))
        .collect()
}

const PRODUCE_LATENCY: [&str; 6] =
    ["produce p50 ms", "produce p95 ms", "produce p99 ms", "produce p99.9 ms", "produce p99.99 ms", "produce max ms"];
const E2E_LATENCY: [&str; 6] =
    ["e2e p50 ms", "e2e p95 ms", "e2e p99 ms", "e2e p99.9 ms", "e2e p99.99 ms", "e2e max ms"];

fn rows(runs: &[Run]) -> Vec<Row> {
    let mut rows = vec![
        Row::new("produce MB/s", Fmt::Fixed2, true, |r| r.produce.as_ref().map(|p| p.throughput.mb_per_sec)),
        Row::new("produce records/s", Fmt::Whole, true, |r| r.produce.as_ref().map(|p| p.throughput.records_per_sec)),
        Row::new("  of raw write", Fmt::Percent, false, |r| r.ratios.produce_vs_raw_write),
    ];
    rows.extend(latency_rows(PRODUCE_LATENCY, |r| r.produce.as_ref().map(|p| p.latency)));
    if runs.iter().any(|r| r.result.e2e.is_some()) {
        rows.push(Row::new("e2e MB/s", Fmt::Fixed2, true, |r| r.e2e.as_ref().map(|e| e.throughput.mb_per_sec)));
        rows.extend(latency_rows(E2E_LATENCY, |r| r.e2e.as_ref().map(|e| e.latency)));
    }
    if runs.iter().any(|r| r.result.consume.is_some()) {
        rows.push(Row::new("catch-up MB/s", Fmt::Fixed2, true, |r| {
            r.consume.as_ref().map(|c| c.throughput.mb_per_sec)
        }));
        rows.push(Row::new("  of raw read", Fmt::Percent, false, |r| r.ratios.consume_vs_raw_read));
    }
    rows.push(Row::new("raw write MB/s", Fmt::Fixed2, true, |r| r.raw.as_ref().map(|b| b.write.mb_per_sec)));
    rows.push(Row::new("raw read MB/s", Fmt::Fixed2, true, |r| r.raw.as_ref().map(|b| b.read.mb_per_sec)));
    rows.push(Row::new("loadavg 1m at start", Fmt::Fixed2, false, |r| r.machine.loadavg_start.map(|l| l[0])));
    rows
}

fn format_value(v: f64, fmt: Fmt) -> String {
    match fmt {
        Fmt::Fixed2 => format!("{v:.2}"),
        Fmt::Percent => format!("{:.1}%", 100.0 * v),
        Fmt::Whole => {
            let digits = format!("{:.0}", v.abs());
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            if v < 0.0 {
                out.insert(0, '-');
            }
            out
        }
    }
}

/// The side-by-side table: a legend (letter → run directory), then one row
/// per metric and one column per run; each value after the first run's
/// carries its ratio to the first's (`(0.50x)`).
pub fn table(runs: &[Run]) -> String {
    let mut out = String::new();
    for (i, run) in runs.iter().enumerate() {
        let r = &run.result;
        let commit = r.git_commit.as_deref().map(|c| &c[..c.len().min(10)]).unwrap_or("?");
        let dirty = if r.git_dirty == Some(true) { "+dirty" } else { "" };
        out.push_str(&format!(
            "{}: {}  ({}, {}, commit {commit}{dirty}, broker {})\n",
            Run::letter(i),
            run.dir.display(),
            r.workload.name,
            r.started_at,
            r.broker.mode
        ));
    }
    out.push('\n');
    let mut grid: Vec<Vec<String>> = Vec::new();
    let mut header = vec![String::new()];
    header.extend((0..runs.len()).map(Run::letter));
    grid.push(header);
    let mut workload = vec!["workload".to_string()];
    workload.extend(runs.iter().map(|r| r.result.workload.name.clone()));
    grid.push(workload);
    for row in rows(runs) {
        let first = runs.first().and_then(|r| (row.get)(&r.result));
        let mut line = vec![row.label.to_string()];
        for (i, run) in runs.iter().enumerate() {
            let cell = match (row.get)(&run.result) {
                None => "-".to_string(),
                Some(v) => {
                    let mut s = format_value(v, row.fmt);
                    if let (true, true, Some(f)) = (row.ratio, i > 0, first) {
                        if f != 0.0 {
                            s.push_str(&format!(" ({:.2}x)", v / f));
                        }
                    }
                    s
                }
            };
            line.push(cell);
        }
        grid.push(line);
    }
    let columns = grid[0].len();
    let widths: Vec<usize> =
        (0..columns).map(|c| grid.iter().map(|row| row[c].chars().count()).max().unwrap_or(0)).collect();
    for row in &grid {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                line.push_str(&format!("{cell:<w$}", w = widths[0]));
            } else {
                line.push_str(&format!("  {cell:>w$}", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::tests::sample;

    #[test]
    fn letters() {
        assert_eq!(Run::letter(0), "A");
        assert_eq!(Run::letter(25), "Z");
        assert_eq!(Run::letter(26), "AA");
        assert_eq!(Run::letter(27), "AB");
    }

    #[test]
    fn values_format() {
        assert_eq!(format_value(1234567.4, Fmt::Whole), "1,234,567");
        assert_eq!(format_value(999.0, Fmt::Whole), "999");
        assert_eq!(format_value(0.2854, Fmt::Percent), "28.5%");
        assert_eq!(format_value(1.23456, Fmt::Fixed2), "1.23");
    }

    #[test]
    fn table_shows_runs_side_by_side_with_ratios_to_the_first() {
        let mut a = sample("1k-max-durable", 700.0, 3.0);
        a.e2e = None;
        let b = sample("1k-half-max-durable", 350.0, 1.5);
        let runs = vec![
            Run { dir: PathBuf::from("bench-results/1k-max-durable/20261122T040743Z"), result: a },
            Run { dir: PathBuf::from("bench-results/1k-half-max-durable/20261122T041000Z"), result: b },
        ];
        let text = table(&runs);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("A: bench-results/1k-max-durable/20261122T040743Z  (1k-max-durable, "), "{text}");
        assert!(lines[0].contains("commit 59c4fe5, broker in-process"), "{text}");
        assert!(lines[1].starts_with("B: bench-results/1k-half-max-durable/"));
        let row = |label: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("no row {label:?} in\n{text}"))
                .to_string()
        };
        let cells = |label: &str| {
            row(label)[label.len()..]
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(cells("workload"), ["1k-max-durable", "1k-half-max-durable"]);
        assert_eq!(cells("produce MB/s"), ["700.00", "350.00 (0.50x)"]);
        assert_eq!(cells("  of raw write"), ["34.2%", "17.1%"]);
        assert_eq!(cells("produce p99 ms"), ["3.00", "1.50 (0.50x)"]);
        assert_eq!(cells("produce p99.99 ms"), ["9.00", "4.50 (0.50x)"]);
        assert_eq!(cells("produce max ms"), ["12.00", "6.00 (0.50x)"]);
        // Only B has an end-to-end stream: A's cell is "-" and B gets no ratio.
        assert_eq!(cells("e2e p99 ms"), ["-", "2.25"]);
        assert_eq!(cells("catch-up MB/s"), ["1.95", "1.95 (1.00x)"]);
        assert_eq!(cells("raw write MB/s"), ["2048.00", "2048.00 (1.00x)"]);
        // Columns line up: every row of the grid is as wide as the widest.
        let grid: Vec<&str> = lines.iter().skip(3).copied().collect();
        let header = grid[0];
        assert!(header.trim_start().starts_with('A'));
        let b_col = header.rfind('B').unwrap();
        assert!(grid.iter().filter(|l| l.len() > b_col).all(|l| l.len() >= b_col), "{text}");
        assert!(row("produce MB/s").ends_with("350.00 (0.50x)"));
    }

    #[test]
    fn a_results_directory_stands_for_its_newest_run() {
        let root = std::env::temp_dir().join(format!("corelog-bench-compare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for ts in ["20261122T040000Z", "20261122T050000Z"] {
            let dir = root.join("w").join(ts);
            std::fs::create_dir_all(&dir).unwrap();
            let mut r = sample("w", 1.0, 1.0);
            r.timestamp = ts.into();
            std::fs::write(dir.join(RESULT_FILE), r.to_json().unwrap()).unwrap();
        }
        let run = Run::load(&root.join("w")).unwrap();
        assert_eq!(run.result.timestamp, "20261122T050000Z");
        assert_eq!(Run::load(&root.join("w/20261122T040000Z")).unwrap().result.timestamp, "20261122T040000Z");
        assert!(Run::load(&root).unwrap_err().contains("no result.json"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
