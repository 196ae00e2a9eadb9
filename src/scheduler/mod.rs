//! The due-queue loop: sends each server's status request when `plan` says it is due, under a
//! global concurrency cap, feeds results to the tracker, and hands what changed to the
//! write-behind writer. A slow or hung target only occupies its own task (every request is
//! bounded by its timeout), so it never delays the others.
//!
//! `firstwatch_scheduler_lag_seconds` measures, for every request, how long after its planned
//! time it actually started (spawn and runtime delay included).
//!
//! Probing never waits for the database or the case engine: a step only awaits a timer or a
//! finished request (both cancel-safe) and then does its bookkeeping without any `await`, so
//! no other branch of the loop can cut it half-way. Results go to the [`backlog::Backlog`]
//! (bounded, the latest status of every server always kept), hints to the case engine through
//! a bounded channel with `try_send` (a full channel drops the hint; the engine's sweep decides
//! from state anyway).
//!
//! Time: planning runs on `tokio::time::Instant`, mapped to Unix ms through an anchor taken at
//! start, so tests can pause and advance time and the slots stay consistent. The times stored
//! with a result (`last_probe_at`, `state_since`, failure rows) come from the app's [`Clock`],
//! the same clock the case engine decides with.

pub mod backlog;
pub mod heartbeat;
mod pending;
pub mod plan;
pub mod writer;

use pending::Pending;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{Histogram, IntCounter};
use tokio::sync::{broadcast, mpsc};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::cluster::Ownership;
use crate::domain::{ProbeKind, ServerState};
use crate::fleet::{Fleet, FleetEntry};
use crate::live::Live;
use crate::maintenance::SharedWindows;
use crate::metrics::Metrics;
use crate::probe::{Limits, ProbeResult, Prober};
use crate::store::StateChangeRow;
use crate::tracker::{self, Observation, Thresholds, Transition};
use backlog::Backlog;
use heartbeat::Heartbeat;

/// How far ahead of its plan a request may leave to share a wake-up with others.
const LAUNCH_WINDOW: Duration = Duration::from_millis(10);
/// The loop turns at least this often, to beat the heartbeat when nothing is due.
const BEAT: Duration = Duration::from_secs(1);
/// Servers of a shard just taken over that missed a slot meanwhile are probed within this
/// (or their interval, if shorter), spread by their offset, instead of waiting for their next
/// slot: a take-over costs the lease time, not the lease time plus an interval.
const TAKE_OVER_SPREAD: Duration = Duration::from_secs(5);

