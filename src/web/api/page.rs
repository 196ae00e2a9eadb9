//! Pagination of the list endpoints: `?cursor=…&limit=…` answers one page and the cursor of
//! the next (`next`, `null` on the last page). A cursor is the key of the last item of the
//! previous page (a server id, a case number), so pages stay put while items are added.

use crate::web::ApiError;

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 500;
/// The most a page may hold.
pub const MAX_LIMIT: u32 = 5_000;

/// The page size asked for, checked.
pub fn limit(asked: Option<u32>) -> Result<usize, ApiError> {
    match asked.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n as usize),
        n => Err(ApiError::BadRequest(format!("limit must be 1 to {MAX_LIMIT}, not {n}"))),
    }
}
