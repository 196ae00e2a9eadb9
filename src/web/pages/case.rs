//! `GET /cases/{id}`: one case for operators: its facts, the full timeline, every notification
//! queued for it (delivered, pending or dead), and the action forms. The forms post to
//! `/cases/{id}/ack | resolve | close | notes` (form-encoded, an operator's session, same-origin; the actor is the signed-in name),
//! which act through the case engine like the API and the CLI, then redirect back (303). A
//! refused action shows the page again with the reason (409; 400 for bad input).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};

use super::form::{encode, Form};
use super::layout::{self, Nav};
use super::session::SameOrigin;
use super::{html_response, see_other, PageError};
use crate::cases::{CaseError, OperatorAction};
use crate::clock::rfc3339_ms;
use crate::domain::CaseNumber;
use crate::store::{CaseRow, OutboxRow};
use crate::web::credential::{Credential, Role};
use crate::web::AppState;

/// What went wrong with a form, shown above the forms, and what the operator had typed.
struct Refusal<'a> {
    status: StatusCode,
    message: String,
    note: Option<&'a str>,
}

fn number(id: &str) -> Result<CaseNumber, PageError> {
    id.parse().map_err(PageError::BadRequest)
}

pub async fn page(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    render(&state, &who, number(&id)?, None).await
}

async fn render(
    state: &AppState,
    who: &Credential,
    n: CaseNumber,
    refusal: Option<Refusal<'_>>,
) -> Result<Response, PageError> {
    let case = state.store.case(n.0).await?.ok_or_else(|| PageError::NotFound(format!("no case {n}")))?;
    let timeline = state.store.timeline(case.id).await?;
    let outbox = state.store.outbox(Some(case.id)).await?;
    let now = state.clock.now_ms();
    let number = n.to_string();
    let body = html! {
        h1 { (number) " " (layout::severity_badge(case.severity)) " " span.badge #case-status data-status=(case.status) { (case.status) } }
        (facts(now, &case))
        @if who.role == Role::Operator {
            section #actions {
                h2 { "Actions" }
                p.muted { "Acting as " strong #acting-as { (who.name) } "." }
                @if let Some(refusal) = &refusal {
                    p.error role="alert" { (refusal.message) }
                }
                (action_form(&number, "ack", "Acknowledge"))
                (action_form(&number, "resolve", "Resolve"))
                (action_form(&number, "close", "Close"))
                form.action-note method="post" action={ "/cases/" (number) "/notes" } {
                    label for="note-text" { "Note (customers see notes as updates)" }
                    textarea #note-text name="text" maxlength="4000" required {
                        (refusal.as_ref().and_then(|r| r.note).unwrap_or(""))
                    }
                    button #add-note type="submit" { "Add note" }
                }
            }
        } @else {
            p.muted #read-only { "Signed in as " (who.name) " (viewer): this page is read only." }
        }
        section #timeline-section {
            h2 { "Timeline" }
            div.scroll {
                table #timeline {
                    thead { tr { th { "At" } th { "Kind" } th { "Actor" } th { "Text" } } }
                    tbody {
                        @for event in &timeline {
                            tr.event data-kind=(event.kind) {
                                td.nowrap { (layout::time(now, event.at)) }
                                td { (event.kind) }
                                td { (event.actor) }
                                td { (event.text) }
                            }
                        }
                    }
                }
            }
        }
        (notifications(now, &outbox))
    };
    let page = layout::page(&format!("{number} — firstwatch"), Nav::Operator { signed_in: who.session }, false, body);
    Ok(html_response(refusal.map_or(StatusCode::OK, |r| r.status), page))
}

