//! `GET /`: the operations overview. Header counts (servers by state, open cases by severity),
//! a banner while the monitor suspects its own network, the open cases with their latest
//! update, the servers that are not `up` (at most [`PAGE_ROWS`]), and every customer's
//! services with per-state counts and 90-day uptime bars (customers paginated).
//!
//! `/?customer=acme&page=2` focuses on one customer and lists all its servers, 200 a page.
//! Built from the fleet's per-service counts, the few rows it shows and a fixed number of
//! queries, so a render stays in single milliseconds with a million servers.

use crate::domain::TimelineKind;
use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::cache::Lookup;
use super::layout::{self, Nav};
use super::summary::{Counts, Row, Rows, Summary, WORST_FIRST};
use super::uptime::{self, Bars};
use super::{html_response, page_number, PageError, PAGE_ROWS};
use crate::config::detection::Detection;
use crate::config::Customer;
use crate::domain::{CaseNumber, Severity};
use crate::store::{CaseEventRow, CaseRow};
use crate::web::api::oncall::{PersonRef, RoleTurn};
use crate::web::credential::Credential;
use crate::web::AppState;

/// Customers shown per page of the customers section.
const CUSTOMERS_PER_PAGE: usize = 25;
/// Open cases read and shown at most.
const CASE_LIMIT: i64 = 500;
const CASE_ROWS: usize = 200;
/// How long a request waits for a fresh render before it is served the last one.
const WAIT_FOR_RENDER: std::time::Duration = std::time::Duration::from_millis(15);

#[derive(Debug, Deserialize)]
pub struct OpsQuery {
    /// Focus on one customer: all of its servers, paginated.
    pub customer: Option<String>,
    /// Page of the server list (with `customer`).
    pub page: Option<String>,
    /// Page of the customers section.
    pub customers_page: Option<String>,
}

pub async fn page(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    uri: Uri,
    query: Result<Query<OpsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(query) = query.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let signed_in = who.session;
    let key = format!("{signed_in}?{}", uri.query().unwrap_or(""));
    match state.pages.lookup(&key) {
        Some(Lookup::Fresh(html)) => return Ok(html_response(StatusCode::OK, PreEscaped(html))),
        Some(Lookup::Stale { html, renew }) => {
            if renew {
                let state = state.clone();
                let rendering = tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let fresh = render(&state, signed_in, &query).await;
                    tracing::debug!(took_ms = started.elapsed().as_secs_f64() * 1000.0, "operations page rendered");
                    match &fresh {
                        Ok(fresh) => state.pages.keep(key, fresh.clone()),
                        Err(error) => tracing::warn!(?error, "cannot render the operations page"),
                    }
                    fresh
                });
                // A render that is quick (most fleets) is waited for; a slow one (a million
                // servers) goes on in the background while the page of the last render is served.
                if let Ok(Ok(Ok(fresh))) = tokio::time::timeout(WAIT_FOR_RENDER, rendering).await {
                    return Ok(html_response(StatusCode::OK, PreEscaped(fresh)));
                }
            }
            return Ok(html_response(StatusCode::OK, PreEscaped(html)));
        }
        None => {}
    }
    let html = render(&state, signed_in, &query).await?;
    state.pages.keep(key, html.clone());
    Ok(html_response(StatusCode::OK, PreEscaped(html)))
}

