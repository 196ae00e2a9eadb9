//! The command line: the clap tree (`Cli`, one `Command` per verb) and [`CliError`], the one
//! error every verb returns, which `main.rs` turns into the exit status. One file per verb
//! group: `service.rs` (run, check-config, probe), `cases.rs`, `maintenance.rs`, `upkeep.rs`
//! (healthcheck, backup, dead-letters), `notify.rs` (notify test); `output.rs`
//! is what they print with. The tools that are not the product live in `crate::tools`.
//!
//! Exit statuses: 0 done; 2 a refused configuration, argument or input (clap refuses
//! unparsable values with 2 as well); 1 refused by the case life cycle, not found, a probe
//! that failed, or a runtime failure. Messages go to stderr.

/// `print!` for the verbs: a reader that went away (`firstwatch … | head -n 1`) is not a
/// panic; see [`output::write_stdout`].
macro_rules! say {
    ($($arg:tt)*) => { $crate::cli::output::write_stdout(format_args!($($arg)*)) };
}

/// `println!` for the verbs, as [`say!`].
macro_rules! sayln {
    () => { $crate::cli::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

pub mod cases;
pub mod maintenance;
pub mod notify;
mod output;
pub mod service;
pub mod upkeep;

/// Why a verb did not succeed; [`CliError::exit_code`] is the process's exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A configuration file with errors, each at its key path: exit 2.
    #[error("{} is not valid:\n  {}", path.display(), errors.join("\n  "))]
    Config { path: std::path::PathBuf, errors: Vec<String> },
    /// A refused argument or input: exit 2.
    #[error("{0}")]
    Invalid(String),
    /// Refused by the case life cycle, or not found: exit 1.
    #[error("{0}")]
    Refused(String),
    /// The verb said what happened already (a probe that failed): exit 1, nothing more printed.
    #[error("")]
    Reported,
    /// Anything else (database, network): exit 1.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for CliError {
    fn from(error: crate::store::StoreError) -> Self {
        CliError::Failed(error.into())
    }
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config { .. } | CliError::Invalid(_) => 2,
            CliError::Refused(_) | CliError::Reported | CliError::Failed(_) => 1,
        }
    }

    /// Print the error for a person (stderr), unless it was reported already.
    pub fn report(&self) {
        match self {
            CliError::Reported => {}
            CliError::Config { .. } => eprintln!("{self}"),
            other => eprintln!("error: {other}"),
        }
    }
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};

use crate::domain::CaseNumber;
use cases::StatusFilter;

