//! The operator verbs `firstwatch cases …` and `firstwatch maintenance …`: they work straight
//! against the configured database (no running instance needed), change cases only through
//! [`CaseEngine::act`](crate::cases::CaseEngine::act), and print for a person.
//!
//! Exit statuses: 0 done; 2 a refused configuration or argument (clap refuses unparsable case
//! numbers and times with 2 as well); 1 refused by the case life cycle, not found, or a
//! runtime failure. Messages for 1 and 2 go to stderr.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::app::App;
use crate::cases::{CaseError, CaseStatus, OperatorAction};
use crate::cli::{Actor, CasesCommand, MaintenanceCommand, Scope};
use crate::clock::{rfc3339_ms, unix_ms};
use crate::commands::{load, EXIT_CONFIG};
use crate::config::{Config, MaintenanceScope};
use crate::domain::CaseNumber;
use crate::store::{CaseRow, MaintenanceRow, OutboxRow, Store};

/// Exit status of a refused operation (life cycle, unknown case).
const EXIT_REFUSED: u8 = 1;
/// The longest maintenance reason accepted (as the API).
const MAX_REASON: usize = 500;

/// Which cases `cases list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Every case not resolved or closed.
    Active,
    All,
    Only(CaseStatus),
}

impl FromStr for StatusFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(StatusFilter::Active),
            "all" => Ok(StatusFilter::All),
            other => other.parse().map(StatusFilter::Only).map_err(|_| {
                let statuses: Vec<&str> = CaseStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown status {other:?}; use active, all, or one of {}", statuses.join(", "))
            }),
        }
    }
}

impl StatusFilter {
    fn statuses(self) -> Vec<CaseStatus> {
        match self {
            StatusFilter::Active => CaseStatus::active(),
            StatusFilter::All => Vec::new(),
            StatusFilter::Only(status) => vec![status],
        }
    }

    /// `no active cases`, `no cases`, `no resolved cases`.
    fn nothing(self) -> String {
        match self {
            StatusFilter::Active => "no active cases".to_string(),
            StatusFilter::All => "no cases".to_string(),
            StatusFilter::Only(status) => format!("no {status} cases"),
        }
    }
}

/// `firstwatch cases …`.
pub async fn cases(config_path: &Path, command: CasesCommand) -> anyhow::Result<ExitCode> {
    match command {
        CasesCommand::List { status, limit } => list_cases(config_path, status, limit).await,
        CasesCommand::Show { id } => show_case(config_path, id).await,
        CasesCommand::Ack { id, actor } => act(config_path, id, actor, OperatorAction::Acknowledge).await,
        CasesCommand::Note { id, text, actor } => act(config_path, id, actor, OperatorAction::Note(text)).await,
        CasesCommand::Resolve { id, actor } => act(config_path, id, actor, OperatorAction::Resolve).await,
        CasesCommand::Close { id, actor } => act(config_path, id, actor, OperatorAction::Close).await,
    }
}

/// `firstwatch maintenance …`.
pub async fn maintenance(config_path: &Path, command: MaintenanceCommand) -> anyhow::Result<ExitCode> {
    match command {
        MaintenanceCommand::List => list_maintenance(config_path).await,
        MaintenanceCommand::Add { scope, start, end, reason, actor } => {
            add_maintenance(config_path, scope, (start, end), reason, actor).await
        }
    }
}