/// The operations page for `query`, as HTML.
async fn render(state: &AppState, signed_in: bool, query: &OpsQuery) -> Result<String, PageError> {
    let now = state.clock.now_ms();
    let (config, fleet) = (state.config(), state.fleet());
    let focus = match query.customer.as_deref() {
        Some(id) => Some(
            config
                .customers
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| PageError::NotFound(format!("no customer {id:?}")))?,
        ),
        None => None,
    };

    let degraded = state.store.flag("guard_degraded").await?;
    let leases = state.store.lease_table().await?;
    let ownership = &state.ownership;
    let mut case_counts: HashMap<Severity, i64> = state.store.open_case_counts().await?.into_iter().collect();
    let mut cases = match focus {
        // Active cases only: none has changed after the end of time.
        Some(customer) => state.store.customer_cases(&customer.id, i64::MAX, CASE_LIMIT).await?,
        None => state.store.cases(&crate::domain::CaseStatus::active(), CASE_LIMIT).await?,
    };
    if focus.is_some() {
        case_counts.clear();
        for case in &cases {
            *case_counts.entry(case.severity).or_default() += 1;
        }
    }
    cases.sort_by_key(|c| (c.severity, c.opened_at, c.id));
    let cases_total = cases.len();
    cases.truncate(CASE_ROWS);
    let ids: Vec<i64> = cases.iter().map(|c| c.id).collect();
    let latest: HashMap<i64, CaseEventRow> = state
        .store
        .latest_events(&ids, &[TimelineKind::Delivered])
        .await?
        .into_iter()
        .map(|e| (e.case_id, e))
        .collect();

    let summary = Summary::of(
        &fleet,
        focus.map(|c| c.id.as_str()),
        if focus.is_some() { Rows::All } else { Rows::WorstFirst(PAGE_ROWS) },
    );
    let bars = uptime::bars(state).await?;
    let stored: Vec<_> = state.store.oncall_overrides(now).await?.iter().map(|r| r.as_override()).collect();
    let turns = crate::web::api::oncall::turns(&config, &stored, now);
    let unverified = state.store.paging_unverified_people().await?;

    let customers: Vec<&Customer> = match focus {
        Some(c) => vec![c],
        None => config.customers.iter().map(|c| &**c).collect(),
    };
    let customer_pages = layout::page_count(customers.len(), CUSTOMERS_PER_PAGE);
    let customers_page = page_number(query.customers_page.as_deref()).min(customer_pages);
    let shown_customers =
        customers.iter().skip((customers_page - 1) * CUSTOMERS_PER_PAGE).take(CUSTOMERS_PER_PAGE).copied();

    let title = match focus {
        Some(c) => format!("{} — firstwatch", c.name),
        None => "Operations — firstwatch".to_string(),
    };
    let body = html! {
        h1 {
            @match focus {
                Some(c) => { (c.name) " " span.muted { "(" (c.id) ")" } },
                None => { "Operations" },
            }
        }
        p.muted { "Updated " (layout::time(now, now)) "; this page refreshes every 30 s." }
        p.muted #cluster {
            "Instance " code { (ownership.instance()) } " probes " (ownership.shards_owned()) " of 256 shards"
            @if ownership.is_leader() { " and leads" }
            @else if let Some(leader) = &leases.leader { "; the leader is " code { (leader) } }
            @if leases.instances.len() > 1 { " (" (leases.instances.len()) " instances)" }
            "."
        }
        @if let Some((reason, since)) = &degraded {
            div #monitor-degraded .banner role="alert" {
                strong { "Monitor degraded" } " since " (layout::time(now, *since)) ": " (reason)
                ". No customer cases are opened until its own network is healthy again."
            }
        }
        (header_counts(&summary.totals, &case_counts))
        (open_cases(now, &cases, cases_total, &latest))
        @if focus.is_none() { (on_call(now, &turns, &unverified)) }
        @match focus {
            Some(customer) => (all_servers(now, &summary.rows, &customer.id, page_number(query.page.as_deref()))),
            None => (problem_servers(now, &summary.rows, summary.totals.not_up(), summary.totals.total())),
        }
        section #customers {
            h2 { "Customers" }
            @for customer in shown_customers {
                (customer_card(customer, &summary, &bars, focus.is_none(), &config.escalation))
            }
            (layout::pagination(customers_page, customer_pages, |p| format!("/?customers_page={p}")))
        }
    };
    let nav = Nav::Operator { signed_in };
    Ok(layout::page(&title, nav, true, body).into_string())
}

fn header_counts(servers: &Counts, cases: &HashMap<Severity, i64>) -> Markup {
    html! {
        section #summary {
            div.counts #server-counts {
                span.count data-state="total" data-count=(servers.total()) { "servers " strong { (servers.total()) } }
                @for state in WORST_FIRST {
                    span.count data-state=(state.as_str()) data-count=(servers.get(state)) {
                        (layout::state_badge(state)) " " (servers.get(state))
                    }
                }
            }
            div.counts #case-counts {
                @let open: i64 = cases.values().sum();
                span.count data-severity="total" data-count=(open) { "open cases " strong { (open) } }
                @for severity in Severity::ALL {
                    @let n = cases.get(&severity).copied().unwrap_or(0);
                    span.count data-severity=(severity) data-count=(n) { (layout::severity_badge(severity)) " " (n) }
                }
            }
        }
    }
}

