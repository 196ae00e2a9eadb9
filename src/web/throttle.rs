//! The login rate limit (PRODUCT.md section 11): after [`MAX_FAILURES`] failed sign-ins within
//! [`WINDOW`] from one client address, every sign-in from it, right or wrong, gets 429 for
//! [`BLOCK`]. This is a fixed failure count with a fixed block, which a token-bucket limiter
//! (`governor`, `tower_governor`) does not express: those count every request and cannot be
//! asked whether an address is blocked without spending a cell, so a right token would use up
//! the budget of wrong ones. IPv6 clients are counted by /64 (one host usually holds a whole
//! /64). Bounded: at most [`MAX_TRACKED`] addresses are remembered; when full, stale entries go
//! first, then those not blocked; a blocked address is never forgotten early.

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
        let until = entries.get(&key(addr))?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Count a failed sign-in from `addr` at `now`; the one that reaches [`MAX_FAILURES`]
    /// starts the block.
    pub fn failed(&self, addr: IpAddr, now: Instant) {
        let addr = key(addr);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&addr) {
            let blocked = |e: &Entry| e.blocked_until.is_some_and(|until| until > now);
            entries.retain(|_, e| blocked(e) || now.saturating_duration_since(e.window_start) < WINDOW);
            if entries.len() >= MAX_TRACKED {
                entries.retain(|_, e| blocked(e));
            }
            if entries.len() >= MAX_TRACKED {
                // Every remembered address is blocked: a new one is not tracked until some end.
                return;
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

/// What an address is counted as: itself for IPv4, its /64 for IPv6.
fn key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
        v4 => v4,
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
    fn an_ipv6_host_is_counted_by_its_64() {
        let throttle = LoginThrottle::new();
        let t0 = Instant::now();
        for i in 0..10u16 {
            let addr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i + 1));
            throttle.failed(addr, t0);
        }
        let sibling: IpAddr = "2001:db8:0:1::ffff".parse().expect("ip");
        let other: IpAddr = "2001:db8:0:2::1".parse().expect("ip");
        assert!(throttle.blocked(sibling, t0).is_some(), "the whole /64 is blocked");
        assert_eq!(throttle.blocked(other, t0), None);
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
