//! The sweep for missed first-response targets (`[cases.response_targets]`, computed by
//! `cases::sla` when a case opens): an active case nobody acknowledged by its `response_due_at`
//! gets one `sla_breach` timeline event and counts in `firstwatch_sla_breaches_total`.

use super::{CaseEngine, CaseError, Effects, ENGINE};
use crate::domain::{CaseNumber, TimelineKind};
use crate::store::Lease;

impl CaseEngine {
    pub(super) async fn check_response_targets(&self) -> Result<(), CaseError> {
        let now = self.clock.now_ms();
        let mut fx = Effects::default();
        let mut tx = self.store.begin().await?;
        tx.hold(Lease::Leader).await?;
        for mut case in tx.active_cases().await? {
            if case.sla_breached || case.acknowledged_at.is_some() || now <= case.response_due_at {
                continue;
            }
            case.sla_breached = true;
            let text = format!(
                "Response target missed: {} was due a first response by {} and nobody has acknowledged it.",
                CaseNumber(case.id),
                crate::clock::rfc3339_ms(case.response_due_at)
            );
            tx.add_event(case.id, now, TimelineKind::SlaBreach, ENGINE, &text).await?;
            tx.update_case(&case).await?;
            fx.sla_breaches.push(case.severity);
        }
        self.commit(tx).await?;
        self.apply(fx)
    }
}