fn facts(now: i64, case: &CaseRow) -> Markup {
    html! {
        dl.facts #facts {
            dt { "Customer" } dd data-fact="customer" { (case.customer) }
            dt { "Service" } dd data-fact="service" { (case.service) }
            dt { "Server" } dd data-fact="server" { (case.server) }
            dt { "Severity" } dd data-fact="severity" { (case.severity) }
            dt { "Status" } dd data-fact="status" { (case.status) }
            dt { "Opened" } dd data-fact="opened_at" { (layout::time(now, case.opened_at)) " (" (rfc3339_ms(case.opened_at)) ")" }
            dt { "Acknowledged" } dd data-fact="acknowledged" {
                (layout::time_opt(now, case.acknowledged_at))
                @if let Some(by) = &case.acknowledged_by { " by " (by) }
            }
            dt { "Response due" } dd data-fact="response_due_at" {
                (layout::time(now, case.response_due_at))
                @if case.sla_breached { " " span.error { "missed" } }
            }
            dt { "Recovered" } dd data-fact="recovered_at" { (layout::time_opt(now, case.recovered_at)) }
            dt { "Resolved" } dd data-fact="resolved_at" { (layout::time_opt(now, case.resolved_at)) }
            dt { "Closed" } dd data-fact="closed_at" { (layout::time_opt(now, case.closed_at)) }
            dt { "Failures in a row" } dd data-fact="consecutive_failures" { (case.consecutive_failures) }
            dt { "Last error" } dd data-fact="last_error" { (case.last_error.as_deref().unwrap_or("—")) }
        }
    }
}

/// `form.action-<action>` with `button#<action>`.
fn action_form(number: &str, action: &str, label: &str) -> Markup {
    html! {
        form class={ "action-" (action) } method="post" action={ "/cases/" (number) "/" (action) } {
            button id=(action) type="submit" { (label) }
        }
    }
}

fn notifications(now: i64, outbox: &[OutboxRow]) -> Markup {
    html! {
        section #notifications {
            h2 { "Notifications (" (outbox.len()) ")" }
            @if outbox.is_empty() {
                p.muted { "None." }
            } @else {
                div.scroll {
                    table {
                        thead { tr {
                            th { "Queued" } th { "Event" } th { "Recipient" } th { "Channel" } th { "State" }
                            th { "Attempts" } th { "Last error" }
                        } }
                        tbody {
                            @for row in outbox {
                                @let delivery = delivery_state(row);
                                tr.notification data-state=(delivery) data-event=(row.event) {
                                    td { (layout::time(now, row.created_at)) }
                                    td { (row.event) }
                                    td { (row.recipient_kind) ": " (row.recipient_id) }
                                    td { (row.channel) }
                                    td {
                                        (delivery)
                                        @if let Some(at) = row.delivered_at.or(row.dead_at) { " " span.muted { (layout::time(now, at)) } }
                                    }
                                    td { (row.attempts) }
                                    td { (row.last_error.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn delivery_state(row: &OutboxRow) -> &'static str {
    if row.delivered_at.is_some() {
        "delivered"
    } else if row.dead_at.is_some() {
        "dead"
    } else {
        "pending"
    }
}

/// Run one action from a form post: redirect back on success, the page with the reason when
/// the case engine refuses.
async fn act(state: &AppState, who: &Credential, id: &str, action: OperatorAction) -> Result<Response, PageError> {
    let n = number(id)?;
    let note = match &action {
        OperatorAction::Note(text) => Some(text.as_str()),
        _ => None,
    };
    let refusal = |status, message: String| Refusal { status, message, note };
    match state.engine.act(n, &who.name, action.clone()).await {
        Ok(_) => Ok(see_other(&format!("/cases/{}", encode(&n.to_string())), None)),
        Err(CaseError::NotFound(n)) => Err(PageError::NotFound(format!("no case {n}"))),
        Err(CaseError::Illegal(e)) => render(state, who, n, Some(refusal(StatusCode::CONFLICT, e.to_string()))).await,
        Err(CaseError::Invalid(msg)) => render(state, who, n, Some(refusal(StatusCode::BAD_REQUEST, msg))).await,
        Err(CaseError::Store(e)) => Err(e.into()),
    }
}

pub async fn ack(
    _: SameOrigin,
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    act(&state, &who, &id, OperatorAction::Acknowledge(crate::outbox::AckVia::Page)).await
}

pub async fn resolve(
    _: SameOrigin,
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    act(&state, &who, &id, OperatorAction::Resolve).await
}

pub async fn close(
    _: SameOrigin,
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    act(&state, &who, &id, OperatorAction::Close).await
}

pub async fn note(
    _: SameOrigin,
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let text = Form::parse(&body).get("text").unwrap_or("").to_string();
    act(&state, &who, &id, OperatorAction::Note(text)).await
}
