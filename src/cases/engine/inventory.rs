//! What the timeline says when the inventory changes under a case (PRODUCT.md section 13):
//! a changed target is noted on the active case of its service, and an active case whose
//! server left the inventory is noted and resolved with actor `inventory`, whatever
//! `auto_resolve` says, so no case is left without a server to recover. The resolution is
//! decided from state: the sweep finds such cases on every tick (the leader acts on them), so
//! a failed write or a restart only delays it.

use super::{CaseEngine, CaseError};
use crate::domain::{CaseNumber, Target, TimelineKind};
use crate::store::{CaseRow, Lease};

/// The actor of what the inventory changes.
pub const INVENTORY_ACTOR: &str = "inventory";

impl CaseEngine {
    /// Note each changed target on the active case of its service (leader only; told, not
    /// decided).
    pub async fn note_retargeted(&self, retargeted: &[(String, Target, Target)]) -> Result<(), CaseError> {
        if !self.ownership.is_leader() || retargeted.is_empty() {
            return Ok(());
        }
        let fleet = self.fleet();
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        tx.hold(Lease::Leader).await?;
        let cases = tx.active_cases().await?;
        let mut noted = false;
        for (id, from, to) in retargeted {
            let Some(entry) = fleet.get(id) else { continue };
            for case in cases.iter().filter(|c| c.customer == entry.customer && c.service == entry.service) {
                let text = format!(
                    "The target of {id} changed from {from} to {to} in the inventory; its count of failed \
                     status requests starts afresh."
                );
                tx.add_event(case.id, now, TimelineKind::Inventory, INVENTORY_ACTOR, &text).await?;
                noted = true;
            }
        }
        if noted {
            self.commit(tx).await?;
        }
        Ok(())
    }

    /// Resolve active cases whose server is no longer in the inventory (found by the sweep).
    pub(super) async fn retire_removed(&self, orphans: Vec<CaseRow>) -> Result<(), CaseError> {
        for orphan in orphans {
            let now = self.clock.now_ms();
            let mut tx = self.store.begin().await?;
            tx.hold(Lease::Leader).await?;
            let Some(mut case) = tx.case(orphan.id).await? else { continue };
            if !case.status.is_active() || self.fleet().get(&case.server).is_some() {
                continue;
            }
            let text = format!(
                "{} left the inventory; {} is resolved by the inventory, whatever auto_resolve says.",
                case.server,
                CaseNumber(case.id)
            );
            tx.add_event(case.id, now, TimelineKind::Inventory, INVENTORY_ACTOR, &text).await?;
            self.resolve_in(&mut tx, &mut case, INVENTORY_ACTOR, now).await?;
            case.updated_at = now;
            tx.update_case(&case).await?;
            self.commit(tx).await?;
            tracing::info!(case = %CaseNumber(case.id), server = %case.server, "case resolved: its server left the inventory");
        }
        Ok(())
    }
}
