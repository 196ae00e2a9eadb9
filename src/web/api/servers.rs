//! `GET /api/v1/servers`: the servers with their live tracking state, a page at a time in
//! fleet order.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page;
use crate::clock::rfc3339_ms;
use crate::web::{ApiError, AppState};

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerView {
    pub id: String,
    pub customer: String,
    pub service: String,
    /// `primary` or `secondary`.
    #[schema(value_type = String, example = "primary")]
    pub role: &'static str,
    /// `unknown`, `up`, `failing`, `down` or `maintenance`.
    #[schema(value_type = String, example = "up")]
    pub state: &'static str,
    pub consecutive_failures: u32,
    /// The error of the last failed status request, if the last one failed.
    pub last_error: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub last_probe_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    pub servers: Vec<ServerView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServersQuery {
    /// The `next` of the previous page (the id of its last server); the first page without.
    pub cursor: Option<String>,
    /// Servers per page, 1 to 5000 (default 500).
    pub limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/servers",
    tag = "servers",
    params(ServersQuery),
    responses(
        (status = 200, description = "One page of servers, in fleet order", body = ServerList),
        (status = 400, description = "A bad limit, an unknown cursor or query key", body = crate::web::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ServersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ServerList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = page::limit(query.limit)?;
    let fleet = state.fleet();
    let start = match &query.cursor {
        None => 0,
        Some(cursor) => match fleet.index_of(cursor) {
            Some(i) => i + 1,
            None => return Err(ApiError::BadRequest(format!("unknown cursor {cursor:?}: start again without one"))),
        },
    };
    // One past the page says whether there is a next one.
    let mut page: Vec<_> = fleet.iter_from(start).take(limit.saturating_add(1)).map(|(_, e)| e).collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let servers = page
        .into_iter()
        .map(|entry| {
            let status = entry.status();
            ServerView {
                id: entry.id.to_string(),
                customer: entry.customer.to_string(),
                service: entry.service.to_string(),
                role: entry.role.as_str(),
                state: status.state.as_str(),
                consecutive_failures: status.consecutive_failures,
                last_error: status.last_error,
                last_probe_at: status.last_probe_at.map(rfc3339_ms),
            }
        })
        .collect::<Vec<_>>();
    let next = if more { servers.last().map(|s| s.id.clone()) } else { None };
    Ok(Json(ServerList { servers, next }))
}
