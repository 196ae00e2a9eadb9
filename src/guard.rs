//! The monitor's guard against its own outage (PRODUCT.md sections 1.8 and 10). Asked at the
//! moment a case would open: the network counts as healthy only if every canary's latest
//! status request (no older than `retry_interval`, else one is made now) succeeded and fewer
//! than `max_failing_fraction` of all servers are failing or down. Because it is asked at
//! decision time, the order in which results arrive during a storm cannot let a case through.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;
use crate::domain::{ServerState, Target};
use crate::fleet::Fleet;
use crate::probe::{Limits, Prober};

/// The fraction rule only trips once at least this many servers fail, so that a fleet of two
/// with one server down is not mistaken for a broken monitor.
pub const MIN_FAILING_FOR_FRACTION: usize = 3;

/// The guard's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Healthy,
    /// Why the monitor suspects itself, for the `monitor.degraded` text.
    Degraded(String),
}

/// A canary's latest result: when it was taken and the error, if it failed.
type CanaryResult = (Instant, Option<String>);

pub struct Guard {
    canaries: Vec<Target>,
    limits: Limits,
    max_age: Duration,
    max_failing_fraction: f64,
    latest: Mutex<Vec<Option<CanaryResult>>>,
    prober: Prober,
}

impl Guard {
    pub fn new(config: &Config, prober: Prober) -> Guard {
        let defaults = &config.probing.defaults;
        Guard {
            canaries: config.guard.canaries.clone(),
            limits: Limits { timeout: defaults.timeout, expect_status: defaults.expect_status.clone() },
            max_age: defaults.retry_interval,
            max_failing_fraction: config.guard.max_failing_fraction,
            latest: Mutex::new(vec![None; config.guard.canaries.len()]),
            prober,
        }
    }

    /// Whether any server of the fleet is `down` (a case may be about to open somewhere).
    pub fn anything_down(&self, fleet: &Fleet) -> bool {
        fleet.counts().get(ServerState::Down) > 0
    }

    /// Decide now. Probes the canaries whose latest result is too old (concurrently).
    pub async fn assess(&self, fleet: &Fleet) -> Verdict {
        let stale: Vec<usize> = {
            let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
            (0..self.canaries.len())
                .filter(|&i| latest[i].as_ref().is_none_or(|(at, _)| at.elapsed() > self.max_age))
                .collect()
        };
        let fresh = futures_util::future::join_all(stale.iter().map(|&i| async move {
            let result = self.prober.probe(&self.canaries[i], &self.limits).await;
            (i, Instant::now(), result.outcome.err().map(|e| e.to_string()))
        }))
        .await;
        let failed_canary = {
            let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
            for (i, at, error) in fresh {
                latest[i] = Some((at, error));
            }
            latest.iter().zip(&self.canaries).find_map(|(result, target)| match result {
                Some((_, Some(error))) => Some(format!("canary {target} failed: {error}")),
                _ => None,
            })
        };
        if let Some(reason) = failed_canary {
            return Verdict::Degraded(reason);
        }
        // Kept in step with every status change: O(1), whatever the fleet's size.
        let failing = fleet.counts().get(ServerState::Failing) + fleet.counts().get(ServerState::Down);
        let total = fleet.len().max(1);
        let fraction = failing as f64 / total as f64;
        if failing >= MIN_FAILING_FOR_FRACTION && fraction >= self.max_failing_fraction {
            return Verdict::Degraded(format!(
                "{failing} of {total} servers are failing or down ({:.0}%, limit {:.0}%)",
                fraction * 100.0,
                self.max_failing_fraction * 100.0
            ));
        }
        Verdict::Healthy
    }
}
