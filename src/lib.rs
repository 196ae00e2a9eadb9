//! firstwatch: a proactive server health monitor.
//!
//! ```text
//! config::load ──► App::build ──► spawns: scheduler, result writer, case engine, outbox worker, web
//!
//! scheduler ──(server due)──► probe ──ProbeResult──► tracker ──hint (try_send)──► cases::CaseEngine
//!   due-queue + jitter          bounded: timeout,      counts per server   │        reconcile(service):
//!   + concurrency cap           body size, redirects                       │        derive from statuses,
//!   ▲                                                                      ▼        guard, maintenance;
//!   └──── plan::next_due      scheduler::backlog (bounded) ──► writer ──► store      ONE tx: case +
//!                                                                                   timeline + outbox
//! engine tick (1 s): sweep every service, guard heal, response targets, escalation::run_due ──► │
//! web/CLI ack, notes, resolve, close ───────────────────────────────────────────────────────► ▼
//!                                         outbox table ──► outbox::worker ──► notify::<channel>
//!                                         leases, retries with backoff, dead letters
//! web GET ──► store read models and the live fleet;  /metrics ──► Metrics registry
//! ```
//!
//! Nothing is sent except through the outbox, written in the same transaction as the change
//! that caused it. Decisions are derived from stored state on every hint and on the sweep, so
//! a lost hint, a failed write or a restart only delays one; probing never waits for the
//! database. Each loop has a single-step function tests call (`Scheduler::step`,
//! `CaseEngine::run_due`, `Escalation::run_due`, `Worker::try_deliver_next`); every
//! long-running task takes the shutdown token.

pub mod app;
pub mod bench;
pub mod calendar;
pub mod cases;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod escalation;
pub mod fleet;
pub mod guard;
pub mod limits;
pub mod maintenance;
pub mod metrics;
pub mod notify;
pub mod operator;
pub mod outbox;
pub mod probe;
pub mod scheduler;
pub mod shutdown;
pub mod sim;
pub mod store;
pub mod tracker;
pub mod web;
