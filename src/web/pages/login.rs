//! Operator sign-in for the pages: `GET /login` (a form with the operator token),
//! `POST /login` (a valid token sets `fw_operator` — `HttpOnly; SameSite=Strict; Path=/` —
//! and redirects to `next` or `/`; anything else is a 403 page with the form again) and
//! `POST /logout` (removes the cookie). The token is never logged or echoed.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::form::Form;
use super::layout::{self, Nav};
use super::session::{clear_cookie, is_operator_token, safe_next, set_cookie, signed_in, SameOrigin, OPERATOR_COOKIE};
use super::{html_response, see_other};
use crate::web::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

fn login_form(next: &str, error: Option<&str>, configured: bool) -> Markup {
    html! {
        h1 { "Operator sign-in" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        @if !configured {
            p.error { "No operator tokens are configured ([server] operator_tokens), so nobody can sign in." }
        }
        form #login-form method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label for="token" { "Operator token " }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            " "
            button #sign-in type="submit" { "Sign in" }
        }
    }
}

pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let next = safe_next(query.next.as_deref());
    let configured = !state.config.server.operator_tokens.is_empty();
    let body = html! {
        @if signed_in(&state, &headers) {
            p.ok #signed-in { "You are signed in. " a href=(next) { "Continue" } }
        }
        (login_form(&next, None, configured))
    };
    let nav = Nav::Operator { signed_in: signed_in(&state, &headers) };
    html_response(StatusCode::OK, layout::page("Sign in — firstwatch", nav, false, body))
}

pub async fn submit(_: SameOrigin, State(state): State<AppState>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let next = safe_next(form.get("next"));
    match form.text("token") {
        Some(token) if is_operator_token(&state, &token) => {
            let cookie = set_cookie(&state, OPERATOR_COOKIE, &token, "Strict", "/");
            see_other(&next, Some(cookie))
        }
        _ => {
            let configured = !state.config.server.operator_tokens.is_empty();
            let body = login_form(&next, Some("That token is not an operator token."), configured);
            html_response(
                StatusCode::FORBIDDEN,
                layout::page("Sign in — firstwatch", Nav::Operator { signed_in: false }, false, body),
            )
        }
    }
}

pub async fn logout(_: SameOrigin, State(state): State<AppState>) -> Response {
    see_other("/login", Some(clear_cookie(&state, OPERATOR_COOKIE, "Strict", "/")))
}
