//! Who hears of what the engine decides: the customer's contacts, the feed channels, the
//! holders of the first escalation level's pagers, and (for the guard) operations. Each helper
//! only queues outbox rows in the caller's transaction; nothing is sent from here.

use super::{CaseEngine, CaseError, Effects};
use crate::cases::sla;
use crate::clock::{from_unix_ms, unix_ms};
use crate::domain::Severity;
use crate::outbox::{self, recipients, EventKind, Notice};
use crate::store::{CaseRow, Tx};

impl CaseEngine {
    pub(super) async fn about_monitor(
        &self,
        tx: &mut Tx,
        event: EventKind,
        cause: &str,
        text: &str,
        now: i64,
    ) -> Result<(), CaseError> {
        let stored = tx.oncall_overrides(now).await?;
        let mut to = recipients::operations_manager(&self.config(), &stored, from_unix_ms(now));
        to.extend(recipients::feed(&self.config()));
        Ok(outbox::enqueue_all(tx, event, &Notice { cause, text, at: now }, None, to).await?)
    }

    pub(super) async fn to_contacts(
        &self,
        tx: &mut Tx,
        event: EventKind,
        notice: &Notice<'_>,
        case: &CaseRow,
    ) -> Result<(), CaseError> {
        let config = self.config();
        let Some(customer) = config.customers.iter().find(|c| c.id == case.customer) else { return Ok(()) };
        Ok(outbox::enqueue_all(tx, event, notice, Some(case), recipients::customer_contacts(customer)).await?)
    }

    pub(super) async fn to_feed(
        &self,
        tx: &mut Tx,
        event: EventKind,
        notice: &Notice<'_>,
        case: &CaseRow,
    ) -> Result<(), CaseError> {
        Ok(outbox::enqueue_all(tx, event, notice, Some(case), recipients::feed(&self.config())).await?)
    }

    /// Page the holders of every escalation level due at once (`after = 0`), unless the
    /// server is in maintenance.
    pub(super) async fn page_first_level(
        &self,
        tx: &mut Tx,
        notice: &Notice<'_>,
        case: &CaseRow,
        fx: &mut Effects,
    ) -> Result<(), CaseError> {
        if crate::maintenance::covers(&self.windows, &case.customer, &case.server, notice.at) {
            return Ok(());
        }
        let page: Vec<_> =
            self.config().escalation.iter().filter(|l| l.after.is_zero()).flat_map(|l| l.page.clone()).collect();
        let stored = tx.oncall_overrides(notice.at).await?;
        let to = recipients::pager_holders(&self.config(), &stored, &page, from_unix_ms(notice.at));
        let mut paged: Vec<(&str, &str)> = to.iter().map(|(r, _)| (r.id.as_str(), r.role.as_str())).collect();
        paged.sort_unstable();
        paged.dedup();
        fx.pages.extend(paged.into_iter().map(|(_, role)| role.to_string()));
        let public_url = self.config().server.public_url.clone();
        Ok(outbox::enqueue_pages(tx, EventKind::Page, notice, case, to, &public_url).await?)
    }

    pub(super) fn response_due(&self, severity: Severity, now: i64) -> i64 {
        unix_ms(sla::response_due(&self.config().cases.response_targets, severity, from_unix_ms(now)))
    }
}
