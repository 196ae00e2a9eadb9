//! Server-rendered HTML pages (maud): the operations overview (`/`), each customer's status
//! page (`/status/{customer}`), the operator's case page with its action forms, maintenance
//! windows, and the operator sign-in. Every page works without JavaScript and on a phone.
//!
//! Reads go through the live [`crate::fleet::Fleet`] (one pass per page) and a fixed number of
//! store queries (`store::views`), so a page costs the same with 10 or 10,000 servers. Writes
//! go through the same case engine and maintenance validation as the JSON API.
//!
//! Files: `layout.rs` (the shell, CSS, shared bits), `session.rs` (redirects to sign-in, CSRF
//! check), `form.rs` (form bodies), `summary.rs` (fleet counts), `uptime.rs` (90-day bars),
//! then one file per page.

pub mod ack;
mod cache;
pub mod case;
pub mod customer;
mod form;
mod layout;
pub mod login;
pub mod maintenance;
pub mod ops;
pub(super) mod session;
mod summary;
mod uptime;

pub use cache::PageCache;

use axum::http::header::{HeaderValue, CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use crate::store::StoreError;
use crate::web::ApiError;

/// Rows a server table shows at most on one page.
const PAGE_ROWS: usize = 200;

/// An HTML page with its status, marked as never to be cached (pages carry live, private data).
fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// `303 See Other` to `location`, with an optional `Set-Cookie`.
fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, value);
    }
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(SET_COOKIE, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Why a page could not be shown. Rendered as a small HTML page without navigation, so that
/// a customer's error page links nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// Logged; the visitor sees a generic message.
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        PageError::Internal(error.into())
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::NotFound(msg) => PageError::NotFound(msg),
            ApiError::Internal(e) => PageError::Internal(e),
            ApiError::Unauthorized | ApiError::Forbidden => PageError::Forbidden(error.to_string()),
            other => PageError::BadRequest(other.to_string()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            PageError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Bad request"),
            PageError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            PageError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            PageError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
            }
        };
        let body = html! {
            h1 { (title) }
            p.error { (self.to_string()) }
        };
        html_response(status, layout::page(title, layout::Nav::None, false, body))
    }
}

/// A page number from a query value: 1 when absent or not a positive number.
fn page_number(raw: Option<&str>) -> usize {
    raw.and_then(|p| p.trim().parse::<usize>().ok()).filter(|&p| p >= 1).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_are_lenient() {
        assert_eq!(page_number(None), 1);
        assert_eq!(page_number(Some("3")), 3);
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("-2")), 1);
        assert_eq!(page_number(Some("banana")), 1);
    }
}
