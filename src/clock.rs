//! Wall-clock time for everything people read (probe times, case times, SLA, rotations).
//! Scheduling runs on `tokio::time` instead, so tests can pause it; rules that depend on the
//! calendar take a `Clock` so tests can set the date with [`ManualClock`].

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> SystemTime;

    /// Now as Unix milliseconds, the form stored in the database.
    fn now_ms(&self) -> i64 {
        unix_ms(self.now())
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    pub fn set(&self, to: SystemTime) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Milliseconds since the Unix epoch; times before 1970 clamp to 0.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// The inverse of [`unix_ms`].
pub fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// RFC 3339 in UTC with milliseconds (`2026-12-01T02:00:00.123Z`), the form of every API time.
pub fn rfc3339_ms(ms: i64) -> String {
    humantime::format_rfc3339_millis(from_unix_ms(ms)).to_string()
}

/// Parse an RFC 3339 time with a zone (`2026-12-01T02:00:00Z`, `…+01:00`) with jiff: the
/// one reading shared by config, API and CLI. A time without a zone is refused rather than
/// guessed as UTC.
pub fn parse_rfc3339(raw: &str) -> Result<SystemTime, String> {
    let s = raw.trim();
    match s.parse::<jiff::Timestamp>() {
        Ok(ts) => {
            let t = SystemTime::from(ts);
            if t >= UNIX_EPOCH {
                Ok(t)
            } else {
                Err(format!("{raw:?} is not an RFC 3339 time like 2026-12-01T02:00:00Z (before 1970)"))
            }
        }
        // A date and time that would be fine with a zone gets the more useful message.
        Err(_) if s.parse::<jiff::civil::DateTime>().is_ok() => {
            Err(format!("{raw:?} has no time zone; end it with Z (UTC) or an offset like +01:00"))
        }
        Err(e) => Err(format!("{raw:?} is not an RFC 3339 time like 2026-12-01T02:00:00Z ({e})")),
    }
}

/// A duration for people, in its largest unit and the next one when that is not zero:
/// `45s`, `1m 1s`, `12m`, `2h 5m`, `3d 4h` (rounded down). The one duration formatter of
/// pages, notifications and the command line.
pub fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let units = [(secs / 86_400, "d"), (secs / 3_600 % 24, "h"), (secs / 60 % 60, "m"), (secs % 60, "s")];
    let Some(first) = units.iter().position(|(n, _)| *n > 0) else { return "0s".to_string() };
    let mut out = format!("{}{}", units[first].0, units[first].1);
    if let Some((n, unit)) = units.get(first + 1).filter(|(n, _)| *n > 0) {
        out.push_str(&format!(" {n}{unit}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(1_796_090_400_123), "2026-12-01T02:00:00.123Z");
        assert_eq!(unix_ms(from_unix_ms(42)), 42);
    }

    #[test]
    fn rfc3339_times_need_a_zone_and_honour_offsets() {
        assert_eq!(parse_rfc3339("2026-12-01T02:00:00Z").map(unix_ms), Ok(1_796_090_400_000));
        assert_eq!(parse_rfc3339("2026-12-01T03:00:00+01:00").map(unix_ms), Ok(1_796_090_400_000));
        assert!(parse_rfc3339("2026-12-01T02:00:00").is_err_and(|e| e.contains("no time zone")));
        assert!(parse_rfc3339("tomorrow").is_err_and(|e| e.contains("not an RFC 3339 time")));
    }

    #[test]
    fn durations_read_in_two_units_at_most() {
        let s = Duration::from_secs;
        assert_eq!(short_duration(s(0)), "0s");
        assert_eq!(short_duration(s(45)), "45s");
        assert_eq!(short_duration(s(61)), "1m 1s");
        assert_eq!(short_duration(s(2 * 3_600 + 5 * 60 + 30)), "2h 5m");
        assert_eq!(short_duration(s(2 * 3_600 + 30)), "2h");
        assert_eq!(short_duration(s(3 * 86_400 + 4 * 3_600 + 60)), "3d 4h");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(from_unix_ms(1_000));
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_millis(500));
        assert_eq!(clock.now_ms(), 1_500);
    }
}
