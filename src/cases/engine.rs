//! The case engine: turns fleet events into cases, and operators' actions into case changes.
//! Every operation is ONE database transaction holding the case row, its timeline events, the
//! status row of the server the decision rests on, and the outbox rows it implies, so a crash
//! can lose nothing half-done and a replay sends nothing twice (outbox keys are unique).
//!
//! Opening is edge-triggered for speed (a server reaching its threshold opens the case in the
//! same moment) and level-checked for safety: [`CaseEngine::run_due`] sweeps for servers that
//! are `down` with no case covering their outage (after a crash, a maintenance window's end
//! or the guard healing) and opens those too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify, RwLock};
use tokio_util::sync::CancellationToken;

use super::state::{Action, CaseStatus, IllegalTransition};
use super::{severity, sla, texts};
use crate::clock::{from_unix_ms, unix_ms, Clock};
use crate::config::Config;
use crate::domain::{CaseNumber, ServerState};
use crate::escalation::{Escalation, Fired};
use crate::fleet::{Fleet, FleetEntry};
use crate::guard::{Guard, Verdict};
use crate::maintenance::Windows;
use crate::metrics::{Metrics, SEVERITIES};
use crate::outbox::{self, recipients, EventKind, Notice};
use crate::scheduler::FleetEvent;
use crate::store::{CaseRow, Store, StoreError, Tx};

/// The actor of changes the engine makes by itself.
pub const ENGINE: &str = "firstwatch";
/// The `monitor_flags` name of the tripped guard.
const GUARD_FLAG: &str = "guard_degraded";

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("no case {0}")]
    NotFound(CaseNumber),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an operator does to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAction {
    Acknowledge,
    Note(String),
    Resolve,
    Close,
}

/// Metric changes to apply once the transaction has committed.
#[derive(Default)]
struct Effects {
    opened: Option<i64>,
    pages: Vec<String>,
    sla_breaches: Vec<i64>,
}

pub struct CaseEngine {
    config: Arc<Config>,
    store: Store,
    fleet: Arc<Fleet>,
    guard: Guard,
    windows: Arc<RwLock<Windows>>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    outbox_ready: Arc<Notify>,
    escalation: Escalation,
}

/// What the engine needs from the rest of the app.
pub struct Parts {
    pub config: Arc<Config>,
    pub store: Store,
    pub fleet: Arc<Fleet>,
    pub guard: Guard,
    pub windows: Arc<RwLock<Windows>>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// Woken after every commit, so the outbox worker delivers without waiting for its poll.
    pub outbox_ready: Arc<Notify>,
}

impl CaseEngine {
    pub fn new(p: Parts) -> CaseEngine {
        CaseEngine {
            config: p.config.clone(),
            store: p.store,
            fleet: p.fleet.clone(),
            guard: p.guard,
            windows: p.windows,
            clock: p.clock.clone(),
            metrics: p.metrics.clone(),
            outbox_ready: p.outbox_ready,
            escalation: Escalation::new(p.config, p.fleet, p.metrics, p.clock),
        }
    }