async fn list_cases(config_path: &Path, filter: StatusFilter, limit: u32) -> anyhow::Result<ExitCode> {
    let config = match load(config_path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let store = connect(&config).await?;
    let fetched = store.cases(&filter.statuses(), i64::from(limit) + 1).await;
    store.close().await;
    let mut cases = fetched?;
    if cases.is_empty() {
        println!("{}", filter.nothing());
        return Ok(ExitCode::SUCCESS);
    }
    let truncated = cases.len() > limit as usize;
    cases.truncate(limit as usize);
    let now = unix_ms(SystemTime::now());
    let rows = cases
        .iter()
        .map(|c| {
            vec![
                CaseNumber(c.id).to_string(),
                c.severity.to_string(),
                c.status.to_string(),
                format!("{}/{}", c.customer, c.service),
                c.server.clone(),
                rfc3339_ms(c.opened_at),
                age(now, c.opened_at),
                c.acknowledged_by.clone().unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["CASE", "SEV", "STATUS", "CUSTOMER/SERVICE", "SERVER", "OPENED AT", "AGE", "ACKNOWLEDGED BY"], rows)
    );
    if truncated {
        println!("(the newest {limit} shown; use --limit for more)");
    }
    Ok(ExitCode::SUCCESS)
}

async fn show_case(config_path: &Path, number: CaseNumber) -> anyhow::Result<ExitCode> {
    let config = match load(config_path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let store = connect(&config).await?;
    let read = async {
        let Some(case) = store.case(number.0).await? else { return Ok(None) };
        let timeline = store.timeline(case.id).await?;
        let outbox = store.outbox(Some(case.id)).await?;
        Ok::<_, crate::store::StoreError>(Some((case, timeline, outbox)))
    }
    .await;
    store.close().await;
    let Some((case, timeline, outbox)) = read? else {
        eprintln!("error: {}", CaseError::NotFound(number));
        return Ok(ExitCode::from(EXIT_REFUSED));
    };
    let now = unix_ms(SystemTime::now());
    print!("{}", case_details(&config, &case, now));

    println!("\nTimeline");
    if timeline.is_empty() {
        println!("  (no events)");
    } else {
        let rows = timeline
            .iter()
            .map(|e| vec![rfc3339_ms(e.at), clean(e.kind.as_str()), clean(&e.actor), clean(&e.text)])
            .collect();
        print!("{}", indent(&table(&["AT", "KIND", "ACTOR", "TEXT"], rows)));
    }

    println!("\nNotifications");
    if outbox.is_empty() {
        println!("  (none)");
    } else {
        let rows = outbox
            .iter()
            .map(|m| {
                vec![
                    rfc3339_ms(m.created_at),
                    clean(&m.event),
                    format!("{}:{}", clean(&m.recipient_kind), clean(&m.recipient_id)),
                    clean(&m.channel),
                    delivery(m),
                ]
            })
            .collect();
        print!("{}", indent(&table(&["AT", "EVENT", "RECIPIENT", "CHANNEL", "DELIVERY"], rows)));
    }
    Ok(ExitCode::SUCCESS)
}

fn case_details(config: &Config, case: &CaseRow, now: i64) -> String {
    let customer = config.customers.iter().find(|c| c.id == case.customer);
    let service = customer.and_then(|c| c.services.iter().find(|s| s.id == case.service));
    let named = |id: &str, name: Option<&str>| match name {
        Some(name) if name != id => format!("{} ({})", clean(id), clean(name)),
        _ => clean(id),
    };
    let time = |at: Option<i64>| at.map(rfc3339_ms).unwrap_or_else(|| "-".to_string());
    let response = if case.sla_breached {
        "missed"
    } else if case.acknowledged_at.is_some() {
        "met"
    } else if now > case.response_due_at {
        "due, not yet acknowledged"
    } else {
        "pending"
    };
    let fields = [
        ("customer", named(&case.customer, customer.map(|c| c.name.as_str()))),
        ("service", named(&case.service, service.map(|s| s.name.as_str()))),
        ("server", clean(&case.server)),
        ("severity", case.severity.to_string()),
        ("status", clean(case.status.as_str())),
        ("opened at", format!("{} ({} ago)", rfc3339_ms(case.opened_at), age(now, case.opened_at))),
        ("updated at", rfc3339_ms(case.updated_at)),
        ("acknowledged at", time(case.acknowledged_at)),
        ("acknowledged by", case.acknowledged_by.as_deref().map(clean).unwrap_or_else(|| "-".to_string())),
        ("recovered at", time(case.recovered_at)),
        ("resolved at", time(case.resolved_at)),
        ("closed at", time(case.closed_at)),
        ("consecutive failures", case.consecutive_failures.to_string()),
        ("last error", case.last_error.as_deref().map(clean).unwrap_or_else(|| "-".to_string())),
        ("response due at", format!("{} ({response})", rfc3339_ms(case.response_due_at))),
    ];
    let mut out = format!("{}  Severity {}  {}\n", CaseNumber(case.id), case.severity, clean(case.status.as_str()));
    let width = fields.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    for (label, value) in fields {
        let _ = writeln!(out, "  {label:<width$}  {value}");
    }
    out
}

/// Where a message stands: delivered, dead, or pending with its attempts.
fn delivery(m: &OutboxRow) -> String {
    let attempts = match m.attempts {
        1 => "1 attempt".to_string(),
        n => format!("{n} attempts"),
    };
    let error = m.last_error.as_deref().map(|e| format!(": {}", clean(e))).unwrap_or_default();
    if let Some(at) = m.delivered_at {
        format!("delivered {} ({attempts})", rfc3339_ms(at))
    } else if let Some(at) = m.dead_at {
        format!("dead {} after {attempts}{error}", rfc3339_ms(at))
    } else {
        format!("pending, {attempts}, next {}{error}", rfc3339_ms(m.next_attempt_at))
    }
}

async fn act(config_path: &Path, number: CaseNumber, actor: Actor, action: OperatorAction) -> anyhow::Result<ExitCode> {
    let actor = match actor_name(actor) {
        Ok(actor) => actor,
        Err(code) => return Ok(code),
    };
    if let OperatorAction::Note(text) = &action {
        if text.trim().is_empty() {
            eprintln!("error: the note is empty");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    }
    let config = match load(config_path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let app = App::build(config).await?;
    let done = match &action {
        OperatorAction::Acknowledge => "acknowledged",
        OperatorAction::Note(_) => "note added",
        OperatorAction::Resolve => "resolved",
        OperatorAction::Close => "closed",
    };
    let outcome = app.engine().act(number, &actor, action).await;
    app.store().close().await;
    match outcome {
        Ok(case) => {
            println!("{number} {done} by {}; status: {}", clean(&actor), case.status);
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ (CaseError::NotFound(_) | CaseError::Illegal(_) | CaseError::Invalid(_))) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Err(CaseError::Store(error)) => Err(error.into()),
    }
}

async fn list_maintenance(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = match load(config_path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let store = connect(&config).await?;
    let stored = store.maintenance_windows().await;
    store.close().await;
    let stored = stored?;
    let now = unix_ms(SystemTime::now());
    let mut rows: Vec<Vec<String>> = config
        .maintenance
        .iter()
        .map(|w| {
            let scope = match &w.scope {
                MaintenanceScope::Server(id) => format!("server {id}"),
                MaintenanceScope::Customer(id) => format!("customer {id}"),
            };
            let (start, end) = (unix_ms(w.start), unix_ms(w.end));
            window_row(scope, start, end, now, w.reason.as_deref(), "config".to_string())
        })
        .collect();
    rows.extend(stored.iter().map(|w| {
        let scope = match (&w.server, &w.customer) {
            (Some(server), _) => format!("server {}", clean(server)),
            (None, Some(customer)) => format!("customer {}", clean(customer)),
            (None, None) => "-".to_string(),
        };
        let source = format!("#{} added by {} at {}", w.id, clean(&w.created_by), rfc3339_ms(w.created_at));
        window_row(scope, w.start_at, w.end_at, now, w.reason.as_deref(), source)
    }));
    if rows.is_empty() {
        println!("no maintenance windows");
    } else {
        print!("{}", table(&["SCOPE", "START", "END", "STATE", "REASON", "SOURCE"], rows));
    }
    Ok(ExitCode::SUCCESS)
}

fn window_row(scope: String, start: i64, end: i64, now: i64, reason: Option<&str>, source: String) -> Vec<String> {
    let state = if now < start {
        "upcoming"
    } else if now < end {
        "active"
    } else {
        "ended"
    };
    let reason = reason.map(clean).filter(|r| !r.trim().is_empty()).unwrap_or_else(|| "-".to_string());
    vec![scope, rfc3339_ms(start), rfc3339_ms(end), state.to_string(), reason, source]
}

async fn add_maintenance(
    config_path: &Path,
    scope: Scope,
    (start, end): (SystemTime, SystemTime),
    reason: Option<String>,
    actor: Actor,
) -> anyhow::Result<ExitCode> {
    let actor = match actor_name(actor) {
        Ok(actor) => actor,
        Err(code) => return Ok(code),
    };
    let refuse = |msg: String| {
        eprintln!("error: {msg}");
        Ok(ExitCode::from(EXIT_CONFIG))
    };
    let now = SystemTime::now();
    if start >= end {
        return refuse(format!(
            "the window must end after it starts (--start {}, --end {})",
            rfc3339_ms(unix_ms(start)),
            rfc3339_ms(unix_ms(end))
        ));
    }
    if end <= now {
        return refuse(format!("the window ended already (--end {} is in the past)", rfc3339_ms(unix_ms(end))));
    }
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON) {
        return refuse(format!("--reason: at most {MAX_REASON} characters"));
    }
    let config = match load(config_path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let (server, customer) = match (scope.server, scope.customer) {
        (Some(server), None) if config.fleet().any(|f| f.server.id == server) => (Some(server), None),
        (None, Some(customer)) if config.customers.iter().any(|c| c.id == customer) => (None, Some(customer)),
        (Some(server), None) => {
            return refuse(format!("unknown server {server:?}: it is not in {}", config_path.display()))
        }
        (None, Some(customer)) => {
            return refuse(format!("unknown customer {customer:?}: it is not in {}", config_path.display()))
        }
        _ => return refuse("give exactly one of --server or --customer".to_string()),
    };
    let scope_text = match (&server, &customer) {
        (Some(server), _) => format!("server {server}"),
        (_, Some(customer)) => format!("customer {customer}"),
        _ => String::new(),
    };
    let row = MaintenanceRow {
        id: 0,
        customer,
        server,
        start_at: unix_ms(start),
        end_at: unix_ms(end),
        reason,
        created_by: actor,
        created_at: unix_ms(now),
    };
    let store = connect(&config).await?;
    let added = store.add_maintenance(&row).await;
    store.close().await;
    let id = added?;
    println!(
        "maintenance window #{id} added: {scope_text} from {} to {}",
        rfc3339_ms(row.start_at),
        rfc3339_ms(row.end_at)
    );
    Ok(ExitCode::SUCCESS)
}

/// `--as NAME`, else `$USER`, else `operator`; an empty `--as` is refused.
fn actor_name(actor: Actor) -> Result<String, ExitCode> {
    match actor.name {
        Some(name) if name.trim().is_empty() => {
            eprintln!("error: --as needs a name");
            Err(ExitCode::from(EXIT_CONFIG))
        }
        Some(name) => Ok(name.trim().to_string()),
        None => Ok(std::env::var("USER")
            .ok()
            .map(|user| user.trim().to_string())
            .filter(|user| !user.is_empty())
            .unwrap_or_else(|| "operator".to_string())),
    }
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    use anyhow::Context as _;
    Store::connect(config.database.url.expose()).await.context("opening the database")
}

/// How long ago `since` was, to the second: `3h 2m 5s`.
fn age(now: i64, since: i64) -> String {
    let seconds = u64::try_from((now - since) / 1000).unwrap_or(0);
    humantime::format_duration(Duration::from_secs(seconds)).to_string()
}

/// Text from the database as one safe terminal line: control characters (escape sequences,
/// newlines) become spaces.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// Columns padded to their widest cell; the last column is not padded.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                let pad = width.saturating_sub(cell.chars().count());
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_parse_the_keywords_and_every_status() {
        assert_eq!("active".parse(), Ok(StatusFilter::Active));
        assert_eq!("all".parse(), Ok(StatusFilter::All));
        assert_eq!("in_progress".parse(), Ok(StatusFilter::Only(CaseStatus::InProgress)));
        assert!("bogus".parse::<StatusFilter>().is_err_and(|e| e.contains("active, all, or one of open")));
        assert_eq!(StatusFilter::Active.statuses().len(), 5);
    }

    #[test]
    fn tables_align_columns_and_text_is_made_terminal_safe() {
        let out = table(&["A", "LONG"], vec![vec!["wide cell".into(), "x".into()]]);
        assert_eq!(out, "A          LONG\nwide cell  x\n");
        assert_eq!(clean("a\nb\u{1b}[31m"), "a b [31m");
        assert_eq!(age(61_500, 0), "1m 1s");
        assert_eq!(age(0, 5_000), "0s", "a clock behind the database is not negative");
    }
}
