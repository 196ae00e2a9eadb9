//! The login rate limit (PRODUCT.md section 11): after [`MAX_FAILURES`] failed sign-ins within
//! [`WINDOW`] from one client address, every sign-in from it, right or wrong, gets 429 for
//! [`BLOCK`]. This is a fixed failure count with a fixed block, which a token-bucket limiter
//! (`governor`, `tower_governor`) does not express: those count every request and cannot be
//! asked whether an address is blocked without spending a cell, so a right token would use up
//! the budget of wrong ones. Bounded: at most [`MAX_TRACKED`] addresses are remembered, the
//! stale ones dropped first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
pub const BLOCK: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// How long `addr` must still wait, if it is blocked at `now`.
    pub fn blocked(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let until = entries.get(&addr)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Count a failed sign-in from `addr` at `now`; the one that reaches [`MAX_FAILURES`]
    /// starts the block.
    pub fn failed(&self, addr: IpAddr, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&addr) {
            entries.retain(|_, e| now.saturating_duration_since(e.window_start) < WINDOW.max(BLOCK));
            if entries.len() >= MAX_TRACKED {
                entries.clear();
            }
        }
        let entry = entries.entry(addr).or_insert(Entry { window_start: now, failures: 0, blocked_until: None });
        if entry.blocked_until.is_some_and(|until| until <= now) {
            *entry = Entry { window_start: now, failures: 0, blocked_until: None };
        }
        if now.saturating_duration_since(entry.window_start) >= WINDOW {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.failures += 1;
        if entry.failures >= MAX_FAILURES && entry.blocked_until.is_none() {
            entry.blocked_until = Some(now + BLOCK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_a_minute_block_for_a_minute() {
        let throttle = LoginThrottle::new();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.2".parse().expect("ip"), "127.0.0.3".parse().expect("ip"));
        let t0 = Instant::now();
        for i in 0..9 {
            throttle.failed(a, t0 + Duration::from_secs(i * 5));
            assert_eq!(throttle.blocked(a, t0 + Duration::from_secs(i * 5)), None, "after {} failures", i + 1);
        }
        let tenth = t0 + Duration::from_secs(50);
        throttle.failed(a, tenth);
        assert_eq!(throttle.blocked(a, tenth), Some(BLOCK));
        assert_eq!(throttle.blocked(b, tenth), None, "another address is not blocked");
        assert!(throttle.blocked(a, tenth + Duration::from_secs(59)).is_some());
        assert_eq!(throttle.blocked(a, tenth + BLOCK), None, "the block lasts a minute");
        // After the block the count starts afresh.
        throttle.failed(a, tenth + BLOCK);
        assert_eq!(throttle.blocked(a, tenth + BLOCK), None);
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_block() {
        let throttle = LoginThrottle::new();
        let a: IpAddr = "::1".parse().expect("ip");
        let t0 = Instant::now();
        for i in 0..30 {
            let at = t0 + Duration::from_secs(i * 7);
            throttle.failed(a, at);
            assert_eq!(throttle.blocked(a, at), None, "failure {i}");
        }
    }
}
