//! Level-triggered case decisions: for one service, compare what its servers' live statuses say
//! ([`ServiceView`]) with its active case, and take the idempotent step that closes the
//! difference, in one transaction with the statuses it rests on and its outbox rows:
//!
//! | servers say                          | active case            | step                         |
//! |--------------------------------------|------------------------|------------------------------|
//! | a server is `down`, no case covers it | none                   | open (or reopen a recent one) |
//! | no server serves any more            | Severity 2             | raise to 1, page             |
//! | every server recovered               | recovery not recorded  | record recovery (+ resolve)  |
//! | a server is `down` again             | recovery recorded      | back to the outage           |
//!
//! Running a step twice does nothing the second time, so the hint path and the sweep may both
//! run it. Timeline notes about single servers ("db-2 is down too", "db-2 answers again") come
//! from the hint that carried them: they are told, not decided, and a lost hint loses only the
//! note.

use super::{decision_lease, CaseEngine, CaseError, Effects, ENGINE};
use crate::cases::severity::ServiceView;
use crate::cases::state::{Action, CaseStatus};
use crate::cases::texts;
use crate::domain::Severity;
use crate::domain::TimelineKind;
use crate::domain::{CaseNumber, ServerState};
use crate::fleet::Fleet;
use crate::outbox::{EventKind, Notice};
use crate::store::{CaseRow, StoreError, Tx};
use crate::tracker::Transition;

/// What one result changed for one server: worth a timeline note, and a look at its service.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hint {
    /// Index into `Fleet::entries`.
    pub server: usize,
    pub transition: Transition,
}

/// Whether a case may open now: the guard is asked at most once per sweep or hint (it may
/// probe the canaries), and only when a case would open; while it is tripped, the sweep asks it
/// once per tick whether it healed and hints do not ask at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    Unasked,
    Open,
    Shut,
}

impl CaseEngine {
    /// Bring one service's case in line with its servers.
    pub(super) async fn reconcile(
        &self,
        fleet: &Fleet,
        service_idx: usize,
        hint: Option<Hint>,
        gate: &mut Gate,
    ) -> Result<(), CaseError> {
        // A conflict means another engine opened the case between our read and our write: the
        // second attempt finds it and joins it.
        let result = match self.reconcile_once(fleet, service_idx, hint, gate).await {
            Err(CaseError::Store(StoreError::Conflict)) => self.reconcile_once(fleet, service_idx, hint, gate).await,
            other => other,
        };
        match result {
            // The shard's lease moved on since this instance looked: its new owner decides.
            Err(CaseError::Store(StoreError::Fenced)) => {
                tracing::debug!(service_idx, "decision refused by the fence: another instance decides now");
                Ok(())
            }
            other => other,
        }
    }

    async fn reconcile_once(
        &self,
        fleet: &Fleet,
        service_idx: usize,
        hint: Option<Hint>,
        gate: &mut Gate,
    ) -> Result<(), CaseError> {
        let Some(service) = fleet.services().get(service_idx) else { return Ok(()) };
        let Some(lease) = decision_lease(fleet, service_idx) else { return Ok(()) };
        let mut tx = self.store.begin().await?;
        tx.hold(lease).await?;
        // Looked at once the lock is held: waiting for it may have taken a while.
        let view = ServiceView::of(fleet, service_idx);
        if let Some(case) = tx.active_case(&service.customer, &service.service).await? {
            return self.advance(tx, case, fleet, service_idx, &view, hint).await;
        }
        if !self.confirmed_since_heal(&view) {
            return Ok(());
        }
        let latest = tx.latest_case(&service.customer, &service.service).await?;
        if covered(latest.as_ref(), &view) {
            return Ok(());
        }
        // Never hold the write lock while the guard probes the canaries (which takes time:
        // the servers are looked at again afterwards).
        drop(tx);
        if !self.may_open(gate).await? {
            return Ok(());
        }
        let view = ServiceView::of(fleet, service_idx);
        if !self.confirmed_since_heal(&view) {
            return Ok(());
        }
        self.open(fleet, service_idx, &view).await
    }

