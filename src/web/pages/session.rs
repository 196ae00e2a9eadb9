//! Where a visitor without a credential is sent (sign-in, back to where they were going), and
//! the cross-site check every HTML write makes: an `Origin` (or, without one, a `Referer`) that
//! names another host is refused. Cookies are in `web/cookies.rs`, sessions in
//! `web/session.rs`, who may do what in `web/access.rs`.

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{HOST, ORIGIN, REFERER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};

use super::form::encode;
use super::{see_other, PageError};

/// A page asked for without a credential: to `/login?next=…` (303), back to where the visitor
/// was going.
pub fn to_login(request: &Request) -> Response {
    see_other(&format!("/login?next={}", encode(&next_of(request.method(), request.uri()))), None)
}

/// A page the credential does not open (a viewer posting a form, a token that is none of
/// ours): 403, naming no customer.
pub fn forbidden() -> Response {
    PageError::Forbidden("This credential does not allow that; sign in with an operator token.".to_string())
        .into_response()
}

/// Where to go after signing in: the page itself for a GET, the page a form was on otherwise.
fn next_of(method: &Method, uri: &Uri) -> String {
    let path = uri.path();
    if method == Method::GET {
        return uri.path_and_query().map_or(path, |pq| pq.as_str()).to_string();
    }
    match path.strip_prefix("/cases/").and_then(|rest| rest.split('/').next()) {
        Some(id) => format!("/cases/{id}"),
        None => path.to_string(),
    }
}

/// A local path to continue to after signing in; anything else (another site, `//host`,
/// backslashes, control characters) becomes `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 2000 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Proof that a form post comes from one of our own pages (checked before anything else).
/// Together with the `SameSite=Strict` operator cookie this is the CSRF defence.
#[derive(Debug, Clone, Copy)]
pub struct SameOrigin;

impl<S: Send + Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if same_origin(&parts.headers, parts.uri.authority().map(|a| a.as_str())) {
            Ok(SameOrigin)
        } else {
            Err(PageError::Forbidden("This form was sent from another site; it was refused.".to_string())
                .into_response())
        }
    }
}

/// Whether `request` comes from one of our own pages by [`same_origin`]'s rule.
pub fn from_our_origin(request: &Request) -> bool {
    same_origin(request.headers(), request.uri().authority().map(|a| a.as_str()))
}

/// `Origin` when present, else `Referer` when present, must name this host.
fn same_origin(headers: &HeaderMap, authority: Option<&str>) -> bool {
    let Some(source) = headers.get(ORIGIN).or_else(|| headers.get(REFERER)) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).or(authority);
    match (source.to_str().ok().and_then(authority_of), host) {
        (Some(from), Some(host)) => from.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// The `host[:port]` of an absolute http(s) URL.
fn authority_of(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::cookies::tests::headers;

    #[test]
    fn only_our_own_origin_may_post() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[host]), None));
        assert!(same_origin(&headers(&[host, ("origin", "http://127.0.0.1:8080")]), None));
        assert!(same_origin(&headers(&[host, ("referer", "https://127.0.0.1:8080/cases/FW-000001")]), None));
        assert!(!same_origin(&headers(&[host, ("origin", "https://evil.example")]), None));
        assert!(!same_origin(&headers(&[host, ("origin", "null")]), None));
        assert!(!same_origin(&headers(&[host, ("referer", "http://127.0.0.1:8080.evil.example/")]), None));
        assert!(!same_origin(&headers(&[("origin", "http://127.0.0.1:8080")]), None));
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/cases/FW-000001")), "/cases/FW-000001");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
