//! Sign-in for the pages: `GET /login` (a form for an operator or viewer token), `POST /login`
//! (a valid token starts a session, `web/session.rs`, and redirects to `next` or `/`; anything
//! else is a 403 page with the form again; 10 failures a minute from one address and every
//! sign-in from it gets 429 for a minute, `web/throttle.rs`) and `POST /logout` (ends the
//! session). The token is never logged, echoed or kept in the cookie.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{HeaderValue, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::form::Form;
use super::layout::{self, Nav};
use super::session::{safe_next, SameOrigin};
use super::{html_response, see_other, PageError};
use crate::web::client::ClientAddr;
use crate::web::credential::of_token;
use crate::web::{session, AppState};

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

fn login_form(next: &str, error: Option<&str>, configured: bool) -> Markup {
    html! {
        h1 { "Sign in" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        @if !configured {
            p.error { "No tokens are configured ([server] operator_tokens, viewer_tokens), so nobody can sign in." }
        }
        form #login-form method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label for="token" { "Operator or viewer token " }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            " "
            button #sign-in type="submit" { "Sign in" }
        }
    }
}

fn configured(state: &AppState) -> bool {
    !state.config().server.operator_tokens.is_empty() || !state.config().server.viewer_tokens.is_empty()
}

pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let next = safe_next(query.next.as_deref());
    let who = session::of_request(&state, &headers).await?;
    let body = html! {
        @if let Some(who) = &who {
            p.ok #signed-in { "You are signed in as " (who.name) " (" (who.role.as_str()) "). " a href=(next) { "Continue" } }
        }
        (login_form(&next, None, configured(&state)))
    };
    let nav = Nav::Operator { signed_in: who.is_some() };
    Ok(html_response(StatusCode::OK, layout::page("Sign in — firstwatch", nav, false, body)))
}

pub async fn submit(
    _: SameOrigin,
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    let next = safe_next(form.get("next"));
    let now = Instant::now();
    if let Some(wait) = client.and_then(|addr| state.throttle.blocked(addr, now)) {
        let body = login_form(&next, Some("Too many failed sign-ins from this address; try again in a minute."), true);
        let mut response = html_response(
            StatusCode::TOO_MANY_REQUESTS,
            layout::page("Sign in — firstwatch", Nav::Operator { signed_in: false }, false, body),
        );
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return Ok(response);
    }
    let token = form.text("token").unwrap_or_default();
    match of_token(&state, &token) {
        Some((name, role)) => {
            // A sign-in replaces whatever session the browser had.
            session::end(&state, &headers).await?;
            let cookie = session::start(&state, &name, role, &token).await.map_err(PageError::Internal)?;
            tracing::info!(name, role = role.as_str(), "signed in");
            Ok(see_other(&next, Some(cookie)))
        }
        None => {
            if let Some(addr) = client {
                state.throttle.failed(addr, now);
            }
            tracing::warn!(client = ?client, "failed sign-in");
            let body = login_form(&next, Some("That token is not an operator or viewer token."), configured(&state));
            Ok(html_response(
                StatusCode::FORBIDDEN,
                layout::page("Sign in — firstwatch", Nav::Operator { signed_in: false }, false, body),
            ))
        }
    }
}

pub async fn logout(_: SameOrigin, State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let cookie = session::end(&state, &headers).await?;
    Ok(see_other("/login", Some(cookie)))
}
