//! `GET /maintenance`: every maintenance window (from the config file and added at run time,
//! as `GET /api/v1/maintenance` lists them) and a form to add one. `POST /maintenance`
//! (form-encoded, an operator's session, same-origin; added by the signed-in name) goes through the API's own validation
//! (`api::maintenance::create`), so the page and the API accept exactly the same windows.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};

use super::form::Form;
use super::layout::{self, Nav};
use super::session::SameOrigin;
use super::{html_response, see_other, PageError};
use crate::clock::{parse_rfc3339, rfc3339_ms, unix_ms};
use crate::web::api::maintenance::{all_windows, create, NewWindow, WindowView};
use crate::web::credential::{Credential, Role};
use crate::web::{ApiError, AppState};

/// What the operator typed, to show again with the reason when it is refused.
#[derive(Debug, Default)]
struct Draft {
    customer: String,
    server: String,
    start: String,
    end: String,
    reason: String,
}

impl Draft {
    fn from_form(form: &Form) -> Draft {
        let field = |name: &str| form.get(name).unwrap_or("").trim().to_string();
        Draft {
            customer: field("customer"),
            server: field("server"),
            start: field("start"),
            end: field("end"),
            reason: field("reason"),
        }
    }

    /// A blank form: a one-hour window from the next full minute.
    fn fresh(now: i64) -> Draft {
        let start = now - now.rem_euclid(60_000) + 60_000;
        let whole = |ms: i64| rfc3339_ms(ms).replace(".000Z", "Z");
        Draft { start: whole(start), end: whole(start + 3_600_000), ..Draft::default() }
    }

    fn window(&self) -> NewWindow {
        let optional = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        NewWindow {
            customer: optional(&self.customer),
            server: optional(&self.server),
            start: self.start.clone(),
            end: self.end.clone(),
            reason: optional(&self.reason),
        }
    }
}

pub async fn page(Extension(who): Extension<Credential>, State(state): State<AppState>) -> Result<Response, PageError> {
    let draft = Draft::fresh(state.clock.now_ms());
    render(&state, &who, StatusCode::OK, None, &draft).await
}

pub async fn add(
    _: SameOrigin,
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, PageError> {
    let draft = Draft::from_form(&Form::parse(&body));
    match create(&state, &who.name, draft.window()).await {
        Ok(_) => Ok(see_other("/maintenance", None)),
        Err(ApiError::BadRequest(msg) | ApiError::NotFound(msg) | ApiError::Conflict(msg)) => {
            render(&state, &who, StatusCode::BAD_REQUEST, Some(&msg), &draft).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn render(
    state: &AppState,
    who: &Credential,
    status: StatusCode,
    error: Option<&str>,
    draft: &Draft,
) -> Result<Response, PageError> {
    let windows = all_windows(state).await?;
    let now = state.clock.now_ms();
    let body = html! {
        h1 { "Maintenance windows" }
        p.muted { "During a window failures are still counted, but no case is opened and nobody is paged." }
        (window_table(now, &windows))
        @if who.role == Role::Operator {
            section #add-window-section {
                h2 { "Add a window" }
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                (add_form(state, draft))
            }
        }
    };
    Ok(html_response(
        status,
        layout::page("Maintenance — firstwatch", Nav::Operator { signed_in: who.session }, false, body),
    ))
}

/// `active`, `upcoming` or `ended` at `now`.
fn phase(now: i64, w: &WindowView) -> &'static str {
    let at = |t: &str| parse_rfc3339(t).map(unix_ms).ok();
    match (at(&w.start), at(&w.end)) {
        (_, Some(end)) if end <= now => "ended",
        (Some(start), _) if start > now => "upcoming",
        _ => "active",
    }
}

fn window_table(now: i64, windows: &[WindowView]) -> Markup {
    html! {
        section #windows-section {
            h2 { "Windows (" (windows.len()) ")" }
            @if windows.is_empty() {
                p.muted { "No maintenance windows." }
            } @else {
                div.scroll {
                    table #windows {
                        thead { tr {
                            th { "Covers" } th { "Start (UTC)" } th { "End (UTC)" } th { "Now" } th { "Reason" }
                            th { "Source" } th { "Added by" }
                        } }
                        tbody {
                            @for w in windows {
                                tr.window data-source=(w.source) data-phase=(phase(now, w))
                                    data-customer=[w.customer.as_deref()] data-server=[w.server.as_deref()] {
                                    td {
                                        @if let Some(c) = &w.customer { "customer " strong { (c) } }
                                        @if let Some(s) = &w.server { "server " strong { (s) } }
                                    }
                                    td { (w.start) }
                                    td { (w.end) }
                                    td { (phase(now, w)) }
                                    td { (w.reason.as_deref().unwrap_or("")) }
                                    td { (w.source) }
                                    td { (w.created_by.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn add_form(state: &AppState, d: &Draft) -> Markup {
    html! {
        form #add-window-form method="post" action="/maintenance" {
            p.muted { "Give a customer (all its servers) or one server. Times are RFC 3339, e.g. 2026-12-01T02:00:00Z." }
            datalist #customer-ids {
                @for c in &state.config().customers { option value=(c.id) {} }
            }
            p {
                label for="window-customer" { "Customer " }
                input #window-customer type="text" name="customer" list="customer-ids" value=(d.customer);
            }
            p {
                label for="window-server" { "or server " }
                input #window-server type="text" name="server" value=(d.server);
            }
            p {
                label for="window-start" { "Start " }
                input #window-start type="text" name="start" value=(d.start) required;
            }
            p {
                label for="window-end" { "End " }
                input #window-end type="text" name="end" value=(d.end) required;
            }
            p {
                label for="window-reason" { "Reason " }
                input #window-reason type="text" name="reason" maxlength="500" value=(d.reason);
            }
            button #add-window type="submit" { "Add window" }
        }
    }
}
