//! `GET /status/{customer}`: one customer's own status page: its services with 90-day bars,
//! its servers, and its open and recent cases with their public timeline (opened, updates,
//! notes, recovery, resolution; never delivery, escalation or SLA internals).
//!
//! Access (PRODUCT.md section 10): `Authorization: Bearer <status_token>`, `?token=…` (the
//! links in notices), or the `fw_status` cookie that a good `?token=` sets
//! (`HttpOnly; SameSite=Lax; Path=/status/{customer}`) before redirecting to the same page
//! without the token in the address. No token: 401. A wrong token, a customer without a
//! status token and an unknown customer all get the same 403, so customer ids cannot be
//! probed. Nothing here links to operator pages or names another customer.

use crate::domain::TimelineKind;
use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{HeaderValue, SET_COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, Nav};
use super::summary::{Row, Rows, Summary};
use super::{html_response, page_number, see_other, uptime, PageError, PAGE_ROWS};
use crate::config::constant_time_eq;
use crate::config::Customer;
use crate::domain::{CaseNumber, ServerState};
use crate::store::CaseEventRow;
use crate::web::cookies::{clear_cookie, cookie, set_cookie};
use crate::web::credential::bearer;
use crate::web::AppState;

const STATUS_COOKIE: &str = "fw_status";

/// Resolved and closed cases stay on the page this long.
const RECENT_MS: i64 = 30 * 86_400_000;
const CASE_LIMIT: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    pub token: Option<String>,
    pub page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Query,
    Header,
    Cookie,
}

pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let presented = match (query.token.as_deref().map(str::trim).filter(|t| !t.is_empty()), bearer(&headers)) {
        (Some(token), _) => Some((token.to_string(), Source::Query)),
        (None, Some(token)) => Some((token.to_string(), Source::Header)),
        (None, None) => cookie(&headers, STATUS_COOKIE).filter(|t| !t.is_empty()).map(|t| (t, Source::Cookie)),
    };
    let Some((token, source)) = presented else {
        return Ok(refused(&state, &id, StatusCode::UNAUTHORIZED, false));
    };
    let config = state.config();
    let customer = config.customers.iter().find(|c| c.id == id);
    let expected = customer.and_then(|c| c.status_token.as_ref()).map(|t| t.expose());
    // Compare even when there is nothing to compare with, so the answer takes as long.
    let good = match expected {
        Some(expected) => constant_time_eq(expected.as_bytes(), token.as_bytes()),
        None => !constant_time_eq(token.as_bytes(), token.as_bytes()),
    };
    let customer = match customer {
        Some(customer) if good => customer,
        _ => return Ok(refused(&state, &id, StatusCode::FORBIDDEN, source == Source::Cookie)),
    };
    let path = format!("/status/{}", customer.id);
    if source == Source::Query {
        let target = match query.page.as_deref() {
            Some(p) => format!("{path}?page={}", page_number(Some(p))),
            None => path.clone(),
        };
        return Ok(see_other(&target, Some(set_cookie(&state, STATUS_COOKIE, &token, "Lax", &path))));
    }
    render(&state, customer, page_number(query.page.as_deref())).await
}

/// The 401 and 403 pages: the same for every customer id, known or not, with a field to
/// enter a token. `forget` also removes a cookie that no longer works.
fn refused(state: &AppState, id: &str, status: StatusCode, forget: bool) -> Response {
    let body = html! {
        @if status == StatusCode::UNAUTHORIZED {
            h1 { "Status page" }
            p { "This page needs the access link from your notifications, or its status token." }
        } @else {
            h1 { "Access denied" }
            p.error { "This status link is not valid. Use the link from your latest notification, or ask your support contact for a new one." }
        }
        form method="get" action={ "/status/" (super::form::encode(id)) } {
            label for="token" { "Status token " }
            input #token type="password" name="token" autocomplete="off" required;
            " "
            button type="submit" { "Open" }
        }
    };
    let title = if status == StatusCode::UNAUTHORIZED { "Status page" } else { "Access denied" };
    let mut response = html_response(status, layout::page(title, Nav::None, false, body));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"status\""));
    }
    if forget {
        let path = format!("/status/{}", super::form::encode(id));
        if let Ok(value) = HeaderValue::from_str(&clear_cookie(state, STATUS_COOKIE, "Lax", &path)) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
    }
    response
}

