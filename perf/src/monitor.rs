//! The main thread's side of a run: every reporting interval, take each
//! latency stream's window, add it to the stream's total, append it to the
//! stream's interval log and print the window line; keep the progress bar
//! moving in between.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::AtomicU64;

use crate::clock::Clock;
use crate::error::{PerfError, PerfResult};
use crate::hlog::HlogWriter;
use crate::progress::{status, Progress};
use crate::report::window_line;
use crate::stats::{Counters, Delta, SharedWindow, Window};

/// How often the progress bar is refreshed (and the end of the run noticed).
const TICK: Duration = Duration::from_millis(50);

/// One latency stream ("produce", "e2e", "consume").
pub struct Stream {
    pub name: &'static str,
    shared: Arc<SharedWindow>,
    /// Everything taken so far.
    pub total: Window,
    window_start: Duration,
    hlog: Option<(HlogWriter<BufWriter<File>>, PathBuf)>,
}

impl Stream {
    /// A stream fed through `shared`; with `output`, logs its intervals to
    /// `<output>/<name>-latency.hlog`.
    pub fn new(
        name: &'static str,
        shared: Arc<SharedWindow>,
        output: Option<&Path>,
        what: &str,
        start_ms: i64,
    ) -> PerfResult<Stream> {
        let hlog = match output {
            Some(dir) => {
                let path = dir.join(format!("{name}-latency.hlog"));
                let comment = format!("corelog-perf {what}, latency in us");
                let writer = HlogWriter::create(&path, &comment, start_ms)
                    .map_err(|e| PerfError::new(format!("creating {}: {e}", path.display())))?;
                Some((writer, path))
            }
            None => None,
        };
        Ok(Stream { name, shared, total: Window::default(), window_start: Duration::ZERO, hlog })
    }

    /// Ends the current window at `now`: returns it (and its length) after
    /// adding it to the total and the interval log.
    pub fn tick(&mut self, now: Duration) -> PerfResult<(Window, Duration)> {
        let window = self.shared.take();
        let length = now.saturating_sub(self.window_start);
        self.total.add(&window);
        if let Some((log, path)) = &mut self.hlog {
            log.write_interval(&window.hist, self.window_start, length)
                .map_err(|e| PerfError::new(format!("writing {}: {e}", path.display())))?;
        }
        self.window_start = now;
        Ok((window, length))
    }

    /// Flushes the interval log; returns its path.
    pub fn finish(&mut self) -> PerfResult<Option<PathBuf>> {
        match self.hlog.take() {
            Some((log, path)) => {
                log.finish().map_err(|e| PerfError::new(format!("writing {}: {e}", path.display())))?;
                Ok(Some(path))
            }
            None => Ok(None),
        }
    }
}

/// Runs the reporting loop until `finished()` says so: every `interval`,
/// ticks every stream and hands the windows to `on_window`; every
/// [`TICK`], calls `on_tick` (the progress bar). Ends with a last tick of
/// every stream (the partial window, which is not printed). Returns the
/// clock offset at which the run was seen to finish.
pub fn watch(
    clock: &Clock,
    interval: Duration,
    streams: &mut [Stream],
    mut finished: impl FnMut() -> bool,
    mut on_window: impl FnMut(&[(Window, Duration)]),
    mut on_tick: impl FnMut(Duration),
) -> PerfResult<Duration> {
    let interval = interval.max(Duration::from_millis(100));
    let mut next_report = interval;
    loop {
        if finished() {
            break;
        }
        let now = clock.elapsed();
        if now >= next_report {
            let windows = streams.iter_mut().map(|s| s.tick(now)).collect::<PerfResult<Vec<_>>>()?;
            on_window(&windows);
            while next_report <= now {
                next_report += interval;
            }
        }
        on_tick(now);
        std::thread::sleep(TICK.min(next_report.saturating_sub(clock.elapsed())).max(Duration::from_millis(1)));
    }
    let end = clock.elapsed();
    for s in streams.iter_mut() {
        s.tick(end)?;
    }
    Ok(end)
}

/// What a run counts its progress in: one (records, bytes) counter pair,
/// reported in window lines as `verb` ("sent", "received") with the
/// latencies of stream `stream`.
pub struct Counted<'a> {
    pub verb: &'a str,
    pub stream: usize,
    pub records: &'a AtomicU64,
    pub bytes: &'a AtomicU64,
}

/// [`watch`] for a run whose progress is one counter pair: a window line
/// per interval and the progress bar from the counters.
pub fn watch_counted(
    clock: &Clock,
    interval: Duration,
    streams: &mut [Stream],
    finished: impl FnMut() -> bool,
    progress: &Progress,
    counted: Counted<'_>,
) -> PerfResult<Duration> {
    let mut delta = Delta::default();
    watch(
        clock,
        interval,
        streams,
        finished,
        |windows| {
            let (w, length) = &windows[counted.stream];
            let (n, bytes) = delta.step(Counters::get(counted.records), Counters::get(counted.bytes));
            progress.line(&window_line(counted.verb, n, bytes, *length, &w.hist));
        },
        |now| {
            let records = Counters::get(counted.records);
            progress.update(records, now, status(records, Counters::get(counted.bytes), now));
        },
    )
}
