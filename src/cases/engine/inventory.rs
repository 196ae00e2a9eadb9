//! What the timeline says when the inventory changes under a case (PRODUCT.md section 13):
//! a changed target is noted on the active case of its service, and an active case whose
//! server left its service (removed, or moved to another) is noted and resolved with actor
//! `inventory`, whatever `auto_resolve` says, so no case is left without a server to recover;
//! unless another server of the service is down, when the case goes on as that server's (a
//! resolution would end the outage the service is still in). The resolution is
//! decided from state: the sweep finds such cases on every tick (the leader acts on them), so
//! a failed write or a restart only delays it.

use super::{CaseEngine, CaseError};
use crate::domain::{CaseNumber, ServerState, Target, TimelineKind};
use crate::fleet::Fleet;
use crate::store::{CaseRow, Lease};

/// Is this active case left without its server: is its server no longer one of its
/// service's (removed, or moved to another service; or the service is gone)?
pub(super) fn stranded(fleet: &Fleet, case: &CaseRow) -> bool {
    let Some(idx) = fleet.service_index(&case.customer, &case.service) else { return true };
    !fleet.members(idx).any(|e| *e.id == *case.server)
}

/// Another server of the stranded case's service that is down, to carry the case on.
fn heir(fleet: &Fleet, case: &CaseRow) -> Option<(String, i64, Option<String>)> {
    let idx = fleet.service_index(&case.customer, &case.service)?;
    fleet.members(idx).find_map(|e| {
        e.with_status(|s| {
            (s.state == ServerState::Down)
                .then(|| (e.id.to_string(), i64::from(s.consecutive_failures), s.last_error.clone()))
        })
    })
}

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
            for case in cases.iter().filter(|c| *c.customer == *entry.customer && *c.service == *entry.service) {
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

    /// Settle the active cases left without their server (found by the sweep): a case whose
    /// service has another server down goes on as that server's; any other is resolved.
    pub(super) async fn retire_removed(&self, stranded_cases: Vec<CaseRow>) -> Result<(), CaseError> {
        for found in stranded_cases {
            let now = self.clock.now_ms();
            let fleet = self.fleet();
            let mut tx = self.store.begin().await?;
            tx.hold(Lease::Leader).await?;
            let Some(mut case) = tx.case(found.id).await? else { continue };
            if !case.status.is_active() || !stranded(&fleet, &case) {
                continue;
            }
            let number = CaseNumber(case.id);
            let left = case.server.clone();
            if let Some((heir, failures, error)) = heir(&fleet, &case) {
                let text = format!(
                    "{left} left {} in the inventory; {number} goes on as the case of {heir}, which is down.",
                    case.service
                );
                tx.add_event(case.id, now, TimelineKind::Inventory, INVENTORY_ACTOR, &text).await?;
                case.server = heir;
                case.consecutive_failures = failures;
                case.last_error = error;
            } else {
                let text = format!(
                    "{left} left {} in the inventory; {number} is resolved by the inventory, whatever \
                     auto_resolve says.",
                    case.service
                );
                tx.add_event(case.id, now, TimelineKind::Inventory, INVENTORY_ACTOR, &text).await?;
                self.resolve_in(&mut tx, &mut case, INVENTORY_ACTOR, now).await?;
            }
            case.updated_at = now;
            tx.update_case(&case).await?;
            self.commit(tx).await?;
            tracing::info!(case = %number, server = %left, now = %case.server, status = case.status.as_str(), "case settled: its server left the inventory");
        }
        Ok(())
    }
}
