//! The verbs an operator's tooling calls around a running instance: `healthcheck` (for
//! container health checks and scripts, on images without curl), `backup` (a consistent copy
//! of a live SQLite database) and `dead-letters list` (messages given up on, as the alert
//! runbook asks for). None of them needs the instance to be stopped.

use std::path::Path;
use std::time::Duration;

use super::output::{self, clean};
use super::CliError;
use crate::store;

/// How long `healthcheck` waits for an answer (a container's health check has its own timeout).
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// GET `url` (a `/readyz`): exit 0 when it answers 200, else print why and exit 1.
pub async fn healthcheck(url: &str) -> Result<(), CliError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| CliError::Invalid(format!("--url {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(CliError::Invalid(format!("--url {url:?}: must be http:// or https://")));
    }
    let client = reqwest::Client::builder()
        .timeout(HEALTHCHECK_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    let response = match client.get(parsed).send().await {
        Ok(response) => response,
        Err(error) => {
            sayln!("not ready: no answer from {url}: {error}");
            return Err(CliError::Reported);
        }
    };
    let status = response.status();
    // The body says why (`{"status":"unavailable","reasons":[…]}`); at most a line of it.
    let body = response.text().await.unwrap_or_default();
    let body: String = clean(&body).chars().take(300).collect();
    if status.is_success() {
        sayln!("ready: {url} answered {status}");
        Ok(())
    } else {
        sayln!("not ready: {url} answered {status}: {body}");
        Err(CliError::Reported)
    }
}

/// Copy the configured SQLite database to `to` while it runs, and say what the copy holds.
pub async fn backup(config: &Path, to: &Path) -> Result<(), CliError> {
    let config = super::service::load(config)?;
    match store::backup(config.database.url.expose(), to).await {
        Ok(report) => {
            let newest = report.newest_case.map(|id| crate::domain::CaseNumber(id).to_string());
            sayln!(
                "backed up to {} ({} bytes, checked): {} cases{}, {} server statuses",
                to.display(),
                report.bytes,
                report.cases,
                newest.map(|n| format!(" up to {n}")).unwrap_or_default(),
                report.servers
            );
            Ok(())
        }
        Err(error @ (store::BackupError::Postgres(_) | store::BackupError::NoFile | store::BackupError::Exists(_))) => {
            Err(CliError::Invalid(error.to_string()))
        }
        Err(error) => Err(CliError::Failed(error.into())),
    }
}

/// The messages given up on, newest first, with why.
pub async fn dead_letters(config: &Path, limit: u32) -> Result<(), CliError> {
    let config = super::service::load(config)?;
    let store = output::connect(&config).await?;
    let rows = store.dead_letters(i64::from(limit)).await?;
    let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
    if rows.is_empty() {
        sayln!("No dead letters: every message was delivered or is still being tried.");
        return Ok(());
    }
    let table = rows
        .iter()
        .map(|row| {
            vec![
                row.id.to_string(),
                row.case_id.map(|id| crate::domain::CaseNumber(id).to_string()).unwrap_or_else(|| "—".into()),
                clean(&row.event),
                format!("{} {}", clean(&row.recipient_kind), clean(&row.recipient_id)),
                clean(&row.channel),
                row.dead_at.map(|at| format!("{} ago", output::age(now, at))).unwrap_or_default(),
                row.attempts.to_string(),
                clean(row.last_error.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    say!(
        "{}",
        output::table(&["ID", "CASE", "EVENT", "RECIPIENT", "CHANNEL", "GAVE UP", "ATTEMPTS", "LAST ERROR"], table)
    );
    Ok(())
}
