//! Escalation and customer updates, computed from stored times so they survive restarts:
//! - a Severity 1 case nobody has acknowledged fires each `[[escalation]]` level at its
//!   `after` (counted from when the case became Severity 1): an `escalation` to the level's
//!   on-call holders and, with `call_customer`, a `customer.call` to each contact with a phone
//!   through a voice-capable channel. Level 1 (`after = 0`) is paged by the case engine at
//!   the moment the case opens; acknowledging stops the rest.
//! - every `update_interval` while a Severity 1 case is open, a `customer.update` to every
//!   contact: how long it has been down, the servers' current state, the last error, the
//!   latest engineer note. The n-th update is due at Severity-1-since + n × `update_interval`
//!   (a late tick does not push the plan back; a long stop sends one update, not a burst).
//!
//! Both follow the case's real state: once every server of the service has recovered (the
//! case records `recovered_at`, or the live statuses say so before the engine wrote it), no
//! further level fires and no customer is called; updates stop once the recovery is recorded
//! (the recovery notice told the customer), and an update written in between says "recovered".
//!
//! The same step sweeps the paging-path tests (`paging_test`): handovers and overdue tests.
//!
//! [`Escalation::run_due`] is the single step; the case engine calls it on its tick.

pub mod oncall;
pub mod paging_test;

use crate::domain::TimelineKind;
use std::sync::Arc;
use std::time::Duration;

use crate::cases::severity::ServiceView;
use crate::clock::{from_unix_ms, Clock};
use crate::config::{Config, EscalationLevel};
use crate::domain::{CaseNumber, ServerState};
use crate::fleet::Fleet;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::outbox::{self, recipients, EventKind, Notice};
use crate::store::{CaseRow, Store, StoreError, Tx};

