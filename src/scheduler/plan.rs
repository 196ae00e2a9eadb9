//! When a server's next status request is due. Pure functions of the server's id, settings and
//! status, so the schedule is the same after a restart and on every instance.
//!
//! Normal requests fall on fixed slots: `offset(id) + k * interval` since the Unix epoch, where
//! the offset is a stable hash of the id. That spreads start times evenly over the interval and
//! keeps each server's phase across restarts. While a failure is being confirmed (1 to
//! threshold-1 failures) or a recovery is (down, some successes), requests follow
//! `retry_interval` after the previous one started.

use std::time::Duration;

use crate::config::ProbeSettings;
use crate::tracker::Status;

/// FNV-1a: stable across Rust versions and platforms, unlike `DefaultHasher`.
fn stable_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A duration in milliseconds, at least 1.
pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// This server's phase within `interval`, in milliseconds.
pub fn offset_ms(id: &str, interval: Duration) -> i64 {
    let period = millis(interval);
    (stable_hash(id) % period.unsigned_abs()) as i64
}

/// The first slot strictly after `after` (Unix ms).
pub fn next_slot(id: &str, interval: Duration, after: i64) -> i64 {
    let period = millis(interval);
    let offset = offset_ms(id, interval);
    let k = (after - offset).div_euclid(period) + 1;
    offset + k * period
}

/// Is this server in a confirmation sequence, where requests follow `retry_interval`?
fn confirming(status: &Status, settings: &ProbeSettings) -> bool {
    let confirming_failure =
        status.consecutive_failures > 0 && status.consecutive_failures < settings.failure_threshold;
    let confirming_recovery = status.confirmed_down && status.consecutive_successes > 0;
    confirming_failure || confirming_recovery
}

/// When the request after one that started at `started` (Unix ms) is due.
pub fn next_due(id: &str, status: &Status, settings: &ProbeSettings, started: i64) -> i64 {
    if confirming(status, settings) {
        started + millis(settings.retry_interval)
    } else {
        next_slot(id, settings.interval, started)
    }
}

/// When the first request after a (re)start at `now` is due: a confirmation in progress goes
/// on where it stopped, everything else waits for its slot.
pub fn first_due(id: &str, status: &Status, settings: &ProbeSettings, now: i64) -> i64 {
    match status.last_probe_at {
        Some(last) if confirming(status, settings) => (last + millis(settings.retry_interval)).max(now),
        _ => next_slot(id, settings.interval, now - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExpectStatus;

    fn settings() -> ProbeSettings {
        ProbeSettings {
            interval: Duration::from_secs(900),
            retry_interval: Duration::from_secs(60),
            failure_threshold: 10,
            recovery_threshold: 2,
            timeout: Duration::from_secs(10),
            expect_status: ExpectStatus::AnySuccess,
        }
    }

    #[test]
    fn slots_are_stable_and_one_interval_apart() {
        let first = next_slot("acme-eu-1", Duration::from_secs(900), 1_000_000);
        assert!(first > 1_000_000 && first <= 1_900_000);
        assert_eq!(next_slot("acme-eu-1", Duration::from_secs(900), first), first + 900_000);
        assert_eq!(next_slot("acme-eu-1", Duration::from_secs(900), 1_000_000), first, "deterministic");
    }

    #[test]
    fn offsets_spread_over_the_interval() {
        let interval = Duration::from_secs(10);
        let mut buckets = [0u32; 10];
        for i in 0..10_000 {
            buckets[(offset_ms(&format!("server-{i}"), interval) / 1000) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| (800..1200).contains(&n)), "uneven spread: {buckets:?}");
    }

    #[test]
    fn a_failure_is_confirmed_at_retry_interval_until_the_threshold() {
        let s = settings();
        let mut status = Status::new(0);
        status.consecutive_failures = 3;
        assert_eq!(next_due("a", &status, &s, 5_000), 65_000);
        status.consecutive_failures = 10;
        status.confirmed_down = true;
        assert_eq!(next_due("a", &status, &s, 5_000), next_slot("a", s.interval, 5_000), "down: back to interval");
        status.consecutive_failures = 0;
        status.consecutive_successes = 1;
        assert_eq!(next_due("a", &status, &s, 5_000), 65_000, "recovery is confirmed quickly too");
    }

    #[test]
    fn after_a_restart_a_confirmation_continues_where_it_stopped() {
        let s = settings();
        let mut status = Status::new(0);
        status.consecutive_failures = 4;
        status.last_probe_at = Some(100_000);
        assert_eq!(first_due("a", &status, &s, 120_000), 160_000);
        assert_eq!(first_due("a", &status, &s, 500_000), 500_000, "overdue: now");
    }
}