#[derive(Debug, Parser)]
#[command(name = "firstwatch", version, about = "Proactive server health monitor: probes, cases, pages, status page.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: scheduler, result writer and web server, until SIGINT/SIGTERM.
    Run {
        #[arg(long, default_value = "config/firstwatch.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file and print a summary; exit 0 if good, 2 if not.
    CheckConfig {
        #[arg(long, default_value = "config/firstwatch.toml")]
        config: PathBuf,
    },
    /// Send one status request now and print the outcome with its timing.
    Probe {
        /// https://…, http://…, tcp://host:port or dns://name
        target: String,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: Duration,
        /// Statuses that count as success (default: any 2xx), e.g. --expect-status 200,204
        #[arg(long, value_delimiter = ',')]
        expect_status: Vec<u16>,
        /// Name servers to use instead of the system's, e.g. --dns-server 127.0.0.1:5353
        #[arg(long)]
        dns_server: Vec<SocketAddr>,
    },
    /// Operator work on cases, straight against the configured database (no running instance needed).
    Cases {
        /// The configuration file; its database is the one worked on.
        #[arg(long, global = true, default_value = "config/firstwatch.toml")]
        config: PathBuf,
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// Scheduled maintenance windows: list them, or add one.
    Maintenance {
        /// The configuration file; its database is the one worked on.
        #[arg(long, global = true, default_value = "config/firstwatch.toml")]
        config: PathBuf,
        #[command(subcommand)]
        command: MaintenanceCommand,
    },
    /// Ask a running instance whether it is ready (GET /readyz): exit 0 ready, 1 not. For
    /// container health checks on images without curl.
    Healthcheck {
        /// The readiness endpoint to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
    /// Copy the configured SQLite database to a new file while firstwatch runs, and check the
    /// copy. For PostgreSQL, use pg_dump.
    Backup {
        /// The configuration file; its database is the one copied.
        #[arg(long, default_value = "config/firstwatch.toml")]
        config: PathBuf,
        /// The file to write (it must not exist yet).
        #[arg(long)]
        to: PathBuf,
    },
    /// Messages given up on after their retry budget (the outbox's dead letters).
    DeadLetters {
        /// The configuration file; its database is the one read.
        #[arg(long, global = true, default_value = "config/firstwatch.toml")]
        config: PathBuf,
        #[command(subcommand)]
        command: DeadLettersCommand,
    },
    /// Test a person's paging path: a test page through each of their channels.
    Notify {
        /// The configuration file; its database is where the test is queued.
        #[arg(long, global = true, default_value = "config/firstwatch.toml")]
        config: PathBuf,
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// A self-contained showcase: a simulated fleet on loopback with scripted outages.
    Demo {
        /// Stop by itself after this long (default: run until Ctrl-C).
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Where to serve the status page and API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Also show the monitor's own log (info and up) on stderr, between the story's lines.
        #[arg(long)]
        verbose: bool,
    },
    /// Measure the probe path against a loopback fleet and print throughput, CPU, memory, lag.
    Bench {
        #[arg(long, default_value_t = 10_000)]
        servers: usize,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        interval: Duration,
        #[arg(long = "for", default_value = "60s", value_parser = parse_duration)]
        duration: Duration,
        /// Baseline: the same request rate from a bare loop over the prober, without the
        /// scheduler, tracker or store, to show what the bookkeeping costs on this machine.
        #[arg(long)]
        bare: bool,
        /// Instead: measure page latency over this many cases (threshold crossed -> page at a
        /// local webhook), e.g. --pages 200.
        #[arg(long)]
        pages: Option<usize>,
        /// Instead: load-test the status pages with 10,000 servers in the database, with this
        /// many concurrent clients, e.g. --web 32 (each page for --for).
        #[arg(long)]
        web: Option<usize>,
        /// Instead: this many `firstwatch run` processes on one PostgreSQL (--database),
        /// with the shard split, probes/s and CPU per instance, and the take-over gap after
        /// `kill -9` of one, e.g. --instances 2.
        #[arg(long)]
        instances: Option<usize>,
        /// The PostgreSQL server to measure on (a throw-away database is created on it); the
        /// probe path runs on SQLite without it. Needed by --instances.
        #[arg(long)]
        database: Option<String>,
        /// The `[cluster] lease_ttl` of the instances for --instances.
        #[arg(long, default_value = "15s", value_parser = parse_duration)]
        lease_ttl: Duration,
        /// Serve the fleet only (used by `bench` itself, in a child process).
        #[arg(long, hide = true)]
        serve_fleet: Option<usize>,
    },
}

/// `firstwatch cases …`. `ID` is a case number: `FW-000042`, `fw-42` or `42`.
#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// List cases, newest first.
    List {
        /// `active` (every case not resolved or closed), `all`, or one status: open, acknowledged,
        /// in_progress, waiting_for_customer, resolved, closed, reopened.
        #[arg(long, default_value = "active")]
        status: StatusFilter,
        /// Show at most this many cases.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
    },
    /// One case with every field, its timeline and its notifications.
    Show {
        /// FW-000042, fw-42 or 42
        id: CaseNumber,
    },
    /// Take the case: it is being worked, escalation stops.
    Ack {
        /// FW-000042, fw-42 or 42
        id: CaseNumber,
        #[command(flatten)]
        actor: Actor,
    },
    /// Add a note to the timeline (the latest note goes into customer updates).
    Note {
        /// FW-000042, fw-42 or 42
        id: CaseNumber,
        text: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Mark the case resolved: the service is back, the customer is told, updates stop.
    Resolve {
        /// FW-000042, fw-42 or 42
        id: CaseNumber,
        #[command(flatten)]
        actor: Actor,
    },
    /// Close a resolved case for good.
    Close {
        /// FW-000042, fw-42 or 42
        id: CaseNumber,
        #[command(flatten)]
        actor: Actor,
    },
}

/// `firstwatch notify …`.
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Queue a `test` event to the person through each of their channels, with an ack link;
    /// a running instance delivers it.
    Test {
        /// The `[[people]]` id.
        #[arg(long)]
        person: String,
    },
}

/// `firstwatch dead-letters …`.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// The messages given up on, newest first, with the last error of each.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
    },
}

/// `firstwatch maintenance …`.
#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Every window: from the configuration and added at run time.
    List,
    /// Store a window for a server or a whole customer; failures inside it open no case.
    Add {
        #[command(flatten)]
        scope: Scope,
        /// RFC 3339 in UTC, e.g. 2026-12-01T02:00:00Z
        #[arg(long, value_parser = crate::clock::parse_rfc3339)]
        start: SystemTime,
        /// RFC 3339 in UTC, after --start and in the future
        #[arg(long, value_parser = crate::clock::parse_rfc3339)]
        end: SystemTime,
        /// Why, shown in listings.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        actor: Actor,
    },
}

/// Who does it: `--as NAME`, else the `USER` environment variable, else `operator`.
#[derive(Debug, Args)]
pub struct Actor {
    /// Who does it (default: $USER, else "operator").
    #[arg(long = "as", value_name = "NAME")]
    pub name: Option<String>,
}

impl Actor {
    /// The name to record; an empty `--as` is refused.
    pub(crate) fn resolve(self) -> Result<String, CliError> {
        match self.name {
            Some(name) if name.trim().is_empty() => Err(CliError::Invalid("--as needs a name".to_string())),
            Some(name) => Ok(name.trim().to_string()),
            None => Ok(std::env::var("USER")
                .ok()
                .map(|user| user.trim().to_string())
                .filter(|user| !user.is_empty())
                .unwrap_or_else(|| "operator".to_string())),
        }
    }
}

/// What a maintenance window covers: exactly one of a server or a customer.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Scope {
    /// A server id from the configuration.
    #[arg(long)]
    pub server: Option<String>,
    /// A customer id from the configuration (all of its servers).
    #[arg(long)]
    pub customer: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_exit_status() {
        assert_eq!(CliError::Invalid("bad key".into()).exit_code(), 2);
        assert_eq!(CliError::Refused("no case FW-000009".into()).exit_code(), 1);
        assert_eq!(CliError::Reported.exit_code(), 1);
        assert_eq!(CliError::Failed(anyhow::anyhow!("database down")).exit_code(), 1);
    }
}
