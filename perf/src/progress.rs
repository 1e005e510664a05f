//! Showing progress: an indicatif bar on a terminal (the window lines are
//! printed above it), plain lines otherwise, or nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Display;

/// Where lines and the bar go.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// The bar's length is in ms of run time, not records.
    by_time: bool,
}

/// What the bar measures.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// A number of records.
    Records(u64),
    /// A span of time.
    Time(Duration),
    /// Unknown (a spinner).
    Open,
}

impl Progress {
    /// Progress shown per `display`; the bar only when stderr is a terminal.
    pub fn new(display: Display, goal: Goal) -> Progress {
        let bar = match display {
            Display::Auto if std::io::stderr().is_terminal() => Some(make_bar(goal)),
            _ => None,
        };
        Progress { bar, quiet: display == Display::Quiet, by_time: matches!(goal, Goal::Time(_)) }
    }

    /// Prints a line on stdout (above the bar, if there is one).
    pub fn line(&self, text: &str) {
        match &self.bar {
            _ if self.quiet => {}
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    /// Moves the bar: `records` done, `elapsed` since the start, and a short status.
    pub fn update(&self, records: u64, elapsed: Duration, status: String) {
        let Some(bar) = &self.bar else { return };
        match bar.length() {
            Some(len) if len > 0 => {
                let pos = if self.by_time { elapsed.as_millis() as u64 } else { records };
                bar.set_position(pos.min(len));
            }
            _ => bar.tick(),
        }
        bar.set_message(status);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn make_bar(goal: Goal) -> ProgressBar {
    let bar = match goal {
        Goal::Records(n) => ProgressBar::new(n),
        Goal::Time(d) => ProgressBar::new(d.as_millis() as u64),
        Goal::Open => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
    let template = match goal {
        Goal::Open => "{spinner} [{elapsed_precise}] {msg}",
        _ => "[{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}

/// A short status for the bar: `12345 records, 9876 rec/s, 9.6 MB/s`.
pub fn status(records: u64, bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    format!(
        "{records} records, {:.0} rec/s, {:.1} MB/s",
        records as f64 / secs,
        bytes as f64 / crate::report::MB / secs
    )
}
