//! `GET /ack/{token}` and `POST /ack/{token}`: acknowledging a case from the page itself
//! (PRODUCT.md section 14). The token in the path is the credential: one per page or
//! escalation message to a person, kept hashed, used once, good while its case is active.
//!
//! GET shows the case (severity, customer, service, server, since when, last error) and a
//! button, and changes nothing: mail scanners and link previews follow links. POST (a form
//! from our own origin, or from no page at all) acknowledges as the person the link was sent
//! to and answers with a confirmation page. Unknown token: 404; used, or its case no longer
//! active: 410. A test page's link shows and confirms the test instead: nothing is down. Not here: who is told (the case engine's `acknowledge`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

use super::layout::{self, Nav};
use super::session::SameOrigin;
use super::{html_response, PageError};
use crate::cases::LinkAck;
use crate::domain::secret::{is_token, sha256_hex};
use crate::domain::CaseNumber;
use crate::store::CaseRow;
use crate::web::AppState;

const USED: &str = "This link was used already: each acknowledgement link works once.";
const OVER: &str = "The case of this link is resolved or closed.";

fn gone(text: &str) -> Response {
    message(StatusCode::GONE, "Link no longer valid", text)
}

fn unknown() -> Response {
    message(StatusCode::NOT_FOUND, "Unknown link", "This acknowledgement link is not one of ours.")
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! { h1 { (title) } p { (text) } };
    html_response(status, layout::page(title, Nav::None, false, body))
}

fn facts(now: i64, case: &CaseRow) -> Markup {
    html! {
        dl.facts {
            dt { "Case" } dd { (CaseNumber(case.id)) " (" (case.status) ")" }
            dt { "Severity" } dd { (layout::severity_badge(case.severity)) }
            dt { "Customer" } dd { (case.customer) }
            dt { "Service" } dd { (case.service) }
            dt { "Server" } dd { (case.server) }
            dt { "Since" } dd { (layout::time(now, case.opened_at)) }
            @if let Some(error) = case.last_error.as_deref().filter(|e| !e.is_empty()) {
                dt { "Last error" } dd { code { (error) } }
            }
        }
    }
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, PageError> {
    if !is_token(&token) {
        return Ok(unknown());
    }
    let Some(row) = state.store.ack_token(&sha256_hex(&token)).await? else { return Ok(unknown()) };
    if row.used_at.is_some() {
        return Ok(gone(USED));
    }
    if row.test_id.is_some() {
        let body = html! {
            h1 { "Test page for " (row.person) }
            p { "Nothing is down. This page came through one of your paging channels; pressing the button shows that pages reach you." }
            form method="post" {
                button type="submit" { "Confirm that pages reach " (row.person) }
            }
        };
        return Ok(html_response(StatusCode::OK, layout::page("Test page — firstwatch", Nav::None, false, body)));
    }
    let Some(case) = state.store.case(row.case_id).await?.filter(|c| c.status.is_active()) else {
        return Ok(gone(OVER));
    };
    let now = state.clock.now_ms();
    let number = CaseNumber(case.id).to_string();
    let body = html! {
        h1 { "Acknowledge " (number) "?" }
        p { "You were paged as " strong { (row.person) } ". Acknowledging tells everyone already paged that you took it, and stops the escalation." }
        (facts(now, &case))
        @if let Some(by) = case.acknowledged_by.as_deref() {
            p.muted { "Already acknowledged by " (by) "." }
        } @else {
            form method="post" {
                button type="submit" { "Acknowledge " (number) " as " (row.person) }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        layout::page(&format!("Acknowledge {number} — firstwatch"), Nav::None, false, body),
    ))
}

pub async fn acknowledge(
    _: SameOrigin,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    if !is_token(&token) {
        return Ok(unknown());
    }
    let now = state.clock.now_ms();
    let done = state
        .engine
        .acknowledge_by_link(&sha256_hex(&token), crate::outbox::AckVia::Link)
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    Ok(match done {
        LinkAck::Verified { person } => {
            let body = html! {
                h1 #verified { "Paging path verified" }
                p { "Pages reach " strong { (person) } " through this channel. Thank you; nothing else changes." }
            };
            html_response(StatusCode::OK, layout::page("Paging path verified — firstwatch", Nav::None, false, body))
        }
        LinkAck::Unknown => unknown(),
        LinkAck::Used => gone(USED),
        LinkAck::Already(case) if !case.status.is_active() => gone(OVER),
        LinkAck::Already(case) => {
            let number = CaseNumber(case.id);
            let by = case.acknowledged_by.clone().unwrap_or_default();
            let body = html! {
                h1 { (number) " was acknowledged already" }
                p { "By " strong { (by) } "; nothing changed." }
                (facts(now, &case))
            };
            html_response(StatusCode::OK, layout::page(&format!("{number} — firstwatch"), Nav::None, false, body))
        }
        LinkAck::Acknowledged(case) => {
            let number = CaseNumber(case.id);
            let by = case.acknowledged_by.clone().unwrap_or_default();
            let body = html! {
                h1 #acknowledged { (number) " acknowledged" }
                p { "By " strong { (by) } ". Everyone already paged is told, and the escalation stops." }
                (facts(now, &case))
            };
            html_response(
                StatusCode::OK,
                layout::page(&format!("{number} acknowledged — firstwatch"), Nav::None, false, body),
            )
        }
    })
}