/// Something worth telling other parts about: a state change, a threshold reached, a recovery.
#[derive(Debug, Clone)]
pub struct FleetEvent {
    /// The server's slot (`Fleet::entry`) in the fleet layout `layout`.
    pub server: usize,
    /// The fleet layout `server` is a slot of (`Fleet::layout`): a hint about another layout
    /// is ignored (the sweep decides from state).
    pub layout: u64,
    pub transition: Transition,
    /// Unix ms of the request that caused it.
    pub at: i64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

/// What a finished probe task hands back.
struct Completed {
    /// Start of the request by the app's clock: stored times and decisions use this.
    at_ms: i64,
    /// Start and plan in scheduler time (the anchor's), for planning only.
    started_ms: i64,
    /// When the request was planned; the next one is planned from the later of the two, so a
    /// request that left a little early (see `LAUNCH_WINDOW`) never lands on its own slot again.
    planned_ms: i64,
    result: ProbeResult,
}

pub struct Scheduler {
    live: Arc<Live>,
    /// The fleet the queue, the tasks and `pending` index (`live`'s, or the one before it
    /// until the next turn of the loop adopts the new one).
    fleet: Arc<Fleet>,
    prober: Prober,
    metrics: Arc<Metrics>,
    windows: SharedWindows,
    events: broadcast::Sender<FleetEvent>,
    cases: Option<mpsc::Sender<FleetEvent>>,
    backlog: Arc<Backlog>,
    heartbeat: Arc<Heartbeat>,
    clock: Arc<dyn Clock>,
    write_behind: Duration,
    max_in_flight: usize,
    ownership: Arc<Ownership>,
    /// `Ownership::claims` as last re-planned for.
    seen_claims: u64,
    queue: BinaryHeap<Reverse<(Instant, usize)>>,
    in_flight: JoinSet<Completed>,
    /// Which server each running task probes, when it was planned, and its shard's lease
    /// epoch at launch.
    tasks: HashMap<Id, (usize, Instant, i64)>,
    pending: Pending,
    /// The instant and Unix ms taken together at start: converts between the two.
    anchor: (Instant, i64),
    /// `probes_total` children per kind, resolved once: `[success, failure]`.
    probe_counters: HashMap<ProbeKind, [IntCounter; 2]>,
    probe_durations: HashMap<ProbeKind, Histogram>,
}

/// What the scheduler needs from the rest of the app.
pub struct Parts {
    pub live: Arc<Live>,
    pub prober: Prober,
    pub metrics: Arc<Metrics>,
    pub windows: SharedWindows,
    pub clock: Arc<dyn Clock>,
    /// Observers (the demo); may lag and miss events.
    pub events: broadcast::Sender<FleetEvent>,
    /// Hints for the case engine; dropped when its queue is full (it sweeps from state).
    pub cases: Option<mpsc::Sender<FleetEvent>>,
    /// Where results wait for the writer.
    pub backlog: Arc<Backlog>,
    pub heartbeat: Arc<Heartbeat>,
    pub write_behind: Duration,
    pub max_in_flight: usize,
    /// The shards this instance probes; a server of another shard is skipped at its slot.
    pub ownership: Arc<Ownership>,
}

impl Scheduler {
    /// Plan every server's first request from its restored status.
    pub fn new(parts: Parts) -> Scheduler {
        let anchor = (Instant::now(), parts.clock.now_ms());
        let fleet = parts.live.fleet();
        let probe_counters = ProbeKind::ALL
            .into_iter()
            .map(|k| {
                let c = |r| parts.metrics.probes_total.with_label_values(&[k.as_str(), r]);
                (k, [c("success"), c("failure")])
            })
            .collect();
        let probe_durations = ProbeKind::ALL
            .into_iter()
            .map(|k| (k, parts.metrics.probe_duration_seconds.with_label_values(&[k.as_str()])))
            .collect();
        let n = fleet.slots();
        let mut scheduler = Scheduler {
            live: parts.live,
            fleet,
            prober: parts.prober,
            metrics: parts.metrics,
            windows: parts.windows,
            events: parts.events,
            cases: parts.cases,
            backlog: parts.backlog,
            heartbeat: parts.heartbeat,
            clock: parts.clock.clone(),
            write_behind: parts.write_behind,
            max_in_flight: parts.max_in_flight.max(1),
            seen_claims: parts.ownership.claims(),
            ownership: parts.ownership,
            queue: BinaryHeap::with_capacity(n),
            in_flight: JoinSet::new(),
            tasks: HashMap::new(),
            pending: Pending::new(n),
            anchor,
            probe_counters,
            probe_durations,
        };
        let now = scheduler.now_ms();
        for (idx, entry) in scheduler.fleet.iter() {
            let due = plan::first_due(&entry.id, &entry.status(), &entry.settings, now);
            let at = scheduler.instant_of(due);
            scheduler.queue.push(Reverse((at, idx)));
        }
        scheduler
    }

