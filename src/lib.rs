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
//!
//! Module map (each module's `//!` header says what it owns and what it does not):
//!
//! | module | owns |
//! |---|---|
//! | `domain` | plain types parsed once at the edge: targets, server states, case status and its life cycle, severity, timeline kinds, case numbers |
//! | `config` | reading and validating the TOML file (every rule at its key path), defaults, the check-config summary |
//! | `fleet`, `tracker` | the live fleet and its per-server counters; one result's effect on one server |
//! | `live`, `inventory` | the config and fleet in force, swapped whole; reloading the files (`SIGHUP`, `POST /api/v1/reload`) |
//! | `probe` | bounded status requests (http, tcp, dns) |
//! | `scheduler` | when each server is probed, the bounded result backlog and its writer |
//! | `cases` | the case engine (open, raise, recover, resolve; operator actions), severity rule, response targets, texts |
//! | `guard`, `maintenance` | the monitor's own health; maintenance windows in force |
//! | `escalation` | on-call, escalation levels and customer updates from stored times |
//! | `outbox`, `notify` | messages written with their cause; delivering them through each channel type |
//! | `cluster` | which shards this instance probes and whether it leads (lease rows); one instance per SQLite file |
//! | `store` | all SQL, split by table family; dialect differences in `store/dialect.rs` |
//! | `web` | the HTTP surface; who may call what in `web/access.rs` |
//! | `cli` | the command line and its one error type |
//! | `app`, `shutdown`, `limits`, `clock`, `calendar`, `metrics` | wiring, stopping, process limits, time, business hours, Prometheus families |
//! | `tools` | not the product: `demo`, `bench`, the simulated fleet |

pub mod app;
pub mod calendar;
pub mod cases;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod escalation;
pub mod fleet;
pub mod guard;
pub mod inventory;
pub mod limits;
pub mod live;
pub mod maintenance;
pub mod metrics;
pub mod notify;
pub mod outbox;
pub mod probe;
pub mod scheduler;
pub mod shutdown;
pub mod store;
pub mod tools;
pub mod tracker;
pub mod web;
