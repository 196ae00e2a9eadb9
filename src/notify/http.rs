//! The HTTP rules every HTTP-based channel shares: one client, one way to read an answer.
//!
//! 2xx → delivered; 408, 429, 5xx → retry (honouring `Retry-After` on 429/503); any other
//! status → the receiver refuses it (dead letter); transport errors and timeouts → retry.

use std::time::{Duration, SystemTime};

use reqwest::{RequestBuilder, Response, StatusCode, Url};

use super::{NotifyInitError, SendError};

/// How much of a refusing answer's body goes into the error text.
const EXCERPT_CHARS: usize = 200;
/// How much of that body is read at most.
const EXCERPT_READ_BYTES: usize = 2048;

/// The one client of the notifier: bounded in time, no proxy from the environment, no
/// redirects (a signed webhook is never forwarded to another host).
pub(crate) fn client(attempt_timeout: Duration) -> Result<reqwest::Client, NotifyInitError> {
    reqwest::Client::builder()
        .timeout(attempt_timeout)
        .connect_timeout(attempt_timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("firstwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NotifyInitError::Http(e.to_string()))
}

/// Send `request` and decide what its answer means.
pub(crate) async fn send(request: RequestBuilder) -> Result<(), SendError> {
    let response = request.send().await.map_err(|e| transport_error(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after =
        response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let excerpt = excerpt(response).await;
    classify(status, retry_after.as_deref(), &excerpt, SystemTime::now())
}

/// What a non-transport outcome means. `retry_after` is the raw header value, if any.
pub(crate) fn classify(
    status: StatusCode,
    retry_after: Option<&str>,
    excerpt: &str,
    now: SystemTime,
) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let mut reason = format!("HTTP {}", status.as_u16());
    if let Some(text) = status.canonical_reason() {
        reason.push(' ');
        reason.push_str(text);
    }
    if !excerpt.is_empty() {
        reason.push_str(": ");
        reason.push_str(excerpt);
    }
    let code = status.as_u16();
    if code == 408 || code == 429 || status.is_server_error() {
        let retry_after = match code {
            429 | 503 => retry_after.and_then(|v| parse_retry_after(v, now)),
            _ => None,
        };
        return Err(SendError::Retryable { reason, retry_after });
    }
    if status.is_redirection() {
        reason.push_str(" (redirects are not followed)");
    }
    Err(SendError::Permanent(reason))
}

/// `Retry-After` as delay-seconds or an HTTP date; a date in the past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A transport failure (connect, TLS, timeout, reset) in a few words, without the URL (a
/// Slack or Mattermost URL carries its token).
fn transport_error(e: &reqwest::Error) -> SendError {
    if e.is_timeout() {
        return SendError::retry("timed out");
    }
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        let text = match err.downcast_ref::<reqwest::Error>() {
            Some(re) => strip_url(re),
            None => err.to_string(),
        };
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    SendError::retry(shorten(&parts.join(": "), 300))
}

fn strip_url(e: &reqwest::Error) -> String {
    let text = e.to_string();
    match e.url() {
        Some(url) => text.replace(&format!(" for url ({url})"), "").replace(url.as_str(), "<url>"),
        None => text,
    }
}

/// The start of a refusing answer's body, on one line.
async fn excerpt(mut response: Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_READ_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(EXCERPT_READ_BYTES);
    let text = String::from_utf8_lossy(&bytes);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    shorten(&one_line, EXCERPT_CHARS)
}

/// At most `max` characters, ending in `...` when cut (ASCII, so an SMS stays in the GSM
/// alphabet).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// `url` with its scheme, host and port replaced by `api_base` (whose path, if any, goes in
/// front of the URL's path). Without `api_base`, `url` as it is.
pub(crate) fn rebase(url: &Url, api_base: Option<&Url>) -> Url {
    let Some(base) = api_base else {
        return url.clone();
    };
    let mut out = base.clone();
    let prefix = base.path().trim_end_matches('/');
    out.set_path(&format!("{prefix}{}", url.path()));
    out.set_query(url.query());
    out.set_fragment(None);
    out
}

/// `{api_base or default}{path}`: the endpoint of a vendor API.
pub(crate) fn endpoint(api_base: Option<&Url>, default: &str, path: &str) -> Result<Url, String> {
    let base = api_base.map(|u| u.as_str().to_string()).unwrap_or_else(|| default.to_string());
    let joined = format!("{}{path}", base.trim_end_matches('/'));
    Url::parse(&joined).map_err(|e| format!("bad API address: {e}"))
}

/// A JSON body without reqwest's `json` feature.
pub(crate) trait JsonBody {
    fn json_body(self, value: &serde_json::Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, value: &serde_json::Value) -> Self {
        self.header(reqwest::header::CONTENT_TYPE, "application/json").body(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("valid date")
    }

    #[test]
    fn statuses_map_to_delivered_retry_or_dead_letter() {
        let s = |code| StatusCode::from_u16(code).expect("valid status");
        assert_eq!(classify(s(200), None, "", now()), Ok(()));
        assert_eq!(classify(s(202), None, "", now()), Ok(()));
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(classify(s(code), None, "", now()).expect_err("fails").is_retryable(), "{code}");
        }
        for code in [301, 400, 401, 403, 404, 410, 422] {
            let err = classify(s(code), None, "nope", now()).expect_err("fails");
            assert!(matches!(err, SendError::Permanent(_)), "{code}");
            assert!(err.to_string().contains(&code.to_string()) && err.to_string().contains("nope"), "{err}");
        }
    }

    #[test]
    fn retry_after_is_honoured_only_on_429_and_503() {
        let s = |code| StatusCode::from_u16(code).expect("valid status");
        let wait = |code, v| match classify(s(code), Some(v), "", now()) {
            Err(SendError::Retryable { retry_after, .. }) => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(wait(429, "2"), Some(Duration::from_secs(2)));
        assert_eq!(wait(503, "Sun, 06 Nov 1994 08:50:07 GMT"), Some(Duration::from_secs(30)));
        assert_eq!(wait(503, "Sun, 06 Nov 1994 08:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(wait(500, "2"), None);
        assert_eq!(wait(429, "soon"), None);
    }

    #[test]
    fn api_base_replaces_scheme_host_and_port_but_keeps_the_path() {
        let url = Url::parse("https://hooks.slack.com/services/T0/B0/XYZ?x=1").expect("url");
        let base = Url::parse("http://127.0.0.1:9000").expect("url");
        assert_eq!(rebase(&url, Some(&base)).as_str(), "http://127.0.0.1:9000/services/T0/B0/XYZ?x=1");
        let prefixed = Url::parse("http://127.0.0.1:9000/slack/").expect("url");
        assert_eq!(rebase(&url, Some(&prefixed)).as_str(), "http://127.0.0.1:9000/slack/services/T0/B0/XYZ?x=1");
        assert_eq!(rebase(&url, None), url);
        assert_eq!(
            endpoint(Some(&base), "https://events.pagerduty.com", "/v2/enqueue").expect("url").as_str(),
            "http://127.0.0.1:9000/v2/enqueue"
        );
        assert_eq!(
            endpoint(None, "https://events.pagerduty.com", "/v2/enqueue").expect("url").as_str(),
            "https://events.pagerduty.com/v2/enqueue"
        );
    }

    #[test]
    fn long_texts_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("äöüßäöüß", 6), "äöü...");
    }
}