    /// Consume fleet events until shutdown; run the periodic checks every `tick`.
    pub async fn run(
        self: Arc<Self>,
        mut events: mpsc::Receiver<FleetEvent>,
        tick: Duration,
        shutdown: CancellationToken,
    ) {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => break,
                event = events.recv() => match event {
                    Some(event) => self.on_fleet_event(&event).await,
                    None => break,
                },
                _ = ticker.tick() => self.run_due().await,
            };
            if let Err(error) = outcome {
                // The sweep in `run_due` catches up on anything a failed operation missed.
                tracing::error!(%error, "case engine operation failed");
            }
        }
    }

    /// React to one scheduler report.
    pub async fn on_fleet_event(&self, event: &FleetEvent) -> Result<(), CaseError> {
        let Some(entry) = self.fleet.entries().get(event.server) else { return Ok(()) };
        let t = event.transition;
        if t.to == ServerState::Down && (t.from != ServerState::Down || t.threshold_reached) {
            self.server_down(entry).await
        } else if t.recovered {
            self.server_recovered(entry).await
        } else if t.to == ServerState::Down {
            self.server_still_down(entry).await
        } else {
            Ok(())
        }
    }

    /// A server is down: open its service's case, join the open one, or reopen a recent one,
    /// unless the guard suspects the monitor itself.
    async fn server_down(&self, entry: &FleetEntry) -> Result<(), CaseError> {
        if entry.status().state != ServerState::Down {
            return Ok(());
        }
        if let Verdict::Degraded(reason) = self.guard.assess(&self.fleet).await {
            return self.trip_guard(&reason).await;
        }
        self.heal_guard().await?;
        // A conflict means another engine opened the case between our read and our write:
        // the second attempt finds it and joins it.
        match self.open_or_join(entry).await {
            Err(CaseError::Store(StoreError::Conflict)) => self.open_or_join(entry).await,
            other => other,
        }
    }

    async fn open_or_join(&self, entry: &FleetEntry) -> Result<(), CaseError> {
        let now = self.clock.now_ms();
        let status = entry.status();
        let error = status.last_error.clone().unwrap_or_default();
        let mut fx = Effects::default();
        let mut tx = self.store.begin().await?;
        tx.save_status(&entry.stored()).await?;
        if let Some(mut case) = tx.active_case(&entry.customer, &entry.service).await? {
            if case.server == entry.id {
                case.consecutive_failures = i64::from(status.consecutive_failures);
                case.last_error = Some(error);
            } else {
                tx.add_event(
                    case.id,
                    now,
                    "server_down",
                    ENGINE,
                    &texts::server_down(&entry.id, status.consecutive_failures, &error),
                )
                .await?;
            }
            self.raise_if_needed(&mut tx, &mut case, now, &mut fx).await?;
            case.updated_at = now;
            tx.update_case(&case).await?;
            self.commit(tx).await?;
            return self.apply(fx);
        }
        let latest = tx.latest_case(&entry.customer, &entry.service).await?;
        if latest.as_ref().is_some_and(|c| c.updated_at >= status.state_since) {
            // This outage already had its case and somebody resolved or closed it meanwhile.
            return Ok(());
        }
        let severity = severity::for_service(&self.fleet, &entry.customer, &entry.service);
        let reopen = latest.filter(|c| {
            c.status == CaseStatus::Resolved.as_str()
                && c.resolved_at.is_some_and(|at| now - at <= millis(self.config.cases.reopen_window))
        });
        let (mut case, kind, text) = match reopen {
            Some(mut case) => {
                case.status = CaseStatus::Resolved.apply(Action::Reopen)?.to_string();
                case.severity = severity;
                case.server = entry.id.clone();
                case.resolved_at = None;
                case.recovered_at = None;
                case.acknowledged_at = None;
                case.acknowledged_by = None;
                case.consecutive_failures = i64::from(status.consecutive_failures);
                case.last_error = Some(error.clone());
                case.response_due_at = self.response_due(severity, now);
                case.sla_breached = false;
                case.severity1_since = (severity == 1).then_some(now);
                case.last_update_at = None;
                case.updated_at = now;
                tx.update_case(&case).await?;
                tx.clear_escalations(case.id).await?;
                let text = texts::reopened(&case, &entry.id, &error);
                (case, "reopened", text)
            }
            None => {
                let mut case = CaseRow {
                    id: 0,
                    customer: entry.customer.clone(),
                    service: entry.service.clone(),
                    server: entry.id.clone(),
                    severity,
                    status: CaseStatus::Open.to_string(),
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
                    severity1_since: (severity == 1).then_some(now),
                    last_update_at: None,
                };
                case.id = tx.insert_case(&case).await?;
                let text = texts::opened(&case, status.consecutive_failures, &error);
                (case, "opened", text)
            }
        };
        let event_id = tx.add_event(case.id, now, kind, ENGINE, &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let notice = Notice { cause: &cause, text: &text, at: now };
        let to_customer = texts::customer_notice(&case, &error);
        self.to_contacts(&mut tx, EventKind::CustomerNotice, &Notice { text: &to_customer, ..notice }, &case).await?;
        self.to_feed(&mut tx, EventKind::CaseOpened, &notice, &case).await?;
        if case.severity == 1 {
            self.page_first_level(&mut tx, &notice, &case, &mut fx).await?;
        }
        fx.opened = Some(case.severity);
        case.updated_at = now;
        tx.update_case(&case).await?;
        self.commit(tx).await?;
        tracing::warn!(case = %CaseNumber(case.id), severity = case.severity, customer = %case.customer, service = %case.service, kind, "case {kind}");
        self.apply(fx)
    }

    /// Raise a Severity 2 case to 1 when no server of its service serves any more.
    async fn raise_if_needed(
        &self,
        tx: &mut Tx,
        case: &mut CaseRow,
        now: i64,
        fx: &mut Effects,
    ) -> Result<(), CaseError> {
        if case.severity == 1 || severity::for_service(&self.fleet, &case.customer, &case.service) != 1 {
            return Ok(());
        }
        case.severity = 1;
        case.severity1_since = Some(now);
        case.response_due_at = case.response_due_at.min(self.response_due(1, now));
        let text = texts::raised(case);
        let event_id = tx.add_event(case.id, now, "severity_raised", ENGINE, &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let notice = Notice { cause: &cause, text: &text, at: now };
        let error = case.last_error.clone().unwrap_or_default();
        let to_customer = format!("{} {}", text, texts::customer_notice(case, &error));
        self.to_contacts(tx, EventKind::CustomerNotice, &Notice { text: &to_customer, ..notice }, case).await?;
        self.to_feed(tx, EventKind::CaseSeverityRaised, &notice, case).await?;
        self.page_first_level(tx, &notice, case, fx).await?;
        Ok(())
    }

    /// A down server keeps failing: keep the case's count and error current (no event).
    async fn server_still_down(&self, entry: &FleetEntry) -> Result<(), CaseError> {
        let status = entry.status();
        let mut tx = self.store.begin().await?;
        if let Some(mut case) = tx.active_case(&entry.customer, &entry.service).await? {
            if case.server == entry.id {
                case.consecutive_failures = i64::from(status.consecutive_failures);
                case.last_error = status.last_error.clone();
                case.updated_at = self.clock.now_ms();
                tx.update_case(&case).await?;
            }
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// A server completed its recovery: note it; when the whole service is back, record the
    /// recovery, tell the customer, and resolve if configured to.
    async fn server_recovered(&self, entry: &FleetEntry) -> Result<(), CaseError> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        tx.save_status(&entry.stored()).await?;
        let Some(mut case) = tx.active_case(&entry.customer, &entry.service).await? else {
            return self.commit(tx).await;
        };
        let successes = entry.status().consecutive_successes;
        tx.add_event(case.id, now, "server_recovered", ENGINE, &texts::server_recovered(&entry.id, successes)).await?;
        if !severity::any_down(&self.fleet, &case.customer, &case.service) {
            case.recovered_at = Some(now);
            let text = texts::recovered(&case);
            let event_id = tx.add_event(case.id, now, "recovered", ENGINE, &text).await?;
            let cause = format!("{}#{event_id}", CaseNumber(case.id));
            let notice = Notice { cause: &cause, text: &text, at: now };
            self.to_contacts(&mut tx, EventKind::CaseRecovered, &notice, &case).await?;
            self.to_feed(&mut tx, EventKind::CaseRecovered, &notice, &case).await?;
            if self.config.cases.auto_resolve {
                self.resolve_in(&mut tx, &mut case, ENGINE, now).await?;
            }
        }
        case.updated_at = now;
        tx.update_case(&case).await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn resolve_in(&self, tx: &mut Tx, case: &mut CaseRow, actor: &str, now: i64) -> Result<(), CaseError> {
        case.status = status_of(case)?.apply(Action::Resolve)?.to_string();
        case.resolved_at = Some(now);
        let text = texts::resolved(case, actor);
        let event_id = tx.add_event(case.id, now, "resolved", actor, &text).await?;
        let cause = format!("{}#{event_id}", CaseNumber(case.id));
        let notice = Notice { cause: &cause, text: &text, at: now };
        self.to_contacts(tx, EventKind::CaseResolved, &notice, case).await?;
        self.to_feed(tx, EventKind::CaseResolved, &notice, case).await?;
        Ok(())
    }

    /// An operator's action on a case, refused if the life cycle does not allow it.
    pub async fn act(&self, number: CaseNumber, actor: &str, action: OperatorAction) -> Result<CaseRow, CaseError> {
        let actor = actor.trim();
        if actor.is_empty() || actor.len() > 100 {
            return Err(CaseError::Invalid("the actor must be 1 to 100 characters".to_string()));
        }
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        let mut case = tx.case(number.0).await?.ok_or(CaseError::NotFound(number))?;
        let status = status_of(&case)?;
        match action {
            OperatorAction::Acknowledge => {
                case.status = status.apply(Action::Acknowledge)?.to_string();
                case.acknowledged_at = Some(now);
                case.acknowledged_by = Some(actor.to_string());
                tx.add_event(
                    case.id,
                    now,
                    "acknowledged",
                    actor,
                    &format!("{actor} acknowledged the case and is working on it."),
                )
                .await?;
            }
            OperatorAction::Note(text) => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > 4000 {
                    return Err(CaseError::Invalid("a note must be 1 to 4000 characters".to_string()));
                }
                if status == CaseStatus::Closed {
                    return Err(CaseError::Invalid(format!("{number} is closed; notes can no longer be added")));
                }
                tx.add_event(case.id, now, "note", actor, text).await?;
                if status == CaseStatus::Acknowledged {
                    case.status = status.apply(Action::StartWork)?.to_string();
                }
            }
            OperatorAction::Resolve => self.resolve_in(&mut tx, &mut case, actor, now).await?,
            OperatorAction::Close => {
                case.status = status.apply(Action::Close)?.to_string();
                case.closed_at = Some(now);
                tx.add_event(case.id, now, "closed", actor, &format!("{actor} closed the case.")).await?;
            }
        }
        case.updated_at = now;
        tx.update_case(&case).await?;
        self.commit(tx).await?;
        Ok(case)
    }

    /// The periodic checks: heal the guard, open cases for uncovered outages, mark missed
    /// response targets, refresh the open-case gauges.
    pub async fn run_due(&self) -> Result<(), CaseError> {
        self.reload_windows().await?;
        let degraded = self.store.flag(GUARD_FLAG).await?.is_some();
        if degraded {
            match self.guard.assess(&self.fleet).await {
                Verdict::Healthy => self.heal_guard().await?,
                Verdict::Degraded(_) => {}
            }
        }
        if !degraded || self.store.flag(GUARD_FLAG).await?.is_none() {
            self.sweep().await?;
        }
        self.check_response_targets().await?;
        let fired = self.escalation.run_due(&self.store).await?;
        if fired != Fired::default() {
            self.outbox_ready.notify_one();
        }
        self.refresh_gauges().await
    }

    /// Pick up maintenance windows added at run time by any instance or the CLI.
    async fn reload_windows(&self) -> Result<(), CaseError> {
        let mut windows = Windows::from_config(&self.config.maintenance);
        for row in self.store.maintenance_windows().await? {
            windows.add(&row);
        }
        *self.windows.write().await = windows;
        Ok(())
    }

    /// Open cases for `down` servers whose outage no case covers yet.
    async fn sweep(&self) -> Result<(), CaseError> {
        let latest: HashMap<(String, String), CaseRow> = self
            .store
            .latest_cases()
            .await?
            .into_iter()
            .map(|c| ((c.customer.clone(), c.service.clone()), c))
            .collect();
        for entry in self.fleet.entries() {
            let status = entry.status();
            if status.state != ServerState::Down {
                continue;
            }
            let covered = latest
                .get(&(entry.customer.clone(), entry.service.clone()))
                .is_some_and(|c| status_of(c).is_ok_and(CaseStatus::is_active) || c.updated_at >= status.state_since);
            if !covered {
                self.server_down(entry).await?;
                if self.store.flag(GUARD_FLAG).await?.is_some() {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn check_response_targets(&self) -> Result<(), CaseError> {
        let now = self.clock.now_ms();
        let mut fx = Effects::default();
        let mut tx = self.store.begin().await?;
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
            tx.add_event(case.id, now, "sla_breach", ENGINE, &text).await?;
            tx.update_case(&case).await?;
            fx.sla_breaches.push(case.severity);
        }
        self.commit(tx).await?;
        self.apply(fx)
    }

    async fn refresh_gauges(&self) -> Result<(), CaseError> {
        let counts: HashMap<i64, i64> = self.store.open_case_counts().await?.into_iter().collect();
        for severity in SEVERITIES {
            let n = severity.parse::<i64>().map(|s| counts.get(&s).copied().unwrap_or(0)).unwrap_or(0);
            self.metrics.cases_open.with_label_values(&[severity]).set(n);
        }
        Ok(())
    }

    /// The guard tripped: set the flag and, if this call set it, page about the monitor once.
    async fn trip_guard(&self, reason: &str) -> Result<(), CaseError> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        if tx.set_flag(GUARD_FLAG, Some(reason), now).await? {
            let text = format!("firstwatch suspects its own network and opens no customer cases: {reason}.");
            self.about_monitor(&mut tx, EventKind::MonitorDegraded, &format!("monitor#{now}"), &text, now).await?;
            tracing::error!(%reason, "monitor degraded: no customer cases are opened until it heals");
        }
        self.commit(tx).await?;
        self.metrics.monitor_degraded.set(1);
        Ok(())
    }

    async fn heal_guard(&self) -> Result<(), CaseError> {
        let Some((_, since)) = self.store.flag(GUARD_FLAG).await? else {
            self.metrics.monitor_degraded.set(0);
            return Ok(());
        };
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        if tx.set_flag(GUARD_FLAG, None, now).await? {
            let text = "firstwatch's own network is healthy again; customer cases open as usual.";
            self.about_monitor(&mut tx, EventKind::MonitorRecovered, &format!("monitor#{since}"), text, now).await?;
            tracing::info!("monitor recovered");
        }
        self.commit(tx).await?;
        self.metrics.monitor_degraded.set(0);
        Ok(())
    }

    async fn about_monitor(
        &self,
        tx: &mut Tx,
        event: EventKind,
        cause: &str,
        text: &str,
        now: i64,
    ) -> Result<(), CaseError> {
        let mut to = recipients::operations_manager(&self.config, from_unix_ms(now));
        to.extend(recipients::feed(&self.config));
        Ok(outbox::enqueue_all(tx, event, &Notice { cause, text, at: now }, None, to).await?)
    }

    async fn to_contacts(
        &self,
        tx: &mut Tx,
        event: EventKind,
        notice: &Notice<'_>,
        case: &CaseRow,
    ) -> Result<(), CaseError> {
        let Some(customer) = self.config.customers.iter().find(|c| c.id == case.customer) else { return Ok(()) };
        Ok(outbox::enqueue_all(tx, event, notice, Some(case), recipients::customer_contacts(customer)).await?)
    }

    async fn to_feed(
        &self,
        tx: &mut Tx,
        event: EventKind,
        notice: &Notice<'_>,
        case: &CaseRow,
    ) -> Result<(), CaseError> {
        Ok(outbox::enqueue_all(tx, event, notice, Some(case), recipients::feed(&self.config)).await?)
    }

    /// Page the holders of every escalation level due at once (`after = 0`), unless the
    /// server is in maintenance.
    async fn page_first_level(
        &self,
        tx: &mut Tx,
        notice: &Notice<'_>,
        case: &CaseRow,
        fx: &mut Effects,
    ) -> Result<(), CaseError> {
        if self.windows.read().await.covers(&case.customer, &case.server, notice.at) {
            return Ok(());
        }
        let page: Vec<_> =
            self.config.escalation.iter().filter(|l| l.after.is_zero()).flat_map(|l| l.page.clone()).collect();
        let to = recipients::pager_holders(&self.config, &page, from_unix_ms(notice.at));
        let mut paged: Vec<(&str, &str)> = to.iter().map(|(r, _)| (r.id.as_str(), r.role.as_str())).collect();
        paged.sort_unstable();
        paged.dedup();
        fx.pages.extend(paged.into_iter().map(|(_, role)| role.to_string()));
        Ok(outbox::enqueue_all(tx, EventKind::Page, notice, Some(case), to).await?)
    }

    fn response_due(&self, severity: i64, now: i64) -> i64 {
        let severity = u8::try_from(severity.clamp(1, 3)).unwrap_or(1);
        unix_ms(sla::response_due(&self.config.cases.response_targets, severity, from_unix_ms(now)))
    }

    /// Commit, then wake the outbox worker for whatever the transaction queued.
    async fn commit(&self, tx: Tx) -> Result<(), CaseError> {
        tx.commit().await?;
        self.outbox_ready.notify_one();
        Ok(())
    }

    fn apply(&self, fx: Effects) -> Result<(), CaseError> {
        if let Some(severity) = fx.opened {
            self.metrics.cases_opened_total.with_label_values(&[&severity.to_string()]).inc();
        }
        for role in fx.pages {
            self.metrics.pages_total.with_label_values(&[&role]).inc();
        }
        for severity in fx.sla_breaches {
            self.metrics.sla_breaches_total.with_label_values(&[&severity.to_string()]).inc();
        }
        Ok(())
    }
}

fn status_of(case: &CaseRow) -> Result<CaseStatus, CaseError> {
    case.status.parse().map_err(|e: String| CaseError::Store(StoreError::Corrupt(e)))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
