//! The scheduler's sign of life, for `/readyz`: the loop beats every time it turns (at least
//! once a second, from its own timer), so a scheduler that is stuck, whatever the reason, is
//! seen as stuck within a few seconds. Runs on `tokio::time`, so paused test time works.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Heartbeat {
    start: Instant,
    /// Milliseconds after `start` of the latest beat; written by the scheduler only.
    last_ms: AtomicU64,
    /// Set while the loop runs (after start, before the shutdown drain).
    running: AtomicBool,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat { start: Instant::now(), last_ms: AtomicU64::new(0), running: AtomicBool::new(false) }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    pub fn set_running(&self, running: bool) {
        if running {
            self.beat();
        }
        self.running.store(running, Ordering::Relaxed);
    }

    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// How long since the latest beat.
    pub fn age(&self) -> Duration {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}
