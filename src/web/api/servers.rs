//! `GET /api/v1/servers`: every server with its live tracking state.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::rfc3339_ms;
use crate::web::AppState;

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
}

#[utoipa::path(
    get,
    path = "/api/v1/servers",
    tag = "servers",
    responses((status = 200, description = "Every monitored server, in config order", body = ServerList))
)]
pub async fn list(State(state): State<AppState>) -> Json<ServerList> {
    let servers = state
        .fleet
        .entries()
        .iter()
        .map(|entry| {
            let status = entry.status();
            ServerView {
                id: entry.id.clone(),
                customer: entry.customer.clone(),
                service: entry.service.clone(),
                role: entry.role.as_str(),
                state: status.state.as_str(),
                consecutive_failures: status.consecutive_failures,
                last_error: status.last_error,
                last_probe_at: status.last_probe_at.map(rfc3339_ms),
            }
        })
        .collect();
    Json(ServerList { servers })
}
