//! The human-readable sentences of timeline events and notifications, in one place so their
//! tone stays consistent. Pure string building.

use crate::clock::rfc3339_ms;
use crate::domain::CaseNumber;
use crate::domain::Severity;
use crate::store::CaseRow;

pub fn severity_name(severity: Severity) -> String {
    format!("Severity {severity}")
}

pub fn opened(case: &CaseRow, failures: u32, error: &str) -> String {
    format!(
        "{} opened, {}: {} of {} ({}) is down since {} after {failures} failed status requests in a row (last error: {error}).",
        CaseNumber(case.id),
        severity_name(case.severity),
        case.service,
        case.customer,
        case.server,
        rfc3339_ms(case.opened_at),
    )
}

pub fn customer_notice(case: &CaseRow, error: &str) -> String {
    format!(
        "We have detected an outage of your service {} (server {}) and opened case {} with {}. \
         Our engineers are being notified now. Last error seen: {error}. We will keep you updated until it is resolved.",
        case.service,
        case.server,
        CaseNumber(case.id),
        severity_name(case.severity),
    )
}

pub fn reopened(case: &CaseRow, server: &str, error: &str) -> String {
    format!("{} reopened: {server} of {} is down again (last error: {error}).", CaseNumber(case.id), case.service)
}

pub fn server_down(server: &str, failures: u32, error: &str) -> String {
    format!("{server} is down too: {failures} failed status requests in a row (last error: {error}).")
}

pub fn raised(case: &CaseRow) -> String {
    format!("{} raised to Severity 1: no server of {} is serving any more.", CaseNumber(case.id), case.service)
}

pub fn server_recovered(server: &str, successes: u32) -> String {
    format!("{server} answers again ({successes} successful status requests in a row).")
}

pub fn recovered(case: &CaseRow) -> String {
    format!("{} is back: every server of {} answers again ({}).", case.service, case.customer, CaseNumber(case.id))
}

pub fn resolved(case: &CaseRow, actor: &str) -> String {
    format!("{} resolved by {actor}.", CaseNumber(case.id))
}
