//! Counters and latency windows shared between the load threads and the
//! reporting (main) thread.
//!
//! Each load task keeps a [`LocalWindow`] and merges it into the shared
//! [`SharedWindow`] every [`FLUSH_EVERY`] (and when it ends), so recording a
//! latency takes no lock; the reporter takes the shared window once per
//! reporting interval. A window's edges are therefore fuzzy by up to
//! `FLUSH_EVERY`; totals are exact.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::latency::new_histogram;

/// How often a load task hands its window to the reporter.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Records, bytes and latencies of some span of a run.
#[derive(Debug, Clone)]
pub struct Window {
    pub count: u64,
    pub bytes: u64,
    /// Latencies in µs.
    pub hist: Histogram<u64>,
}

impl Default for Window {
    fn default() -> Self {
        Window { count: 0, bytes: 0, hist: new_histogram() }
    }
}

impl Window {
    /// Records one record of `bytes` with `latency_us`.
    pub fn record(&mut self, latency_us: u64, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
        self.hist.saturating_record(latency_us);
    }

    /// Adds `other` into this window.
    pub fn add(&mut self, other: &Window) {
        self.count += other.count;
        self.bytes += other.bytes;
        self.hist.add(&other.hist).expect("auto-resizing histograms always add");
    }

    /// Empties the window.
    pub fn reset(&mut self) {
        self.count = 0;
        self.bytes = 0;
        self.hist.reset();
    }
}

/// The window the load threads merge into and the reporter takes.
#[derive(Debug, Default)]
pub struct SharedWindow(Mutex<Window>);

impl SharedWindow {
    /// Moves `local` into the shared window (leaving `local` empty).
    pub fn merge(&self, local: &mut Window) {
        if local.count == 0 && local.hist.is_empty() {
            return;
        }
        self.0.lock().expect("stats lock").add(local);
        local.reset();
    }

    /// Takes everything merged since the last take.
    pub fn take(&self) -> Window {
        std::mem::take(&mut *self.0.lock().expect("stats lock"))
    }
}

/// A load task's own window, merged into a [`SharedWindow`] periodically.
pub struct LocalWindow {
    window: Window,
    shared: Arc<SharedWindow>,
    last_flush: Instant,
}

impl LocalWindow {
    pub fn new(shared: Arc<SharedWindow>) -> Self {
        LocalWindow { window: Window::default(), shared, last_flush: Instant::now() }
    }

    /// Records one record.
    pub fn record(&mut self, latency_us: u64, bytes: u64) {
        self.window.record(latency_us, bytes);
    }

    /// Hands the window over if [`FLUSH_EVERY`] has passed since the last time.
    pub fn maybe_flush(&mut self) {
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Hands the window over now.
    pub fn flush(&mut self) {
        self.shared.merge(&mut self.window);
        self.last_flush = Instant::now();
    }
}

impl Drop for LocalWindow {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The change of a (records, bytes) counter pair since the last call:
/// window lines count records from the exact counters, and take only the
/// latencies from the (fuzzier) windows.
#[derive(Debug, Default)]
pub struct Delta {
    last: (u64, u64),
}

impl Delta {
    pub fn step(&mut self, records: u64, bytes: u64) -> (u64, u64) {
        let d = (records.saturating_sub(self.last.0), bytes.saturating_sub(self.last.1));
        self.last = (records, bytes);
        d
    }
}

/// Run-wide counters (exact, updated as things happen).
#[derive(Debug, Default)]
pub struct Counters {
    /// Records handed to the client.
    pub sent: AtomicU64,
    /// Records acknowledged (or, with acks=0, written to the socket).
    pub acked: AtomicU64,
    /// Value bytes of the acknowledged records.
    pub acked_bytes: AtomicU64,
    /// Records whose delivery failed.
    pub failed: AtomicU64,
    /// Records consumed.
    pub received: AtomicU64,
    /// Value bytes consumed.
    pub received_bytes: AtomicU64,
    /// Producer threads still running.
    pub producer_threads: AtomicUsize,
    /// Every producer has finished (all deliveries resolved).
    pub producers_done: AtomicBool,
    /// When the last producer finished, µs on the run's clock.
    pub producers_finished_us: AtomicU64,
    /// The first delivery or worker error.
    pub first_error: Mutex<Option<String>>,
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Keeps `message` if it is the first error.
    pub fn error(&self, message: String) {
        let mut first = self.first_error.lock().expect("error lock");
        if first.is_none() {
            *first = Some(message);
        }
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().expect("error lock").clone()
    }

    /// A producer finished at `at` (run clock).
    pub fn producer_finished(&self, at: Duration) {
        self.producers_finished_us.fetch_max(at.as_micros() as u64, Ordering::AcqRel);
    }

    /// A producer thread exits; the last one marks the producers done.
    pub fn producer_thread_exited(&self) {
        if self.producer_threads.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.producers_done.store(true, Ordering::Release);
        }
    }

    /// When the last producer finished.
    pub fn producers_finished(&self) -> Option<Duration> {
        match self.producers_finished_us.load(Ordering::Acquire) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_windows_merge_into_the_shared_one() {
        let shared = Arc::new(SharedWindow::default());
        let mut a = LocalWindow::new(shared.clone());
        let mut b = LocalWindow::new(shared.clone());
        a.record(100, 10);
        a.record(200, 10);
        b.record(5000, 20);
        a.flush();
        drop(b);
        let w = shared.take();
        assert_eq!((w.count, w.bytes, w.hist.len()), (3, 40, 3));
        assert!(w.hist.equivalent(w.hist.max(), 5000));
        let empty = shared.take();
        assert_eq!((empty.count, empty.hist.len()), (0, 0));
    }
}