async fn render(state: &AppState, customer: &Customer, page: usize) -> Result<Response, PageError> {
    let now = state.clock.now_ms();
    let fleet = state.fleet();
    let summary = Summary::of(&fleet, Some(&customer.id), Rows::All);
    let bars = uptime::bars(state).await?;
    let cases = state.store.customer_cases(&customer.id, now - RECENT_MS, CASE_LIMIT).await?;
    let ids: Vec<i64> = cases.iter().map(|c| c.id).collect();
    let mut timelines: HashMap<i64, Vec<CaseEventRow>> = HashMap::new();
    for event in state.store.events_of(&ids, &TimelineKind::public()).await? {
        timelines.entry(event.case_id).or_default().push(event);
    }
    let troubled = summary.totals.get(ServerState::Down) + summary.totals.get(ServerState::Failing);
    let open_cases = cases.iter().filter(|c| !matches!(c.status.as_str(), "resolved" | "closed")).count();

    let pages = layout::page_count(summary.rows.len(), PAGE_ROWS);
    let page = page.min(pages);
    let rows: Vec<&Row<'_>> = summary.rows.iter().skip((page - 1) * PAGE_ROWS).take(PAGE_ROWS).collect();
    let path = format!("/status/{}", customer.id);

    let body = html! {
        h1 { (customer.name) " — service status" }
        p.muted { "Updated " (layout::time(now, now)) "; this page refreshes every 30 s. Times are UTC." }
        @if troubled == 0 && open_cases == 0 {
            p.ok #overall data-state="ok" { "All systems operational." }
        } @else {
            div.banner #overall data-state="problem" {
                @if troubled > 0 { (troubled) " of " (summary.totals.total()) " servers have problems. " }
                @if open_cases > 0 { (open_cases) " open case(s); our engineers are on it." }
            }
        }
        section #services {
            h2 { "Services" }
            @for service in &customer.services {
                div.service data-service=(service.id) {
                    strong { (service.name) }
                    (layout::state_counts(&summary.service(&customer.id, &service.id)))
                    (layout::uptime_bar(bars.first_day, &bars.service(&customer.id, &service.id)))
                }
            }
        }
        (cases_section(now, &cases, &timelines))
        section #servers data-page=(page) data-pages=(pages) {
            h2 { "Servers (" (summary.rows.len()) ")" }
            (layout::server_table(now, &rows, false))
            (layout::pagination(page, pages, |p| format!("{path}?page={p}")))
        }
    };
    let title = format!("{} — status", customer.name);
    Ok(html_response(StatusCode::OK, layout::page(&title, Nav::None, true, body)))
}

fn cases_section(now: i64, cases: &[crate::store::CaseRow], timelines: &HashMap<i64, Vec<CaseEventRow>>) -> Markup {
    html! {
        section #cases {
            h2 { "Cases" }
            @if cases.is_empty() {
                p.muted { "No cases in the last 30 days." }
            } @else {
                div.scroll {
                    table {
                        thead { tr {
                            th { "Case" } th { "Severity" } th { "Status" } th { "Service" } th { "Server" }
                            th { "Opened" } th { "Resolved" }
                        } }
                        tbody {
                            @for case in cases {
                                @let number = CaseNumber(case.id).to_string();
                                tr.case data-case=(number) data-severity=(case.severity) data-status=(case.status) {
                                    td.nowrap { a href={ "#updates-" (number) } { (number) } }
                                    td { (layout::severity_badge(case.severity)) }
                                    td { (case.status) }
                                    td { (case.service) }
                                    td { (case.server) }
                                    td { (layout::time(now, case.opened_at)) }
                                    td { (layout::time_opt(now, case.resolved_at)) }
                                }
                            }
                        }
                    }
                }
                @for case in cases {
                    @let number = CaseNumber(case.id).to_string();
                    div.card.case-updates id={ "updates-" (number) } data-case=(number) {
                        h3 { (number) " — " (case.service) }
                        ol.updates reversed {
                            @for event in timelines.get(&case.id).into_iter().flatten().rev() {
                                li.event data-kind=(event.kind) {
                                    span.muted { (layout::time(now, event.at)) } " " (event.text)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
