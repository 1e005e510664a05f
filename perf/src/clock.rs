//! One clock for a whole run: monotonic offsets from the run's start, and
//! the wall-clock time they correspond to (record timestamps), so that
//! threads agree and a wall-clock step during the run does not distort
//! latencies measured within this process.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The run's start, as an `Instant` and as µs since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    wall_start_us: i64,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock { start: Instant::now(), wall_start_us: wall_now_us() }
    }

    /// The start as an `Instant`.
    pub fn instant(&self) -> Instant {
        self.start
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The wall-clock time (µs since the epoch) of the offset `at`.
    pub fn wall_us(&self, at: Duration) -> i64 {
        self.wall_start_us + at.as_micros() as i64
    }

    /// The wall-clock time (ms since the epoch) of the offset `at`.
    pub fn wall_ms(&self, at: Duration) -> i64 {
        self.wall_us(at).div_euclid(1000)
    }

    /// Now, in µs since the epoch, on this clock.
    pub fn now_wall_us(&self) -> i64 {
        self.wall_us(self.elapsed())
    }

    /// The start in ms since the epoch.
    pub fn start_ms(&self) -> i64 {
        self.wall_start_us.div_euclid(1000)
    }
}

/// The system's wall clock in µs since the epoch.
pub fn wall_now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// `ms` since the epoch as kafka-consumer-perf-test prints times
/// (`yyyy-MM-dd HH:mm:ss:SSS`), in UTC.
pub fn format_time_ms(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}:{milli:03}")
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_kafka_consumer_perf_test() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00:00:000");
        // 2024-02-29 13:45:07.089 UTC
        assert_eq!(format_time_ms(1_709_214_307_089), "2024-02-29 13:45:07:089");
        assert_eq!(format_time_ms(951_782_400_000), "2000-02-29 00:00:00:000");
        assert_eq!(format_time_ms(1_735_689_599_999), "2024-12-31 23:59:59:999");
    }

    #[test]
    fn offsets_map_to_wall_time() {
        let clock = Clock::start();
        let at = Duration::from_millis(1500);
        assert_eq!(clock.wall_us(at) - clock.wall_us(Duration::ZERO), 1_500_000);
        assert_eq!(clock.wall_ms(at), (clock.wall_us(Duration::ZERO) + 1_500_000).div_euclid(1000));
        assert!((clock.now_wall_us() - wall_now_us()).abs() < 1_000_000);
    }
}
