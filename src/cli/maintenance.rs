//! `firstwatch maintenance list|add`: windows from the config file and stored ones; adding
//! one validates it like the API and stores it for every instance.

use std::path::Path;
use std::time::SystemTime;

use super::output::{clean, connect, table};
use super::service::load;
use super::{CliError, MaintenanceCommand, Scope};
use crate::cli::Actor;
use crate::clock::{rfc3339_ms, unix_ms};
use crate::config::MaintenanceScope;
use crate::store::MaintenanceRow;

/// The longest maintenance reason accepted (as the API).
const MAX_REASON: usize = 500;

/// `firstwatch maintenance …`.
pub async fn maintenance(config_path: &Path, command: MaintenanceCommand) -> Result<(), CliError> {
    match command {
        MaintenanceCommand::List => list_maintenance(config_path).await,
        MaintenanceCommand::Add { scope, start, end, reason, actor } => {
            add_maintenance(config_path, scope, (start, end), reason, actor).await
        }
    }
}

async fn list_maintenance(config_path: &Path) -> Result<(), CliError> {
    let config = load(config_path)?;
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
        sayln!("no maintenance windows");
    } else {
        say!("{}", table(&["SCOPE", "START", "END", "STATE", "REASON", "SOURCE"], rows));
    }
    Ok(())
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
) -> Result<(), CliError> {
    let actor = actor.resolve()?;
    let refuse = |msg: String| Err(CliError::Invalid(msg));
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
    let config = load(config_path)?;
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
    sayln!(
        "maintenance window #{id} added: {scope_text} from {} to {}",
        rfc3339_ms(row.start_at),
        rfc3339_ms(row.end_at)
    );
    Ok(())
}