    /// Open the service's case, or reopen its latest one if it was resolved within
    /// `reopen_window`. The primary server is the one down the longest.
    async fn open(&self, fleet: &Fleet, service_idx: usize, view: &ServiceView) -> Result<(), CaseError> {
        let Some((primary_idx, status)) = view.down.first() else { return Ok(()) };
        let Some(service) = fleet.services().get(service_idx) else { return Ok(()) };
        let Some(primary) = fleet.entry(*primary_idx) else { return Ok(()) };
        let now = self.clock.now_ms();
        let error = status.last_error.clone().unwrap_or_default();
        let mut fx = Effects::default();
        let Some(lease) = decision_lease(fleet, service_idx) else { return Ok(()) };
        let mut tx = self.store.begin().await?;
        tx.hold(lease).await?;
        if tx.active_case(&service.customer, &service.service).await?.is_some() {
            // Opened by another instance since we looked: join it on the next attempt.
            return Err(CaseError::Store(StoreError::Conflict));
        }
        let latest = tx.latest_case(&service.customer, &service.service).await?;
        if covered(latest.as_ref(), view) {
            return Ok(());
        }
        self.save_members(&mut tx, fleet, service_idx).await?;
        let severity = view.severity();
        let reopen = latest.filter(|c| {
            c.status == CaseStatus::Resolved
                && c.resolved_at.is_some_and(|at| now - at <= super::millis(self.config().cases.reopen_window))
        });
        let (mut case, kind, text) = match reopen {
            Some(mut case) => {
                case.status = CaseStatus::Resolved.apply(Action::Reopen)?;
                case.severity = severity;
                case.server = primary.id.to_string();
                case.resolved_at = None;
                case.recovered_at = None;
                case.acknowledged_at = None;
                case.acknowledged_by = None;
                case.consecutive_failures = i64::from(status.consecutive_failures);
                case.last_error = Some(error.clone());
                case.response_due_at = self.response_due(severity, now);
                case.sla_breached = false;
                case.severity1_since = (severity == Severity::One).then_some(now);
                case.last_update_at = None;
                case.updated_at = now;
                tx.update_case(&case).await?;
                tx.clear_escalations(case.id).await?;
                let text = texts::reopened(&case, &primary.id, &error);
                (case, TimelineKind::Reopened, text)
            }
            None => {
                let mut case = CaseRow {
                    id: 0,
                    customer: service.customer.to_string(),
                    service: service.service.to_string(),
                    server: primary.id.to_string(),
                    severity,
                    status: CaseStatus::Open,
                    opened_at: now,
                    updated_at: now,
                    acknowledged_at: None,
                    acknowledged_by: None,
                    recovered_at: None,
                    resolved_at: None,
                    closed_at: None,
                    consecutive_failures: i64::from(status.consecutive_failures),
                    last_error: Some(error.clone()),
                    response_due_at: self.response_due(severity, now),
                    sla_breached: false,
                    severity1_since: (severity == Severity::One).then_some(now),
                    last_update_at: None,
                };
                case.id = tx.insert_case(&case).await?;
                let text = texts::opened(&case, status.consecutive_failures, &error);
                (case, TimelineKind::Opened, text)
            }
        };
        let event_id = tx.add_event(case.id, now, kind, ENGINE, &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let notice = Notice { cause: &cause, text: &text, at: now };
        let to_customer = texts::customer_notice(&case, &error);
        self.to_contacts(&mut tx, EventKind::CustomerNotice, &Notice { text: &to_customer, ..notice }, &case).await?;
        self.to_feed(&mut tx, EventKind::CaseOpened, &notice, &case).await?;
        if case.severity == Severity::One {
            self.page_first_level(&mut tx, &notice, &case, &mut fx).await?;
        }
        // Other servers already down when the case opens are on its timeline from the start.
        for (idx, other) in view.down.iter().skip(1) {
            let Some(id) = fleet.entry(*idx).map(|e| &e.id) else { continue };
            let error = other.last_error.as_deref().unwrap_or_default();
            tx.add_event(
                case.id,
                now,
                TimelineKind::ServerDown,
                ENGINE,
                &texts::server_down(id, other.consecutive_failures, error),
            )
            .await?;
        }
        fx.opened = Some(case.severity);
        case.updated_at = now;
        tx.update_case(&case).await?;
        self.commit(tx).await?;
        tracing::warn!(case = %CaseNumber(case.id), severity = case.severity.number(), customer = %case.customer, service = %case.service, kind = kind.as_str(), "case {kind}");
        self.apply(fx)
    }

    /// The active case exists: raise it, record its recovery, resolve it, or bring it back to
    /// the outage, as the servers say. Commits only when something changed.
    async fn advance(
        &self,
        mut tx: Tx,
        mut case: CaseRow,
        fleet: &Fleet,
        service_idx: usize,
        view: &ServiceView,
        hint: Option<Hint>,
    ) -> Result<(), CaseError> {
        let now = self.clock.now_ms();
        let mut fx = Effects::default();
        let mut changed = false;
        if let Some(hint) = hint {
            changed |= self.note(&mut tx, fleet, &case, hint, now).await?;
        }
        let steps = Steps::for_case(&case, view, fleet, self.config().cases.auto_resolve);
        let decided = steps.decides();
        if steps.record_recovery {
            self.record_recovery(&mut tx, &mut case, view, now).await?;
        }
        if steps.resolve {
            self.resolve_in(&mut tx, &mut case, ENGINE, now).await?;
        }
        if steps.back_to_outage {
            case.recovered_at = None;
            let text = format!("{} is down again before the case was resolved.", case.service);
            tx.add_event(case.id, now, TimelineKind::ServerDown, ENGINE, &text).await?;
        }
        if steps.raise {
            self.raise(&mut tx, &mut case, now, &mut fx).await?;
        }
        if let Some((failures, error)) = steps.refresh_count {
            case.consecutive_failures = failures;
            case.last_error = error;
            changed = true;
        }
        if !decided && !changed {
            return Ok(());
        }
        if decided {
            self.save_members(&mut tx, fleet, service_idx).await?;
        }
        case.updated_at = now;
        tx.update_case(&case).await?;
        self.commit(tx).await?;
        self.apply(fx)
    }

    /// The timeline note a hint carries, if any. Returns whether it wrote one.
    async fn note(&self, tx: &mut Tx, fleet: &Fleet, case: &CaseRow, hint: Hint, now: i64) -> Result<bool, CaseError> {
        let Some(entry) = fleet.entry(hint.server) else { return Ok(false) };
        let status = entry.status();
        let t = hint.transition;
        let text = if t.threshold_reached && *entry.id != *case.server && status.state == ServerState::Down {
            let error = status.last_error.as_deref().unwrap_or_default();
            (TimelineKind::ServerDown, texts::server_down(&entry.id, status.consecutive_failures, error))
        } else if t.recovered {
            (TimelineKind::ServerRecovered, texts::server_recovered(&entry.id, status.consecutive_successes))
        } else {
            return Ok(false);
        };
        tx.add_event(case.id, now, text.0, ENGINE, &text.1).await?;
        Ok(true)
    }

    /// Raise a Severity 2 case to 1: no server of its service serves any more.
    async fn raise(&self, tx: &mut Tx, case: &mut CaseRow, now: i64, fx: &mut Effects) -> Result<(), CaseError> {
        case.severity = Severity::One;
        case.severity1_since = Some(now);
        case.response_due_at = case.response_due_at.min(self.response_due(Severity::One, now));
        let text = texts::raised(case);
        let event_id = tx.add_event(case.id, now, TimelineKind::SeverityRaised, ENGINE, &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let notice = Notice { cause: &cause, text: &text, at: now };
        let error = case.last_error.clone().unwrap_or_default();
        let to_customer = format!("{} {}", text, texts::customer_notice(case, &error));
        self.to_contacts(tx, EventKind::CustomerNotice, &Notice { text: &to_customer, ..notice }, case).await?;
        self.to_feed(tx, EventKind::CaseSeverityRaised, &notice, case).await?;
        self.page_first_level(tx, &notice, case, fx).await?;
        tracing::warn!(case = %CaseNumber(case.id), "case raised to Severity 1");
        Ok(())
    }

    /// Every server of the service is back: record it and tell the customer and the feed.
    async fn record_recovery(
        &self,
        tx: &mut Tx,
        case: &mut CaseRow,
        view: &ServiceView,
        now: i64,
    ) -> Result<(), CaseError> {
        case.recovered_at = Some(view.back_since.unwrap_or(now).min(now));
        let text = texts::recovered(case);
        let event_id = tx.add_event(case.id, now, TimelineKind::Recovered, ENGINE, &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let notice = Notice { cause: &cause, text: &text, at: now };
        self.to_contacts(tx, EventKind::CaseRecovered, &notice, case).await?;
        self.to_feed(tx, EventKind::CaseRecovered, &notice, case).await?;
        tracing::info!(case = %CaseNumber(case.id), service = %case.service, "service recovered");
        Ok(())
    }

    /// Persist the statuses of the service's servers in the decision's transaction, so the
    /// counts a decision rests on are durable before anything it queued is sent.
    async fn save_members(&self, tx: &mut Tx, fleet: &Fleet, service_idx: usize) -> Result<(), CaseError> {
        let statuses: Vec<_> = fleet.members(service_idx).map(|e| e.stored()).collect();
        Ok(tx.save_statuses(&statuses).await?)
    }

    /// The sweep: reconcile every service whose stored case disagrees with its servers, looking
    /// only at the services with an active case or a server down (`watch.rs`; all of them now
    /// and then), with the cases written since the last look read first. A transaction only
    /// where a step is due. A service that fails is logged and skipped; database trouble ends
    /// the sweep (the next one starts over).
    pub(super) async fn sweep(&self, gate: &mut Gate) -> Result<(), CaseError> {
        let fleet = self.fleet();
        let mut latest = self.latest.lock().await;
        let whole = latest.refresh(&self.store).await?;
        let orphans: Vec<CaseRow> =
            latest.active().filter(|case| super::inventory::stranded(&fleet, case)).cloned().collect();
        for service_idx in super::watch::to_look_at(&fleet, &latest, whole) {
            let service = &fleet.services()[service_idx];
            let view = ServiceView::of(&fleet, service_idx);
            if !view.down.is_empty() {
                // Still down: looked at again next time, whoever decides for it then.
                fleet.attention().mark(&service.customer, &service.service);
            }
            if !self.decides_for(&fleet, service_idx) {
                continue;
            }
            let case = latest.get(&service.customer, &service.service);
            // A stranded case is the inventory's (below), not this service's.
            let case = case.filter(|c| !(c.status.is_active() && super::inventory::stranded(&fleet, c)));
            if !self.step_due(&fleet, case, &view, *gate) {
                continue;
            }
            match self.reconcile(&fleet, service_idx, None, gate).await {
                Ok(()) => {}
                Err(CaseError::Store(error @ (StoreError::Query(_) | StoreError::Connect(_)))) => {
                    return Err(error.into())
                }
                Err(error) => {
                    tracing::error!(%error, customer = %service.customer, service = %service.service, "cannot reconcile")
                }
            }
        }
        drop(latest);
        if !orphans.is_empty() && self.ownership.is_leader() {
            super::unless_fenced(self.retire_removed(orphans).await)?;
        }
        Ok(())
    }

    /// Is some server down by a status request made after the guard last healed? (Always, when
    /// it never tripped.) A `down` seen during the storm is not evidence yet.
    fn confirmed_since_heal(&self, view: &ServiceView) -> bool {
        let healed_at = self.healed_at.load(std::sync::atomic::Ordering::Relaxed);
        view.down.iter().any(|(_, s)| s.last_probe_at.unwrap_or(0) >= healed_at)
    }

    /// Would [`CaseEngine::reconcile`] change anything for this service? Read-only.
    fn step_due(&self, fleet: &Fleet, latest: Option<&CaseRow>, view: &ServiceView, gate: Gate) -> bool {
        match latest.filter(|c| c.status.is_active()) {
            Some(case) => Steps::for_case(case, view, fleet, self.config().cases.auto_resolve) != Steps::default(),
            None => gate != Gate::Shut && self.confirmed_since_heal(view) && !covered(latest, view),
        }
    }
}

/// What a service's active case needs, given what its servers say now. Pure: the one place the
/// rules of the table above are written; [`CaseEngine::advance`] takes these steps and the
/// sweep only asks whether any is due.
#[derive(Debug, Default, PartialEq, Eq)]
struct Steps {
    record_recovery: bool,
    resolve: bool,
    back_to_outage: bool,
    raise: bool,
    /// The case's primary server is down with another count or error than the case shows.
    refresh_count: Option<(i64, Option<String>)>,
}

impl Steps {
    fn for_case(case: &CaseRow, view: &ServiceView, fleet: &Fleet, auto_resolve: bool) -> Steps {
        if view.recovered() {
            return Steps {
                record_recovery: case.recovered_at.is_none(),
                resolve: auto_resolve && case.status.is_active(),
                ..Steps::default()
            };
        }
        if view.down.is_empty() {
            return Steps::default();
        }
        let primary = view.down.iter().find(|(idx, _)| fleet.entry(*idx).is_some_and(|e| *e.id == *case.server));
        let refresh_count = primary
            .map(|(_, s)| (i64::from(s.consecutive_failures), s.last_error.clone()))
            .filter(|(failures, error)| case.consecutive_failures != *failures || case.last_error != *error);
        Steps {
            back_to_outage: down_since_recovery(case, view),
            raise: case.severity != Severity::One && view.severity() == Severity::One,
            refresh_count,
            ..Steps::default()
        }
    }

    /// A decision (not just a refreshed count): its statuses are saved with it.
    fn decides(&self) -> bool {
        self.record_recovery || self.resolve || self.back_to_outage || self.raise
    }
}

/// Did the service's latest case already cover this outage? It did if it ended (resolved, or
/// closed without a resolution) after every down server went down: somebody ended it while they
/// stayed down. A later note or close of an old case does not count. Both times come from the
/// engine's one clock.
fn covered(latest: Option<&CaseRow>, view: &ServiceView) -> bool {
    latest.is_some_and(|c| {
        let ended = c.resolved_at.or(c.closed_at).unwrap_or(c.updated_at);
        view.down.iter().all(|(_, s)| ended >= s.state_since)
    })
}

/// Has a server gone down after the case's recorded recovery? Only that takes a recovered case
/// back to the outage, so two instances whose views differ for a moment cannot flip it.
fn down_since_recovery(case: &CaseRow, view: &ServiceView) -> bool {
    case.recovered_at.is_some_and(|recovered| view.down.iter().any(|(_, s)| s.state_since > recovered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Status;

    fn case(resolved_at: Option<i64>, closed_at: Option<i64>, updated_at: i64, recovered_at: Option<i64>) -> CaseRow {
        CaseRow {
            id: 1,
            customer: "acme".into(),
            service: "web".into(),
            server: "a".into(),
            severity: Severity::One,
            status: CaseStatus::Resolved,
            opened_at: 0,
            updated_at,
            acknowledged_at: None,
            acknowledged_by: None,
            recovered_at,
            resolved_at,
            closed_at,
            consecutive_failures: 3,
            last_error: None,
            response_due_at: 0,
            sla_breached: false,
            severity1_since: Some(0),
            last_update_at: None,
        }
    }

    fn down_since(at: i64) -> ServiceView {
        let mut status = Status::new(at);
        status.state = ServerState::Down;
        status.confirmed_down = true;
        ServiceView { down: vec![(0, status)], any_confirmed_down: true, ..ServiceView::default() }
    }

    #[test]
    fn an_outage_is_covered_only_by_a_case_that_ended_after_it_began() {
        assert!(covered(Some(&case(Some(200), None, 200, None)), &down_since(100)), "resolved during the outage");
        assert!(!covered(Some(&case(Some(50), None, 50, None)), &down_since(100)), "resolved before it");
        assert!(
            !covered(Some(&case(Some(50), Some(300), 300, None)), &down_since(100)),
            "closing an old case later does not swallow a new outage"
        );
        assert!(!covered(None, &down_since(100)));
    }

    #[test]
    fn only_a_server_down_after_the_recorded_recovery_takes_a_case_back_to_the_outage() {
        let mut active = case(None, None, 0, Some(500));
        active.status = CaseStatus::Open;
        assert!(!down_since_recovery(&active, &down_since(400)), "an older view of another instance");
        assert!(down_since_recovery(&active, &down_since(600)));
        active.recovered_at = None;
        assert!(!down_since_recovery(&active, &down_since(600)), "nothing recorded: still the outage");
    }
}
