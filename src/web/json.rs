//! Extractors whose every rejection is an [`ApiError`] (`{"error": …}` with a 4xx), never
//! axum's plain-text default: a JSON body, an optional JSON body, and path parameters; and the
//! middleware that reads request bodies before handlers run, so early refusals reach clients.
//!
//! Bodies are parsed to a JSON value first (depth-limited by serde_json), checked for NUL
//! characters (PostgreSQL cannot store them in text; refusing them keeps both backends alike),
//! then read into the target type with the path of the offending field in the message.

use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

/// The largest request body read; larger ones get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// A body must arrive in full within this long of the headers, else 408: a client that trickles
/// its body holds a connection and a task for at most this.
pub const BODY_TIME: Duration = Duration::from_secs(30);
/// How much of a body over the limit is still read (and dropped) before answering 413.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// How long that reading may take.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Middleware: read every request body in full (up to [`BODY_LIMIT`], within [`BODY_TIME`])
/// before any handler runs.
///
/// A handler that refuses a request early (no token, a bad path) leaves its body unread, and
/// hyper then closes the connection with the body still arriving: the client gets a reset or
/// a broken pipe instead of the JSON error. Reading the body first (and draining one that is
/// too large, within bounds) lets every refusal reach the client.
pub async fn read_body_first(req: Request, next: Next) -> Response {
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return too_large().into_response();
    }
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let read = async {
        let mut buffer = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => return Err(ApiError::BadRequest(format!("cannot read the request body: {e}"))),
            };
            if buffer.len() + chunk.len() > BODY_LIMIT {
                drain(&mut stream, buffer.len() + chunk.len()).await;
                return Err(too_large());
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(buffer)
    };
    let buffer = match tokio::time::timeout(BODY_TIME, read).await {
        Ok(Ok(buffer)) => buffer,
        Ok(Err(error)) => return error.into_response(),
        Err(_) => {
            let message = format!("the request body did not arrive within {}s", BODY_TIME.as_secs());
            return ApiError::Rejected(StatusCode::REQUEST_TIMEOUT, message).into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(buffer))).await
}

/// Read and drop what a refused request still sends (at most [`DRAIN_LIMIT`] within
/// [`DRAIN_TIME`]), so the refusal reaches the client instead of a reset, without ever
/// keeping an unauthenticated client's body in memory.
pub async fn discard(body: Body) {
    drain(&mut body.into_data_stream(), 0).await;
}

/// Read and drop the rest of `stream` (`read` bytes of it are gone already), up to
/// [`DRAIN_LIMIT`] within [`DRAIN_TIME`].
async fn drain(stream: &mut BodyDataStream, mut read: usize) {
    let rest = async {
        while read <= DRAIN_LIMIT {
            match stream.next().await {
                Some(Ok(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, rest).await;
}

fn too_large() -> ApiError {
    ApiError::Rejected(StatusCode::PAYLOAD_TOO_LARGE, format!("request body too large (at most {BODY_LIMIT} bytes)"))
}

/// A JSON body (`Content-Type: application/json` required).
pub struct ApiJson<T>(pub T);

/// An optional JSON body: empty (or only whitespace) is `None`; no content type needed.
pub struct OptionalJson<T>(pub Option<T>);

/// Path parameters, rejected as `{"error"}` like everything else.
pub struct ApiPath<T>(pub T);

/// A rejection with axum's status (413 for a body over the limit, 400 mostly) as an `ApiError`.
fn rejected(status: StatusCode, message: String) -> ApiError {
    if status.is_client_error() {
        ApiError::Rejected(status, message)
    } else {
        // Every body or path problem is the client's; a 5xx here would be axum's own
        // configuration error, which the log shows.
        tracing::warn!(%status, error = %message, "extractor rejection");
        ApiError::Rejected(StatusCode::BAD_REQUEST, message)
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Read a parsed body into `T`, naming the field at fault. Every body of the API is an object;
/// serde alone would also read a struct from an array of its fields (`["a note", null]`).
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::BadRequest("invalid JSON body: expected an object".to_string()));
    }
    if has_nul(&value) {
        return Err(ApiError::BadRequest("invalid JSON body: text may not contain NUL characters".to_string()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            ApiError::BadRequest(format!("invalid JSON body: {}", e.inner()))
        } else {
            ApiError::BadRequest(format!("invalid JSON body: {path}: {}", e.inner()))
        }
    })
}

/// Parse raw bytes as JSON into `T`.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    typed(value)
}

/// `application/json` or `application/<something>+json`, parameters (charset) allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| rejected(e.status(), e.body_text()))
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::BadRequest("expected a JSON body (Content-Type: application/json)".to_string()));
        }
        parse(&bytes(req, state).await?).map(ApiJson)
    }
}

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = bytes(req, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        parse(&body).map(|value| OptionalJson(Some(value)))
    }
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        text: String,
    }

    fn message(result: Result<Body, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn bodies_are_checked_with_the_field_named() {
        assert!(parse::<Body>(br#"{"text": "hi"}"#).is_ok());
        assert!(message(parse::<Body>(br#"{"text": 5}"#)).contains("text: invalid type"));
        assert!(message(parse::<Body>(br#"{"text": "a\u0000b"}"#)).contains("NUL"));
        assert!(message(parse::<Body>(b"{")).starts_with("invalid JSON body"));
        assert!(message(parse::<Body>(br#"["hi"]"#)).contains("expected an object"));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(message(parse::<Body>(deep.as_bytes())).contains("recursion limit"));
    }
}
