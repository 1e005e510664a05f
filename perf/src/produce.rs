//! `corelog-perf produce`: kafka-producer-perf-test for corelog.
//!
//! Creates the topic if missing, starts the producers (see
//! [`crate::producer`]), prints a window line every reporting interval and
//! the total line at the end, and writes the output files.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Display, Limit, ProduceConfig};
use crate::error::PerfResult;
use crate::latency::Percentiles;
use crate::monitor::{self, Counted, Stream};
use crate::producer::{self, ProducerCtx};
use crate::progress::{Goal, Progress};
use crate::report::total_line;
use crate::stats::{Counters, SharedWindow};
use crate::summary::{loadavg, ProduceStats, RunReport, Summary};
use crate::worker::{join_all, Gate};
use crate::{output, topic};

/// Runs a produce test; returns its report (also written to `--output`).
pub fn run(config: &ProduceConfig) -> PerfResult<RunReport> {
    let c = &config.common;
    let s = &config.producer;
    s.validate()?;
    if let Some(dir) = &c.output {
        output::prepare(dir)?;
    }
    let quiet = c.display == Display::Quiet;
    let topic = topic::ensure(&c.bootstrap, &c.topic, &config.topic)?;
    if let (Some(note), false) = (&topic.note, quiet) {
        eprintln!("note: {note}");
    }
    let load_start = loadavg();

    let gate = Arc::new(Gate::default());
    let counters = Arc::new(Counters::default());
    let window = Arc::new(SharedWindow::default());
    let ctx = Arc::new(ProducerCtx {
        bootstrap: c.bootstrap.clone(),
        topic: c.topic.clone(),
        settings: s.clone(),
        stamp: false,
        window: window.clone(),
        counters: counters.clone(),
        gate: gate.clone(),
    });
    let handles = producer::start(&ctx)?;
    let clock = match gate.start_when_connected(s.producers) {
        Ok(clock) => clock,
        Err(e) => return Err(join_all(handles).err().unwrap_or(e)),
    };

    let progress = Progress::new(c.display, goal(s.limit));
    let mut streams = [Stream::new("produce", window, c.output.as_deref(), "produce", clock.start_ms())?];
    let counted = Counted { verb: "sent", stream: 0, records: &counters.acked, bytes: &counters.acked_bytes };
    let watched =
        monitor::watch_counted(&clock, c.reporting_interval, &mut streams, || gate.running() == 0, &progress, counted);
    progress.finish();
    let joined = join_all(handles);
    let end = watched?;
    joined?;

    let [stream] = &mut streams;
    let hlog = stream.finish()?;
    let hist = stream.total.hist.clone();
    let elapsed = counters.producers_finished().unwrap_or(end);
    let acked = Counters::get(&counters.acked);
    let bytes = Counters::get(&counters.acked_bytes);
    let line = total_line("sent", acked, bytes, elapsed, &hist);
    progress.line(&line);
    let failed = Counters::get(&counters.failed);
    let first_error = counters.first_error();
    if let (Some(e), false) = (&first_error, quiet) {
        eprintln!("{failed} records failed; first error: {e}");
    }

    let mut summary = Summary::new("produce", &clock, config.to_json(), load_start);
    summary.topic = Some(topic.clone());
    summary.produce = Some(produce_stats(&counters, elapsed, s.throughput, &hist, first_error));
    summary.result_lines = vec![line];
    let mut report = RunReport { summary, histograms: vec![(stream.name.into(), hist)] };
    if let Some(dir) = &c.output {
        output::write(dir, &mut report, &hlog.into_iter().collect::<Vec<_>>())?;
    }
    Ok(report)
}

/// The progress bar's goal for a producer limit.
pub(crate) fn goal(limit: Limit) -> Goal {
    match limit {
        Limit::Records(n) => Goal::Records(n),
        Limit::Duration(d) => Goal::Time(d),
    }
}

/// The producers' results.
pub(crate) fn produce_stats(
    counters: &Counters,
    elapsed: Duration,
    target_rate: Option<f64>,
    hist: &hdrhistogram::Histogram<u64>,
    first_error: Option<String>,
) -> ProduceStats {
    let acked = Counters::get(&counters.acked);
    let bytes = Counters::get(&counters.acked_bytes);
    let secs = elapsed.as_secs_f64();
    let rate = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
    ProduceStats {
        records_sent: Counters::get(&counters.sent),
        records_acked: acked,
        records_failed: Counters::get(&counters.failed),
        bytes,
        elapsed_s: secs,
        records_per_sec: rate(acked as f64),
        mb_per_sec: rate(bytes as f64 / crate::report::MB),
        target_rate,
        co_corrected: target_rate.is_some(),
        latency: Percentiles::of(hist),
        first_error,
    }
}
