//! The case engine: keeps every service's case in line with its servers' states, and turns
//! operators' actions into case changes. Every change is ONE database transaction holding the
//! case row, its timeline events, the status rows the decision rests on, and the outbox rows it
//! implies, so a crash can lose nothing half-done and a replay sends nothing twice (outbox keys
//! are unique).
//!
//! Decisions are level-triggered (`reconcile.rs`): whether a service should have an active
//! case, at which severity, and whether it has recovered is derived from the live statuses each
//! time, on every hint from the scheduler and on the sweep of [`CaseEngine::run_due`] (every
//! second). A hint is only "look at this service now": a dropped hint, a failed write or a
//! restart delays a decision by one sweep, never loses it. `outbound.rs` says who hears of what;
//! `guarding.rs` asks the guard before a case opens and trips and heals its stored flag; `targets.rs` sweeps for missed
//! first-response targets.
//! Not here: escalation levels and customer updates (`crate::escalation`, stepped from
//! `run_due`), delivery (`crate::outbox`).

mod acknowledge;
pub use acknowledge::LinkAck;
mod guarding;
mod inventory;
mod outbound;
mod reconcile;
mod targets;
mod watch;

use crate::domain::Severity;
use crate::domain::TimelineKind;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::state::{Action, CaseStatus, IllegalTransition};
use super::texts;
use crate::clock::Clock;
use crate::cluster::Ownership;
use crate::config::Config;
use crate::domain::CaseNumber;
use crate::domain::ServerState;
use crate::escalation::{Escalation, Fired};
use crate::fleet::Fleet;
use crate::guard::{Guard, Verdict};
use crate::live::Live;
use crate::maintenance::{SharedWindows, Windows};
use crate::metrics::Metrics;
use crate::outbox::{EventKind, Notice};
use crate::scheduler::FleetEvent;
use crate::store::{CaseRow, Lease, Store, StoreError, Tx};

use reconcile::{Gate, Hint};

/// The actor of changes the engine makes by itself.
pub const ENGINE: &str = "firstwatch";
/// The `monitor_flags` name of the tripped guard.
const GUARD_FLAG: &str = "guard_degraded";
/// The `monitor_flags` row whose `since` is when the guard last healed, by any instance.
const HEALED_FLAG: &str = "guard_healed";
/// No single engine operation may take longer than this, whatever the database does: a
/// statement stuck on a dead connection is abandoned (its transaction rolls back) and the
/// next hint or sweep decides again.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the leader of several instances asks the guard by itself while a server is down.
const PROACTIVE_GUARD_EVERY: Duration = Duration::from_secs(5);

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
    /// Take the case, through the way named (API, case page, CLI).
    Acknowledge(crate::outbox::AckVia),
    Note(String),
    Resolve,
    Close,
}

/// Metric changes to apply once the transaction has committed.
#[derive(Default)]
struct Effects {
    opened: Option<Severity>,
    pages: Vec<String>,
    sla_breaches: Vec<Severity>,
}

pub struct CaseEngine {
    ownership: Arc<Ownership>,
    live: Arc<Live>,
    store: Store,
    guard: Guard,
    windows: SharedWindows,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    outbox_ready: Arc<Notify>,
    escalation: Escalation,
    /// When the guard last healed (clock ms), by this engine or, read from the `guard_healed`
    /// flag on every tick, by another instance. A server found `down` during the storm opens a
    /// case only once a status request after the heal confirms it.
    healed_at: AtomicI64,
    /// When the leader last asked the guard on its own (clock ms).
    guard_asked_at: AtomicI64,
    /// Whether the guard is tripped, as this engine last saw it (the flag row is the truth):
    /// hints then open nothing and ask no guard; `run_due` asks it once per tick.
    guard_tripped: AtomicBool,
    /// The latest case of each service, read incrementally by the sweep.
    latest: tokio::sync::Mutex<watch::LatestCases>,
    /// The maintenance windows added at run time, read incrementally.
    stored_windows: tokio::sync::Mutex<watch::StoredWindows>,
}

/// What the engine needs from the rest of the app.
pub struct Parts {
    /// The config and fleet in force, taken afresh by each operation.
    pub live: Arc<Live>,
    pub store: Store,
    pub guard: Guard,
    pub windows: SharedWindows,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// Woken after every commit, so the outbox worker delivers without waiting for its poll.
    pub outbox_ready: Arc<Notify>,
    /// Which services this instance decides for (their first server's shard) and whether it
    /// runs the singleton checks (guard heal, response targets, escalation, updates).
    pub ownership: Arc<Ownership>,
}

impl CaseEngine {
    fn config(&self) -> Arc<Config> {
        self.live.config()
    }

    fn fleet(&self) -> Arc<Fleet> {
        self.live.fleet()
    }

