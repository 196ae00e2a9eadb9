//! Reading and setting cookies: values percent-encoded (so any token fits), `HttpOnly`,
//! `SameSite` as asked, and `Secure` when `[server] public_url` is https.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;

use super::AppState;
use crate::domain::url_text::encode_component as encode;

/// Decode a percent-encoded cookie value.
fn decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned()
}

/// The value of cookie `name`, percent-decoded, from any `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| decode(v.trim().trim_matches('"')))
}

/// `name=value; HttpOnly; SameSite=…; Path=…` (+ `Secure` when the public URL is https).
/// The value is percent-encoded so any token fits.
pub fn set_cookie(state: &AppState, name: &str, value: &str, same_site: &str, path: &str) -> String {
    format!("{name}={}; HttpOnly; SameSite={same_site}; Path={path}{}", encode(value), secure(state))
}

/// A `Set-Cookie` value that removes cookie `name` at `path`.
pub fn clear_cookie(state: &AppState, name: &str, same_site: &str, path: &str) -> String {
    format!("{name}=; Max-Age=0; HttpOnly; SameSite={same_site}; Path={path}{}", secure(state))
}

fn secure(state: &AppState) -> &'static str {
    if state.config().server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use axum::http::HeaderValue;

    use super::*;

    /// A header map of `(name, value)` pairs, for the web unit tests.
    pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[("cookie", "a=1; fw_session=op%20secret"), ("cookie", "b=2")]);
        assert_eq!(cookie(&h, "fw_session").as_deref(), Some("op secret"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "fw"), None);
    }
}
