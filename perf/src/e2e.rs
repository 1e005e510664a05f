//! `corelog-perf e2e`: producers at a fixed rate and a consumer reading the
//! topic from its end, together; the latency of every record from its
//! scheduled send time (stamped in the record, so coordinated omission is
//! corrected) to the moment the consumer has it, and the producers'
//! acknowledgement latency alongside.
//!
//! The consumer is assigned (at the log ends) before the producers start;
//! the run ends when every record the producers got acknowledged has been
//! consumed, or `timeout` after the producers finished with no new record.

use std::sync::Arc;

use crate::config::{Display, E2eConfig, StartFrom};
use crate::consumer::{self, ConsumerCtx, Target};
use crate::error::{PerfError, PerfResult};
use crate::latency::Percentiles;
use crate::monitor::{self, Counted, Stream};
use crate::produce::{goal, produce_stats};
use crate::producer::{self, ProducerCtx};
use crate::progress::Progress;
use crate::report::{total_line, MB};
use crate::stats::{Counters, SharedWindow};
use crate::summary::{loadavg, E2eStats, RunReport, Summary};
use crate::worker::{join_all, Gate};
use crate::{output, topic};

/// Runs an end-to-end test; returns its report (also written to `--output`).
pub fn run(config: &E2eConfig) -> PerfResult<RunReport> {
    let c = &config.common;
    let s = &config.producer;
    if s.throughput.is_none() {
        return Err(PerfError::new("e2e needs a target rate: --throughput <records/s>"));
    }
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
    let (produce_window, e2e_window) = (Arc::new(SharedWindow::default()), Arc::new(SharedWindow::default()));
    let consumer_ctx = Arc::new(ConsumerCtx {
        bootstrap: c.bootstrap.clone(),
        topic: c.topic.clone(),
        group: None,
        from: StartFrom::Latest,
        fetch_size: config.fetch_size,
        target: Target::Acked,
        timeout: config.timeout,
        window: e2e_window.clone(),
        counters: counters.clone(),
        gate: gate.clone(),
    });
    let consumer_handle = consumer::start(&consumer_ctx)?;
    let producer_ctx = Arc::new(ProducerCtx {
        bootstrap: c.bootstrap.clone(),
        topic: c.topic.clone(),
        settings: s.clone(),
        stamp: true,
        window: produce_window.clone(),
        counters: counters.clone(),
        gate: gate.clone(),
    });
    let producer_handles = match producer::start(&producer_ctx) {
        Ok(handles) => handles,
        Err(e) => {
            gate.abort();
            let _ = consumer_handle.join();
            return Err(e);
        }
    };
    let clock = match gate.start_when_connected(s.producers + 1) {
        Ok(clock) => clock,
        Err(e) => {
            let producers = join_all(producer_handles).err();
            let consumer = consumer_handle.join().ok().and_then(|r| r.err());
            return Err(producers.or(consumer).unwrap_or(e));
        }
    };

    let progress = Progress::new(c.display, goal(s.limit));
    let out = c.output.as_deref();
    let mut streams = [
        Stream::new("produce", produce_window, out, "e2e: scheduled send -> acknowledgement", clock.start_ms())?,
        Stream::new("e2e", e2e_window, out, "e2e: scheduled send -> receipt", clock.start_ms())?,
    ];
    let counted = Counted { verb: "received", stream: 1, records: &counters.received, bytes: &counters.received_bytes };
    let watched =
        monitor::watch_counted(&clock, c.reporting_interval, &mut streams, || gate.running() == 0, &progress, counted);
    progress.finish();
    let producers = join_all(producer_handles);
    let consumer = consumer_handle.join().map_err(|e| PerfError::new(format!("consumer thread: {e}")));
    let end = watched?;
    producers?;
    let outcome = consumer??;

    let mut hlogs = Vec::new();
    for stream in &mut streams {
        hlogs.extend(stream.finish()?);
    }
    let [produce, e2e] = &streams;
    let (produce_hist, e2e_hist) = (produce.total.hist.clone(), e2e.total.hist.clone());
    let produce_elapsed = counters.producers_finished().unwrap_or(end);
    let e2e_elapsed = outcome.last_record_at;
    let acked = Counters::get(&counters.acked);
    let produce_line = total_line("sent", acked, Counters::get(&counters.acked_bytes), produce_elapsed, &produce_hist);
    let e2e_line = total_line("received", outcome.records, outcome.bytes, e2e_elapsed, &e2e_hist);
    progress.line(&produce_line);
    progress.line(&e2e_line);
    let missing = acked.saturating_sub(outcome.records);
    let first_error = counters.first_error();
    if !quiet {
        if let Some(e) = &first_error {
            eprintln!("{} records failed; first error: {e}", Counters::get(&counters.failed));
        }
        if missing > 0 {
            eprintln!("warning: {missing} acknowledged records were not consumed within {:?}", config.timeout);
        }
    }

    let mut summary = Summary::new("e2e", &clock, config.to_json(), load_start);
    summary.topic = Some(topic.clone());
    summary.produce = Some(produce_stats(&counters, produce_elapsed, s.throughput, &produce_hist, first_error));
    let secs = e2e_elapsed.as_secs_f64();
    let rate = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
    summary.e2e = Some(E2eStats {
        records_received: outcome.records,
        bytes: outcome.bytes,
        elapsed_s: secs,
        records_per_sec: rate(outcome.records as f64),
        mb_per_sec: rate(outcome.bytes as f64 / MB),
        records_missing: missing,
        co_corrected: true,
        latency: Percentiles::of(&e2e_hist),
    });
    summary.result_lines = vec![produce_line, e2e_line];
    let histograms = vec![(produce.name.into(), produce_hist), (e2e.name.into(), e2e_hist)];
    let mut report = RunReport { summary, histograms };
    if let Some(dir) = &c.output {
        output::write(dir, &mut report, &hlogs)?;
    }
    Ok(report)
}
