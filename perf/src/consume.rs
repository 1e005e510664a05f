//! `corelog-perf consume`: kafka-consumer-perf-test for corelog, plus
//! end-to-end latency (record timestamp → receipt).
//!
//! One consumer reads every partition of the topic from the start (or the
//! end) until `--messages` records, or, without it, the backlog present at
//! the start (`--from earliest`) or until `--timeout` passes without a record.
//! With `--group` it is a member of that consumer group instead: it reads the
//! partitions the group assigns it, from the group's committed offsets, and
//! commits as it goes and when it leaves (the backlog is then that of its
//! first assignment). The clock starts before connecting, so
//! `rebalance.time.ms` is the time to connect, assign (or join the group) and
//! find the start positions, as Kafka's counts the group join;
//! `fetch.time.ms` is the rest, up to the last record.

use std::sync::Arc;

use crate::config::{ConsumeConfig, Display, StartFrom};
use crate::consumer::{self, ConsumerCtx, Target};
use crate::error::{PerfError, PerfResult};
use crate::latency::Percentiles;
use crate::monitor::{self, Stream};
use crate::output;
use crate::progress::{status, Goal, Progress};
use crate::report::{
    consumer_detailed_row, consumer_latency_line, consumer_row, ConsumerTotals, CONSUMER_DETAILED_HEADER,
    CONSUMER_HEADER,
};
use crate::stats::{Counters, Delta, SharedWindow};
use crate::summary::{loadavg, ConsumeStats, RunReport, Summary};
use crate::worker::Gate;

/// Runs a consume test; returns its report (also written to `--output`).
pub fn run(config: &ConsumeConfig) -> PerfResult<RunReport> {
    let c = &config.common;
    if let Some(dir) = &c.output {
        output::prepare(dir)?;
    }
    let target = match (config.messages, config.from) {
        (Some(n), _) => Target::Records(n),
        (None, StartFrom::Earliest) => Target::CatchUp,
        (None, StartFrom::Latest) => Target::UntilIdle,
    };
    let load_start = loadavg();
    let gate = Arc::new(Gate::default());
    let counters = Arc::new(Counters::default());
    let window = Arc::new(SharedWindow::default());
    let clock = gate.start_now();
    let ctx = Arc::new(ConsumerCtx {
        bootstrap: c.bootstrap.clone(),
        topic: c.topic.clone(),
        group: config.group.clone(),
        from: config.from,
        fetch_size: config.fetch_size,
        target,
        timeout: config.timeout,
        window: window.clone(),
        counters: counters.clone(),
        gate: gate.clone(),
    });
    let handle = consumer::start(&ctx)?;

    let goal = config.messages.map_or(Goal::Open, Goal::Records);
    let progress = Progress::new(c.display, goal);
    if config.detailed_stats {
        progress.line(CONSUMER_DETAILED_HEADER);
    }
    let mut streams = [Stream::new("consume", window, c.output.as_deref(), "consume", clock.start_ms())?];
    let mut delta = Delta::default();
    let watched = monitor::watch(
        &clock,
        c.reporting_interval,
        &mut streams,
        || gate.running() == 0,
        |windows| {
            let length = windows[0].1;
            let (records, bytes) = (Counters::get(&counters.received), Counters::get(&counters.received_bytes));
            let (n, b) = delta.step(records, bytes);
            if config.detailed_stats {
                let now_ms = clock.wall_ms(clock.elapsed());
                progress.line(&consumer_detailed_row(now_ms, bytes, records, b, n, length));
            }
        },
        |now| {
            let records = Counters::get(&counters.received);
            progress.update(records, now, status(records, Counters::get(&counters.received_bytes), now));
        },
    );
    progress.finish();
    let joined = handle.join().map_err(|e| PerfError::new(format!("consumer thread: {e}")));
    watched?;
    let outcome = joined??;

    let [stream] = &mut streams;
    let hlog = stream.finish()?;
    let hist = stream.total.hist.clone();
    let totals = ConsumerTotals {
        start_ms: clock.start_ms(),
        end_ms: clock.wall_ms(outcome.last_record_at),
        bytes: outcome.bytes,
        records: outcome.records,
        rebalance_ms: outcome.assigned_at.as_millis() as u64,
    };
    let row = consumer_row(&totals);
    let latency = consumer_latency_line(&hist);
    if !config.detailed_stats {
        progress.line(CONSUMER_HEADER);
    }
    progress.line(&row);
    progress.line(&latency);
    if outcome.timed_out && c.display != Display::Quiet {
        eprintln!(
            "warning: stopped after {} s without records, {} of {} read",
            config.timeout.as_secs_f64(),
            outcome.records,
            outcome.expected.unwrap_or(0)
        );
    }

    let mut summary = Summary::new("consume", &clock, config.to_json(), load_start);
    let secs = totals.elapsed_secs();
    let fetch_secs = totals.fetch_ms() as f64 / 1000.0;
    let rate = |n: f64, s: f64| if s > 0.0 { n / s } else { 0.0 };
    summary.consume = Some(ConsumeStats {
        start_time: crate::clock::format_time_ms(totals.start_ms),
        end_time: crate::clock::format_time_ms(totals.end_ms),
        start_ms: totals.start_ms,
        end_ms: totals.end_ms,
        data_consumed_mb: totals.mb(),
        mb_per_sec: rate(totals.mb(), secs),
        records: totals.records,
        records_per_sec: rate(totals.records as f64, secs),
        rebalance_time_ms: totals.rebalance_ms,
        fetch_time_ms: totals.fetch_ms(),
        fetch_mb_per_sec: rate(totals.mb(), fetch_secs),
        fetch_records_per_sec: rate(totals.records as f64, fetch_secs),
        bytes: totals.bytes,
        expected: outcome.expected,
        timed_out: outcome.timed_out,
        e2e_latency: Percentiles::of(&hist),
    });
    summary.result_lines = vec![CONSUMER_HEADER.to_owned(), row, latency];
    let mut report = RunReport { summary, histograms: vec![(stream.name.into(), hist)] };
    if let Some(dir) = &c.output {
        output::write(dir, &mut report, &hlog.into_iter().collect::<Vec<_>>())?;
    }
    Ok(report)
}
