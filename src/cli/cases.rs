//! `firstwatch cases list|show|ack|note|resolve|close`: straight against the configured
//! database (no running instance needed); cases change only through
//! [`CaseEngine::act`](crate::cases::CaseEngine::act).

use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;
use std::time::SystemTime;

use super::output::{age, clean, connect, indent, table};
use super::service::load;
use super::{Actor, CasesCommand, CliError};
use crate::app::App;
use crate::cases::{CaseError, CaseStatus, OperatorAction};
use crate::clock::{rfc3339_ms, unix_ms};
use crate::config::Config;
use crate::domain::CaseNumber;
use crate::store::{CaseRow, OutboxRow};

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
pub async fn cases(config_path: &Path, command: CasesCommand) -> Result<(), CliError> {
    match command {
        CasesCommand::List { status, limit } => list_cases(config_path, status, limit).await,
        CasesCommand::Show { id } => show_case(config_path, id).await,
        CasesCommand::Ack { id, actor } => {
            act(config_path, id, actor, OperatorAction::Acknowledge(crate::outbox::AckVia::Cli)).await
        }
        CasesCommand::Note { id, text, actor } => act(config_path, id, actor, OperatorAction::Note(text)).await,
        CasesCommand::Resolve { id, actor } => act(config_path, id, actor, OperatorAction::Resolve).await,
        CasesCommand::Close { id, actor } => act(config_path, id, actor, OperatorAction::Close).await,
    }
}

async fn list_cases(config_path: &Path, filter: StatusFilter, limit: u32) -> Result<(), CliError> {
    let config = load(config_path)?;
    let store = connect(&config).await?;
    let fetched = store.cases(&filter.statuses(), i64::from(limit) + 1).await;
    store.close().await;
    let mut cases = fetched?;
    if cases.is_empty() {
        sayln!("{}", filter.nothing());
        return Ok(());
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
    say!(
        "{}",
        table(&["CASE", "SEV", "STATUS", "CUSTOMER/SERVICE", "SERVER", "OPENED AT", "AGE", "ACKNOWLEDGED BY"], rows)
    );
    if truncated {
        sayln!("(the newest {limit} shown; use --limit for more)");
    }
    Ok(())
}

async fn show_case(config_path: &Path, number: CaseNumber) -> Result<(), CliError> {
    let config = load(config_path)?;
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
        return Err(CliError::Refused(CaseError::NotFound(number).to_string()));
    };
    let now = unix_ms(SystemTime::now());
    say!("{}", case_details(&config, &case, now));

    sayln!("\nTimeline");
    if timeline.is_empty() {
        sayln!("  (no events)");
    } else {
        let rows = timeline
            .iter()
            .map(|e| vec![rfc3339_ms(e.at), clean(e.kind.as_str()), clean(&e.actor), clean(&e.text)])
            .collect();
        say!("{}", indent(&table(&["AT", "KIND", "ACTOR", "TEXT"], rows)));
    }

    sayln!("\nNotifications");
    if outbox.is_empty() {
        sayln!("  (none)");
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
        say!("{}", indent(&table(&["AT", "EVENT", "RECIPIENT", "CHANNEL", "DELIVERY"], rows)));
    }
    Ok(())
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

async fn act(config_path: &Path, number: CaseNumber, actor: Actor, action: OperatorAction) -> Result<(), CliError> {
    let actor = actor.resolve()?;
    if let OperatorAction::Note(text) = &action {
        if text.trim().is_empty() {
            return Err(CliError::Invalid("the note is empty".to_string()));
        }
    }
    let config = load(config_path)?;
    let app = App::build(config).await?;
    let done = match &action {
        OperatorAction::Acknowledge(_) => "acknowledged",
        OperatorAction::Note(_) => "note added",
        OperatorAction::Resolve => "resolved",
        OperatorAction::Close => "closed",
    };
    let outcome = app.engine().act(number, &actor, action).await;
    app.store().close().await;
    match outcome {
        Ok(case) => {
            sayln!("{number} {done} by {}; status: {}", clean(&actor), case.status);
            Ok(())
        }
        Err(error @ (CaseError::NotFound(_) | CaseError::Illegal(_) | CaseError::Invalid(_))) => {
            Err(CliError::Refused(error.to_string()))
        }
        Err(CaseError::Store(error)) => Err(error.into()),
    }
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
