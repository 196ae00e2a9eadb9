//! firstwatch: a proactive server health monitor.
//!
//! ```text
//! config::load ──► App::build ──► spawns: scheduler, writer, web (axum)
//!
//! scheduler ──(server due)──► probe ──ProbeResult──► tracker ──Transition──► (cases, later)
//!   due-queue + jitter          bounded: timeout,      counts per server,
//!   + concurrency cap           body size, redirects   persisted by store (write-behind)
//!   ▲
//!   └──── plan::next_due(result): interval or retry_interval
//! web GET ──► store read models;  /metrics ──► Metrics registry
//! ```

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
