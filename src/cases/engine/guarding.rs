//! The guard's verdict as stored state. [`CaseEngine::may_open`] asks the guard when a case
//! would open (only the leader then trips or heals the flag). Tripping sets the `guard_degraded` flag (and pages
//! about the monitor once, from the instance that set it); healing clears it, records the heal
//! time in `guard_healed` for every instance, and sends `monitor.recovered` once. What the
//! guard decides is in `crate::guard`.

use std::sync::atomic::Ordering;

use super::reconcile::Gate;
use super::{unless_fenced, CaseEngine, CaseError, GUARD_FLAG, HEALED_FLAG};
use crate::guard::Verdict;
use crate::outbox::EventKind;
use crate::store::Lease;

impl CaseEngine {
    /// Ask the guard (once per gate) whether cases may open; trip or heal it as it says.
    pub(super) async fn may_open(&self, gate: &mut Gate) -> Result<bool, CaseError> {
        if *gate == Gate::Unasked {
            let leader = self.ownership.is_leader();
            *gate = match self.guard.assess(&self.fleet()).await {
                // Only the leader trips and heals the stored flag, so that every instance gives
                // the same answer and the monitor is paged about once; another instance that
                // suspects the network just opens nothing (the leader's sweep trips it).
                Verdict::Degraded(reason) if leader => {
                    unless_fenced(self.trip_guard(&reason).await)?;
                    Gate::Shut
                }
                Verdict::Degraded(_) => Gate::Shut,
                Verdict::Healthy if leader => {
                    if unless_fenced(self.heal_guard().await.map(|()| true))? {
                        Gate::Open
                    } else {
                        Gate::Shut
                    }
                }
                Verdict::Healthy if self.store.flag(GUARD_FLAG).await?.is_some() => Gate::Shut,
                Verdict::Healthy => Gate::Open,
            };
        }
        Ok(*gate == Gate::Open)
    }

    /// The guard tripped: set the flag and, if this call set it, page about the monitor once.
    pub(super) async fn trip_guard(&self, reason: &str) -> Result<(), CaseError> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        tx.hold(Lease::Leader).await?;
        if tx.set_flag(GUARD_FLAG, Some(reason), now).await? {
            let text = format!("firstwatch suspects its own network and opens no customer cases: {reason}.");
            self.about_monitor(&mut tx, EventKind::MonitorDegraded, &format!("monitor#{now}"), &text, now).await?;
            tracing::error!(%reason, "monitor degraded: no customer cases are opened until it heals");
        }
        self.commit(tx).await?;
        self.guard_tripped.store(true, Ordering::Relaxed);
        self.metrics.monitor_degraded.set(1);
        Ok(())
    }

    pub(super) async fn heal_guard(&self) -> Result<(), CaseError> {
        let Some((_, since)) = self.store.flag(GUARD_FLAG).await? else {
            self.guard_tripped.store(false, Ordering::Relaxed);
            self.metrics.monitor_degraded.set(0);
            return Ok(());
        };
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        tx.hold(Lease::Leader).await?;
        if tx.set_flag(GUARD_FLAG, None, now).await? {
            let text = "firstwatch's own network is healthy again; customer cases open as usual.";
            self.about_monitor(&mut tx, EventKind::MonitorRecovered, &format!("monitor#{since}"), text, now).await?;
            tx.set_flag(HEALED_FLAG, None, now).await?;
            tx.set_flag(HEALED_FLAG, Some("healed"), now).await?;
            tracing::info!("monitor recovered");
        }
        self.commit(tx).await?;
        self.healed_at.store(now, Ordering::Relaxed);
        self.guard_tripped.store(false, Ordering::Relaxed);
        self.metrics.monitor_degraded.set(0);
        Ok(())
    }
}