    pub fn new(p: Parts) -> CaseEngine {
        CaseEngine {
            live: p.live.clone(),
            store: p.store,
            ownership: p.ownership,
            guard: p.guard,
            windows: p.windows,
            clock: p.clock.clone(),
            metrics: p.metrics.clone(),
            outbox_ready: p.outbox_ready,
            escalation: Escalation::new(p.live, p.metrics, p.clock),
            healed_at: AtomicI64::new(0),
            guard_asked_at: AtomicI64::new(i64::MIN / 2),
            guard_tripped: AtomicBool::new(false),
            latest: tokio::sync::Mutex::default(),
            stored_windows: tokio::sync::Mutex::default(),
        }
    }

    /// Consume the scheduler's hints until shutdown; run the periodic checks every `tick`.
    /// Every operation is bounded by `OPERATION_TIMEOUT`; a failed one is logged (once per
    /// kind of trouble, not per event) and the sweep decides again.
    pub async fn run(
        self: Arc<Self>,
        mut events: mpsc::Receiver<FleetEvent>,
        tick: Duration,
        shutdown: CancellationToken,
    ) {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            let operation = tokio::select! {
                _ = shutdown.cancelled() => break,
                event = events.recv() => match event {
                    Some(event) => {
                        let engine = &self;
                        futures_util::future::Either::Left(async move { engine.on_fleet_event(&event).await })
                    }
                    None => break,
                },
                _ = ticker.tick() => futures_util::future::Either::Right(self.run_due()),
            };
            // A stop does not wait for an operation stuck on the database: its transaction
            // rolls back and the next start decides again.
            let step = tokio::select! {
                _ = shutdown.cancelled() => break,
                step = tokio::time::timeout(OPERATION_TIMEOUT, operation) => step,
            };
            match step {
                Ok(Ok(())) if failing => {
                    failing = false;
                    tracing::info!("case engine operations succeed again");
                }
                Ok(Ok(())) => {}
                Ok(Err(error)) if !failing => {
                    failing = true;
                    tracing::error!(%error, "case engine operation failed; the next sweep decides again");
                }
                Err(_) if !failing => {
                    failing = true;
                    tracing::error!("case engine operation timed out; the next sweep decides again");
                }
                Ok(Err(_)) | Err(_) => {}
            }
        }
    }

    /// A hint from the scheduler: one server's result changed something worth a look. Only
    /// transitions that can change a decision lead to a transaction.
    pub async fn on_fleet_event(&self, event: &FleetEvent) -> Result<(), CaseError> {
        let fleet = self.fleet();
        if event.layout != fleet.layout() {
            // Its slot is of a layout replaced since: the sweep looks at its service.
            return Ok(());
        }
        // A slot in use means the same server within a layout (`fleet::change`).
        let Some(entry) = fleet.entry(event.server) else { return Ok(()) };
        let t = event.transition;
        let relevant = t.to == ServerState::Down || t.from == ServerState::Down || t.recovered || t.threshold_reached;
        if !relevant {
            return Ok(());
        }
        if !self.decides_for(&fleet, entry.service_idx) {
            return Ok(());
        }
        let hint = Hint { server: event.server, transition: t };
        let mut gate = if self.guard_tripped.load(Ordering::Relaxed) { Gate::Shut } else { Gate::Unasked };
        self.reconcile(&fleet, entry.service_idx, Some(hint), &mut gate).await
    }

    async fn resolve_in(&self, tx: &mut Tx, case: &mut CaseRow, actor: &str, now: i64) -> Result<(), CaseError> {
        case.status = case.status.apply(Action::Resolve)?;
        case.resolved_at = Some(now);
        let text = texts::resolved(case, actor);
        let event_id = tx.add_event(case.id, now, TimelineKind::Resolved, actor, &text).await?;
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
        let status = case.status;
        match action {
            OperatorAction::Acknowledge(via) => self.acknowledge_in(&mut tx, &mut case, actor, via, now).await?,
            OperatorAction::Note(text) => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > 4000 {
                    return Err(CaseError::Invalid("a note must be 1 to 4000 characters".to_string()));
                }
                if status == CaseStatus::Closed {
                    return Err(CaseError::Invalid(format!("{number} is closed; notes can no longer be added")));
                }
                tx.add_event(case.id, now, TimelineKind::Note, actor, text).await?;
                if status == CaseStatus::Acknowledged {
                    case.status = status.apply(Action::StartWork)?;
                }
            }
            OperatorAction::Resolve => self.resolve_in(&mut tx, &mut case, actor, now).await?,
            OperatorAction::Close => {
                case.status = status.apply(Action::Close)?;
                case.closed_at = Some(now);
                tx.add_event(case.id, now, TimelineKind::Closed, actor, &format!("{actor} closed the case.")).await?;
            }
        }
        case.updated_at = now;
        tx.update_case(&case).await?;
        self.commit(tx).await?;
        Ok(case)
    }

    /// The periodic checks, the single step tests drive: pick up maintenance windows, heal the
    /// guard, reconcile every service that needs it, mark missed response targets, fire due
    /// escalation levels and customer updates, refresh the open-case gauges.
    pub async fn run_due(&self) -> Result<(), CaseError> {
        self.reload_windows().await?;
        // While the guard is tripped, no case opens; recoveries, raises and resolutions of the
        // cases already open go on.
        let mut gate = Gate::Unasked;
        let tripped = self.store.flag(GUARD_FLAG).await?.is_some();
        self.guard_tripped.store(tripped, Ordering::Relaxed);
        if let Some((_, healed)) = self.store.flag(HEALED_FLAG).await? {
            // Another instance may have healed it: its heal time counts here too.
            self.healed_at.fetch_max(healed, Ordering::Relaxed);
        }
        let leader = self.ownership.is_leader();
        if tripped && leader {
            gate = match self.guard.assess(&self.fleet()).await {
                Verdict::Healthy if unless_fenced(self.heal_guard().await.map(|()| true))? => Gate::Open,
                Verdict::Healthy | Verdict::Degraded(_) => Gate::Shut,
            };
        } else if tripped {
            // Only the leader heals the guard, so every instance gives the same answer.
            gate = Gate::Shut;
        } else if leader && !self.ownership.decides_everything() && self.proactive_guard_due() {
            // With several instances, a case may be about to open on any of them: the leader
            // asks the guard from its view of the whole fleet (every few seconds while something
            // is down), so a storm trips it even when none of the leader's own services would
            // open a case.
            self.may_open(&mut gate).await?;
        }
        self.sweep(&mut gate).await?;
        if leader {
            // Refused by the fence: another instance leads now and does this work.
            unless_fenced(self.check_response_targets().await)?;
            let fired = unless_fenced(self.escalation.run_due(&self.store).await.map_err(CaseError::from))?;
            if fired != Fired::default() {
                self.outbox_ready.notify_one();
            }
        }
        self.refresh_gauges().await
    }

    /// Whether the leader should ask the guard without a case about to open here: something is
    /// down somewhere, and it has not asked within [`PROACTIVE_GUARD_EVERY`].
    fn proactive_guard_due(&self) -> bool {
        let now = self.clock.now_ms();
        let last = self.guard_asked_at.load(Ordering::Relaxed);
        if now - last < millis(PROACTIVE_GUARD_EVERY) || !self.guard.anything_down(&self.fleet()) {
            return false;
        }
        self.guard_asked_at.store(now, Ordering::Relaxed);
        true
    }

    /// Pick up maintenance windows added at run time by any instance or the CLI.
    async fn reload_windows(&self) -> Result<(), CaseError> {
        let mut windows = Windows::from_config(&self.config().maintenance);
        let mut stored = self.stored_windows.lock().await;
        for row in stored.refresh(&self.store, self.clock.now_ms()).await? {
            windows.add(row);
        }
        crate::maintenance::replace(&self.windows, windows);
        Ok(())
    }

    async fn refresh_gauges(&self) -> Result<(), CaseError> {
        let counts: HashMap<Severity, i64> = self.store.open_case_counts().await?.into_iter().collect();
        for severity in Severity::ALL {
            let n = counts.get(&severity).copied().unwrap_or(0);
            self.metrics.cases_open.with_label_values(&[severity.label()]).set(n);
        }
        self.metrics.paging_unverified.set(self.store.paging_unverified().await?);
        Ok(())
    }

    /// Wake the outbox worker for messages queued outside the engine (a test page).
    pub fn wake_outbox(&self) {
        self.outbox_ready.notify_one();
    }

    /// Commit, then wake the outbox worker for whatever the transaction queued.
    async fn commit(&self, tx: Tx) -> Result<(), CaseError> {
        tx.commit().await?;
        self.outbox_ready.notify_one();
        Ok(())
    }

    fn apply(&self, fx: Effects) -> Result<(), CaseError> {
        if let Some(severity) = fx.opened {
            self.metrics.cases_opened_total.with_label_values(&[severity.label()]).inc();
        }
        for role in fx.pages {
            self.metrics.pages_total.with_label_values(&[&role]).inc();
        }
        for severity in fx.sla_breaches {
            self.metrics.sla_breaches_total.with_label_values(&[severity.label()]).inc();
        }
        Ok(())
    }
}

impl CaseEngine {
    /// Whether this instance decides for the service: it holds the shard of the service's
    /// first server (the others' statuses reach it through the stored state).
    pub(super) fn decides_for(&self, fleet: &Fleet, service_idx: usize) -> bool {
        fleet.members(service_idx).next().is_some_and(|first| self.ownership.decides(first.shard))
    }
}

/// The lease a decision for the service rests on, checked inside its transaction.
pub(super) fn decision_lease(fleet: &Fleet, service_idx: usize) -> Option<Lease> {
    fleet.members(service_idx).next().map(|first| Lease::Shard(first.shard))
}

/// Leader work refused by the fence is no error: another instance leads now, nothing was
/// written, and the sweep goes on with this instance's own services.
fn unless_fenced<T: Default>(result: Result<T, CaseError>) -> Result<T, CaseError> {
    match result {
        Err(CaseError::Store(StoreError::Fenced)) => Ok(T::default()),
        other => other,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