pub struct Escalation {
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

/// What one step queued, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fired {
    pub escalations: usize,
    pub updates: usize,
    /// Test pages and `paging.unverified` reports (`paging_test::sweep`).
    pub paging: paging_test::Swept,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When the next customer update is due: the first plan point `since + n × interval` (n ≥ 1)
/// after the latest update, wherever that update's late send put it.
pub fn next_update_due(since: i64, last_update_at: Option<i64>, interval: Duration) -> i64 {
    let every = millis(interval).max(1);
    let sent = last_update_at.map_or(0, |last| (last - since).div_euclid(every).max(0));
    since.saturating_add(every.saturating_mul(sent + 1))
}

impl Escalation {
    pub fn new(live: Arc<Live>, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Escalation {
        Escalation { live, metrics, clock }
    }

    fn config(&self) -> Arc<Config> {
        self.live.config()
    }

    fn fleet(&self) -> Arc<Fleet> {
        self.live.fleet()
    }

    /// Fire every level and update that is due now, in one transaction.
    pub async fn run_due(&self, store: &Store) -> Result<Fired, StoreError> {
        let now = self.clock.now_ms();
        let mut fired = Fired::default();
        let mut pages: Vec<String> = Vec::new();
        let mut tx = store.begin().await?;
        // Singleton work: refused unless this instance holds the leader lease right now.
        tx.hold(crate::store::Lease::Leader).await?;
        let fleet = self.fleet();
        for mut case in tx.active_cases().await? {
            if case.severity != crate::domain::Severity::One {
                continue;
            }
            let since = case.severity1_since.unwrap_or(case.opened_at);
            let worked = case.status.is_worked();
            if case.recovered_at.is_some() {
                continue;
            }
            let service_idx = fleet.service_index(&case.customer, &case.service);
            let view = service_idx.map(|i| ServiceView::of(&fleet, i));
            let back = view.filter(ServiceView::recovered).map(|v| v.back_since.unwrap_or(now));
            if !worked && back.is_none() {
                for (level, step) in self.config().escalation.iter().enumerate() {
                    if step.after.is_zero() || now < since.saturating_add(millis(step.after)) {
                        continue;
                    }
                    if !tx.fire_escalation(case.id, level as i64, now).await? {
                        continue;
                    }
                    pages.extend(self.escalate(&mut tx, &case, level, step, now).await?);
                    fired.escalations += 1;
                }
            }
            if now >= next_update_due(since, case.last_update_at, self.config().cases.update_interval) {
                self.update(&mut tx, &mut case, &fleet, service_idx, back, now).await?;
                fired.updates += 1;
            }
        }
        fired.paging = paging_test::sweep(&mut tx, &self.config(), now).await?;
        tx.commit().await?;
        for role in pages {
            self.metrics.pages_total.with_label_values(&[&role]).inc();
        }
        self.metrics.escalations_total.inc_by(fired.escalations as u64);
        self.metrics.customer_updates_total.inc_by(fired.updates as u64);
        Ok(fired)
    }

    /// Fire one level: the escalation to its on-call holders, and the customer call if the
    /// level asks for it. Returns the roles paged.
    async fn escalate(
        &self,
        tx: &mut Tx,
        case: &CaseRow,
        level: usize,
        step: &EscalationLevel,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let config = self.config();
        let stored = tx.oncall_overrides(now).await?;
        let to = recipients::pager_holders(&config, &stored, &step.page, from_unix_ms(now));
        let customer = config.customers.iter().find(|c| c.id == case.customer);
        let calls = match customer {
            Some(customer) if step.call_customer => recipients::voice_contacts(&config, customer),
            _ => Vec::new(),
        };
        let mut people: Vec<(String, String)> = to.iter().map(|(r, _)| (r.id.clone(), r.role.clone())).collect();
        people.sort_unstable();
        people.dedup();
        let names: Vec<String> = people.iter().map(|(id, role)| format!("{id} ({role})")).collect();
        let mut text = format!(
            "{} (Severity 1, {} / {}) has not been acknowledged within {}: escalating to {}",
            CaseNumber(case.id),
            case.customer,
            case.service,
            humantime::format_duration(step.after),
            if names.is_empty() { "nobody on call".to_string() } else { names.join(", ") }
        );
        if !calls.is_empty() {
            text.push_str(" and calling the customer");
        }
        text.push('.');
        let event_id = tx.add_event(case.id, now, TimelineKind::Escalation, "firstwatch", &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let notice = Notice { cause: &cause, text: &text, at: now };
        outbox::enqueue_pages(tx, EventKind::Escalation, &notice, case, to, &config.server.public_url).await?;
        if !calls.is_empty() {
            // The voice channel frames this with the case number and the outage's facts.
            let spoken =
                "Our engineers have been alerted and are working on it. We will keep you updated until it is resolved.";
            outbox::enqueue_all(tx, EventKind::CustomerCall, &Notice { text: spoken, ..notice }, Some(case), calls)
                .await?;
        }
        tracing::warn!(case = %CaseNumber(case.id), level = level + 1, "escalated");
        Ok(people.into_iter().map(|(_, role)| role).collect())
    }

    /// Queue one customer update. `back`: when the servers came back, if they all have.
    async fn update(
        &self,
        tx: &mut Tx,
        case: &mut CaseRow,
        fleet: &Fleet,
        service_idx: Option<usize>,
        back: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let down_for =
            Duration::from_millis(u64::try_from(back.unwrap_or(now) - case.opened_at).unwrap_or(0) / 1000 * 1000);
        let servers: Vec<String> = service_idx
            .into_iter()
            .flat_map(|i| fleet.members(i))
            .map(|e| {
                let s = e.status();
                match s.state {
                    ServerState::Down | ServerState::Failing => {
                        format!("{} {} ({} failed requests in a row)", e.id, s.state, s.consecutive_failures)
                    }
                    state => format!("{} {state}", e.id),
                }
            })
            .collect();
        let state = match back {
            Some(at) => format!(
                "recovered at {} after {} down",
                crate::clock::rfc3339_ms(at),
                humantime::format_duration(down_for)
            ),
            None => format!("has been down for {}", humantime::format_duration(down_for)),
        };
        let mut text = format!(
            "Update on {} (Severity 1): {} {state}. Servers now: {}. Last error: {}.",
            CaseNumber(case.id),
            case.service,
            servers.join("; "),
            case.last_error.as_deref().unwrap_or("none"),
        );
        if let Some(note) = tx.latest_note(case.id).await? {
            text.push_str(&format!(" Latest from our engineers: {note}"));
        }
        text.push_str(&format!(
            " Next update within {}.",
            humantime::format_duration(self.config().cases.update_interval)
        ));
        let event_id = tx.add_event(case.id, now, TimelineKind::CustomerUpdate, "firstwatch", &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        if let Some(customer) = self.config().customers.iter().find(|c| c.id == case.customer) {
            let notice = Notice { cause: &cause, text: &text, at: now };
            outbox::enqueue_all(
                tx,
                EventKind::CustomerUpdate,
                &notice,
                Some(case),
                recipients::customer_contacts(customer),
            )
            .await?;
        }
        case.last_update_at = Some(now);
        tx.update_case(case).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_follow_the_plan_not_the_late_send_times() {
        let every = Duration::from_secs(1);
        assert_eq!(next_update_due(10_000, None, every), 11_000);
        assert_eq!(next_update_due(10_000, Some(11_400), every), 12_000, "a late first update keeps the plan");
        assert_eq!(next_update_due(10_000, Some(12_999), every), 13_000);
        assert_eq!(next_update_due(10_000, Some(15_200), every), 16_000, "after a long stop: the next plan point");
        assert_eq!(next_update_due(0, Some(3_600_000), Duration::from_secs(3600)), 7_200_000);
    }
}