fn open_cases(now: i64, cases: &[CaseRow], total: usize, latest: &HashMap<i64, CaseEventRow>) -> Markup {
    html! {
        section #open-cases {
            h2 { "Open cases (" (total) ")" }
            @if cases.is_empty() {
                p.ok { "No open cases." }
            } @else {
                div.scroll {
                    table {
                        thead { tr {
                            th { "Case" } th { "Severity" } th { "Status" } th { "Customer / service" } th { "Server" }
                            th { "Age" } th.hide-narrow { "Acknowledged by" } th { "Latest" }
                        } }
                        tbody {
                            @for case in cases {
                                @let number = CaseNumber(case.id).to_string();
                                tr.case data-case=(number) data-severity=(case.severity) data-status=(case.status) {
                                    td.nowrap { a href={ "/cases/" (number) } { (number) } }
                                    td { (layout::severity_badge(case.severity)) }
                                    td { (case.status) }
                                    td { (case.customer) " / " (case.service) }
                                    td.nowrap { (case.server) }
                                    td.nowrap { span title=(crate::clock::rfc3339_ms(case.opened_at)) { (layout::span(now - case.opened_at)) } }
                                    td.hide-narrow { (case.acknowledged_by.as_deref().unwrap_or("—")) }
                                    td.latest {
                                        @if let Some(event) = latest.get(&case.id) {
                                            (event.text) " " span.muted { (layout::time(now, event.at)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if total > cases.len() {
                    p.muted { "Showing the " (cases.len()) " most severe of " (total) " open cases." }
                }
            }
        }
    }
}

/// Who holds each pager now, until when, and who is next; whose paging path is unproven.
fn on_call(now: i64, turns: &[RoleTurn], unverified: &[(String, i64)]) -> Markup {
    let names = |people: &[PersonRef]| people.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
    html! {
        section #on-call {
            h2 { "On call" }
            @if turns.is_empty() {
                p.muted { "Nobody is configured to be paged: add [[people]] and [[schedules]]." }
            } @else {
                table {
                    thead { tr { th { "Role" } th { "Now" } th { "Until" } th { "Next" } } }
                    tbody {
                        @for turn in turns {
                            tr.oncall data-role=(turn.role) data-now=[turn.now.as_ref().map(|p| p.id.as_str())] {
                                td { (turn.role) }
                                td {
                                    @if turn.paged.is_empty() { span.error { "nobody" } } @else { (names(&turn.paged)) }
                                    @if turn.overridden { " " span.muted { "(override)" } }
                                }
                                td.nowrap {
                                    @match turn.until.as_deref().and_then(|u| crate::clock::parse_rfc3339(u).ok()) {
                                        Some(until) => (layout::time(now, crate::clock::unix_ms(until))),
                                        None => "—",
                                    }
                                }
                                td { @match &turn.next { Some(p) => (p.name), None => "—" } }
                            }
                        }
                    }
                }
            }
            @for (person, sent) in unverified {
                p.error.unverified data-person=(person) {
                    "Paging path unverified: " strong { (person) } " did not confirm the test page of "
                    (layout::time(now, *sent)) ". Check their channels, then "
                    code { "firstwatch notify test --person " (person) } "."
                }
            }
        }
    }
}

/// The servers that are not up, worst first, at most [`PAGE_ROWS`].
/// The first of the `not_up` servers (`rows`, worst first) on the operations page.
fn problem_servers(now: i64, rows: &[Row<'_>], not_up: usize, total: usize) -> Markup {
    let shown: Vec<&Row<'_>> = rows.iter().take(PAGE_ROWS).collect();
    html! {
        section #servers {
            h2 { "Servers needing attention (" (not_up) ")" }
            @if rows.is_empty() {
                p.ok { "All " (total) " servers are up." }
            } @else {
                (layout::server_table(now, &shown, true))
                @if not_up > shown.len() {
                    p.muted #more-servers {
                        (not_up - shown.len()) " more not shown; open a customer below to see all of its servers."
                    }
                }
            }
        }
    }
}

/// Every server of one customer, worst first, [`PAGE_ROWS`] a page.
fn all_servers(now: i64, rows: &[Row<'_>], customer: &str, page: usize) -> Markup {
    let pages = layout::page_count(rows.len(), PAGE_ROWS);
    let page = page.min(pages);
    let shown: Vec<&Row<'_>> = rows.iter().skip((page - 1) * PAGE_ROWS).take(PAGE_ROWS).collect();
    html! {
        section #servers data-page=(page) data-pages=(pages) {
            h2 { "Servers (" (rows.len()) ")" }
            (layout::server_table(now, &shown, false))
            (layout::pagination(page, pages, |p| format!("/?customer={}&page={p}", super::form::encode(customer))))
        }
    }
}

fn customer_card(
    customer: &Customer,
    summary: &Summary<'_>,
    bars: &Bars,
    link: bool,
    escalation: &[crate::config::EscalationLevel],
) -> Markup {
    let counts = summary.customer(&customer.id);
    html! {
        div.customer data-customer=(customer.id) {
            h3 {
                (customer.name)
                @if customer.name != customer.id { " " span.muted { "(" (customer.id) ")" } }
            }
            @if link {
                a.all-servers href={ "/?customer=" (super::form::encode(&customer.id)) } {
                    "all " (counts.total()) " servers"
                }
                @if counts.not_up() > 0 { " — " strong { (counts.not_up()) " not up" } }
            }
            @for service in &customer.services {
                div.service data-service=(service.id) {
                    strong { (service.name) }
                    (layout::state_counts(&summary.service(&customer.id, &service.id)))
                    (layout::uptime_bar(bars.first_day, &bars.service(&customer.id, &service.id)))
                    @if let Some(d) = Detection::slowest(service.servers.iter().map(|s| &*s.probe), escalation) {
                        details.detection {
                            summary.muted {
                                "outage confirmed within " (humantime::format_duration(d.confirmed))
                                @if let Some((at, _)) = &d.paged { ", paged within " (humantime::format_duration(*at)) }
                                " of the first failed request"
                            }
                            p.muted { (d) }
                        }
                    }
                }
            }
        }
    }
}
