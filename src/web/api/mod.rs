//! JSON API handlers under `/api/v1`, one file per resource.

pub mod cases;
pub mod dead_letters;
pub mod inventory;
pub mod maintenance;
pub mod oncall;
pub mod page;
pub mod people;
pub mod reload;
pub mod servers;

use crate::clock::unix_ms;
use crate::web::ApiError;

/// A `start`–`end` pair of RFC 3339 times from a request body, as Unix ms: both parse, the end
/// comes after the start and is in the future (maintenance windows, on-call overrides).
pub(crate) fn future_period(start: &str, end: &str, now: i64) -> Result<(i64, i64), ApiError> {
    let time = |field: &str, value: &str| {
        crate::clock::parse_rfc3339(value).map(unix_ms).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
    };
    let (start_at, end_at) = (time("start", start)?, time("end", end)?);
    if start_at >= end_at {
        return Err(ApiError::BadRequest("end: must be after start".to_string()));
    }
    if end_at <= now {
        return Err(ApiError::BadRequest("end: must be in the future".to_string()));
    }
    Ok((start_at, end_at))
}