    fn now_ms(&self) -> i64 {
        let (instant, ms) = self.anchor;
        ms + i64::try_from(instant.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn instant_of(&self, ms: i64) -> Instant {
        let (instant, anchor_ms) = self.anchor;
        instant + Duration::from_millis(u64::try_from(ms - anchor_ms).unwrap_or(0))
    }

    /// Run until `shutdown`, then flush what is pending. Requests in flight are abandoned:
    /// their results were never counted, so nothing is counted twice after a restart.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut flush = tokio::time::interval(self.write_behind);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut beat = tokio::time::interval(BEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.heartbeat.set_running(true);
        loop {
            // Every branch is cancel-safe: `step` only awaits a timer or `join_next`.
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = flush.tick() => self.flush(),
                _ = beat.tick() => {}
                () = self.step() => {}
            }
            if self.live.generation() != self.fleet.generation() {
                self.adopt(self.live.fleet());
            }
            if self.ownership.claims() != self.seen_claims {
                self.replan_claimed();
            }
            self.heartbeat.beat();
        }
        self.heartbeat.set_running(false);
        self.in_flight.abort_all();
        self.flush();
    }

    /// A reload or an inventory change put a new fleet in force: write what was gathered
    /// under the old slots, then carry the queue over.
    ///
    /// Within one layout (an inventory change, `fleet::change`) a slot still in use is the
    /// same server with the same cell: its planned request stays (new settings apply from its
    /// next one), only the new slots at the end are planned, and the queued or running
    /// request of an emptied slot is dropped. O(servers changed).
    ///
    /// A new layout (a reload) re-keys the queue and the running requests by server id: a
    /// kept server keeps its planned slot (or an earlier one its new settings give); a new or
    /// re-targeted one is planned from its offset and its fresh status is written; a removed
    /// one leaves the queue, and a result of its still running request is dropped.
    pub fn adopt(&mut self, next: Arc<Fleet>) {
        self.flush();
        let old = std::mem::replace(&mut self.fleet, next.clone());
        let now = self.now_ms();
        if old.layout() == next.layout() && next.slots() >= old.slots() {
            self.tasks.retain(|_, (idx, _, _)| next.entry(*idx).is_some());
            self.pending.reindex(next.slots());
            for (j, entry) in next.iter_from(old.slots()) {
                self.plan_fresh(&old, j, entry, now);
            }
            return;
        }
        let kept = |idx: usize| {
            let entry = old.entry(idx)?;
            next.index_of(&entry.id).filter(|&j| next.entry(j).is_some_and(|e| e.same_cell(entry)))
        };
        let mut planned = vec![false; next.slots()];
        let queue = std::mem::take(&mut self.queue).into_vec();
        for Reverse((at, idx)) in queue {
            let Some((j, entry)) = kept(idx).and_then(|j| next.entry(j).map(|e| (j, e))) else { continue };
            let sooner = self.instant_of(plan::first_due(&entry.id, &entry.status(), &entry.settings, now));
            planned[j] = true;
            self.queue.push(Reverse((at.min(sooner), j)));
        }
        self.tasks.retain(|_, (idx, _, _)| match kept(*idx) {
            Some(j) => {
                *idx = j;
                planned[j] = true;
                true
            }
            None => false,
        });
        self.pending.reindex(next.slots());
        for (j, entry) in next.iter().filter(|(j, _)| !planned[*j]) {
            self.plan_fresh(&old, j, entry, now);
        }
    }

    /// Plan a new or re-targeted server (slot `j` of the fleet just adopted) from its offset
    /// and write its fresh status; a re-targeted one's status supersedes what its former cell
    /// (in `old`) wrote since the change.
    fn plan_fresh(&mut self, old: &Fleet, j: usize, entry: &FleetEntry, now: i64) {
        if let Some(former) = old.get(&entry.id) {
            self.fleet.supersede(entry, former);
        }
        let due = plan::first_due(&entry.id, &entry.status(), &entry.settings, now);
        self.queue.push(Reverse((self.instant_of(due), j)));
        if self.ownership.owns(entry.shard) {
            self.pending.mark(j);
        }
    }

