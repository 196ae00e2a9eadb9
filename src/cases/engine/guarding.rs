//! The guard's verdict as stored state: tripping sets the `guard_degraded` flag (and pages
//! about the monitor once, from the instance that set it); healing clears it, records the heal
//! time in `guard_healed` for every instance, and sends `monitor.recovered` once. What the
//! guard decides is in `crate::guard`.

use std::sync::atomic::Ordering;

use super::{CaseEngine, CaseError, GUARD_FLAG, HEALED_FLAG};
use crate::outbox::EventKind;
use crate::store::Lease;

impl CaseEngine {
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