    /// Shards were claimed: their servers go on from the stored status just loaded, and those
    /// that missed a slot during the take-over are probed now (spread over a few seconds).
    /// One pass over the queue, only when shards change hands.
    pub fn replan_claimed(&mut self) {
        self.seen_claims = self.ownership.claims();
        let now = self.now_ms();
        let fleet = self.fleet.clone();
        let queue = std::mem::take(&mut self.queue).into_vec();
        self.queue = queue
            .into_iter()
            .filter_map(|Reverse((at, idx))| {
                let entry = fleet.entry(idx)?;
                if !self.ownership.owns(entry.shard) {
                    return Some(Reverse((at, idx)));
                }
                let settings = &entry.settings;
                let due = entry.with_status(|status| {
                    let missed = status.last_probe_at.is_none_or(|last| last + plan::millis(settings.interval) < now);
                    let first = plan::first_due(&entry.id, status, settings, now);
                    if missed {
                        first.min(now + plan::offset_ms(&entry.id, settings.interval.min(TAKE_OVER_SPREAD)))
                    } else {
                        first
                    }
                });
                Some(Reverse((at.min(self.instant_of(due)), idx)))
            })
            .collect();
    }

    /// One step of the loop: start every due request (as far as the cap allows) or take in
    /// one finished result, whichever comes first. Tests drive the scheduler with this.
    pub async fn step(&mut self) {
        let next_due = self.queue.peek().map(|Reverse((at, _))| *at);
        let room = self.in_flight.len() < self.max_in_flight;
        tokio::select! {
            Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                match joined {
                    Ok((id, done)) => {
                        if let Some((idx, _, epoch)) = self.tasks.remove(&id) {
                            self.complete(idx, done, epoch);
                        }
                    }
                    Err(error) => {
                        // A probe task panicked or was cancelled: reschedule the server so it is
                        // never silently dropped from monitoring.
                        if let Some((idx, planned, _)) = self.tasks.remove(&error.id()) {
                            if let Some(entry) = self.fleet.entry(idx) {
                                tracing::error!(server = %entry.id, %error, "probe task failed");
                                let retry = planned + entry.settings.retry_interval;
                                self.queue.push(Reverse((retry.max(Instant::now()), idx)));
                            }
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if room && next_due.is_some() => {
                self.launch_due();
            }
            else => std::future::pending::<()>().await,
        }
    }

    fn launch_due(&mut self) {
        // Requests due within the next few milliseconds leave with this wake-up: one timer
        // wake-up per batch instead of one per request.
        let now = Instant::now() + LAUNCH_WINDOW;
        while self.in_flight.len() < self.max_in_flight {
            match self.queue.peek() {
                Some(Reverse((at, _))) if *at <= now => {}
                _ => break,
            }
            let Some(Reverse((planned, idx))) = self.queue.pop() else { break };
            // An emptied slot (its server removed or re-targeted by a change) leaves the queue.
            let Some(entry) = self.fleet.entry(idx) else { continue };
            if !self.ownership.owns(entry.shard) {
                // Another instance probes it now; look again one interval later (a shard
                // taken over is probed within one interval of the claim).
                self.queue.push(Reverse((planned + entry.settings.interval, idx)));
                continue;
            }
            let target = entry.target.clone();
            let limits =
                Limits { timeout: entry.settings.timeout, expect_status: entry.settings.expect_status.clone() };
            let prober = self.prober.clone();
            let lag = self.metrics.scheduler_lag_seconds.clone();
            let (anchor_instant, anchor_ms) = self.anchor;
            let clock = self.clock.clone();
            let handle = self.in_flight.spawn(async move {
                let started = Instant::now();
                let at_ms = clock.now_ms();
                lag.observe(started.saturating_duration_since(planned).as_secs_f64());
                let since_anchor =
                    |at: Instant| anchor_ms + i64::try_from((at - anchor_instant).as_millis()).unwrap_or(0);
                let (started_ms, planned_ms) = (since_anchor(started), since_anchor(planned));
                let result = prober.probe(&target, &limits).await;
                Completed { at_ms, started_ms, planned_ms, result }
            });
            self.tasks.insert(handle.id(), (idx, planned, self.ownership.epoch(entry.shard)));
        }
    }

    /// Count one result, plan the server's next request, queue what is to be written and hint
    /// the case engine. Never awaits: nothing can interrupt it half-way.
    fn complete(&mut self, idx: usize, done: Completed, epoch: i64) {
        let fleet = self.fleet.clone();
        let Some(entry) = fleet.entry(idx) else { return };
        let Completed { at_ms, started_ms, planned_ms, result } = done;
        if self.ownership.epoch(entry.shard) != epoch {
            // The lease ended (and was claimed again) while the request ran: its result belongs
            // to an epoch whose rows the store refuses. The server goes on from its stored
            // status at its next slot.
            let next = plan::first_due(&entry.id, &entry.status(), &entry.settings, self.now_ms());
            self.queue.push(Reverse((self.instant_of(next), idx)));
            return;
        }
        if self.pending.other_epoch(entry.shard, epoch) {
            // Rows of two epochs of one shard never share a batch.
            self.flush();
        }
        self.pending.set_epoch(entry.shard, epoch);
        let kind = result.kind;
        let ok = result.is_success();
        if let Some(counters) = self.probe_counters.get(&kind) {
            counters[usize::from(!ok)].inc();
        }
        if let Some(histogram) = self.probe_durations.get(&kind) {
            histogram.observe(result.duration.as_secs_f64());
        }
        let error = result.outcome.as_ref().err().map(|e| e.to_string());
        let in_maintenance = crate::maintenance::covers(&self.windows, &entry.customer, &entry.id, at_ms);
        let thresholds =
            Thresholds { failure: entry.settings.failure_threshold, recovery: entry.settings.recovery_threshold };
        let obs = Observation { error: error.as_deref(), at: at_ms, in_maintenance };
        let (transition, next, failures) = fleet.update(entry, |status| {
            let transition = tracker::apply(status, obs, thresholds);
            (
                transition,
                plan::next_due(&entry.id, status, &entry.settings, started_ms.max(planned_ms)),
                status.consecutive_failures,
            )
        });
        let at = self.instant_of(next);
        self.queue.push(Reverse((at, idx)));

        let duration_ms = i64::try_from(result.duration.as_millis()).unwrap_or(i64::MAX);
        self.pending.record(&fleet, idx, at_ms, duration_ms, error.as_ref());
        if transition.state_changed() {
            self.pending.change(StateChangeRow {
                server_id: entry.id.to_string(),
                at: at_ms,
                from: transition.from,
                to: transition.to,
                consecutive_failures: i64::from(failures),
                error: error.clone(),
            });
            log_transition(&entry.id, &transition, error.as_deref());
        }
        let noteworthy = transition.state_changed() || transition.threshold_reached || transition.recovered;
        if noteworthy || transition.to == ServerState::Down {
            let event = FleetEvent {
                server: idx,
                layout: fleet.layout(),
                transition,
                at: at_ms,
                consecutive_failures: failures,
                last_error: error,
            };
            if let Some(cases) = &self.cases {
                match cases.try_send(event.clone()) {
                    Ok(()) => {}
                    // The engine is busy (the database is slow): it finds this on its sweep.
                    Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        // Only at shutdown (the engine stops first); said once.
                        tracing::error!("the case engine has stopped; outages open no cases");
                        self.cases = None;
                    }
                }
            }
            if noteworthy {
                let _ = self.events.send(event);
            }
        }
    }

    /// Hand everything gathered since the last flush to the backlog (never waits).
    fn flush(&mut self) {
        if let Some(batch) = self.pending.take(&self.fleet) {
            self.backlog.push(batch);
        }
    }
}

fn log_transition(server: &str, t: &Transition, error: Option<&str>) {
    match t.to {
        ServerState::Down => tracing::warn!(%server, from = %t.from, error = error.unwrap_or(""), "server down"),
        ServerState::Failing if t.from != ServerState::Down => {
            tracing::info!(%server, error = error.unwrap_or(""), "server failing")
        }
        _ => tracing::info!(%server, from = %t.from, to = %t.to, "server state changed"),
    }
}
