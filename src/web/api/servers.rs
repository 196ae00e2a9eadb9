//! `GET /api/v1/servers`: every server with its live tracking state.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::clock::rfc3339_ms;
use crate::web::AppState;

#[derive(Debug, Serialize)]
pub struct ServerView {
    pub id: String,
    pub customer: String,
    pub service: String,
    pub role: &'static str,
    pub state: &'static str,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub last_probe_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ServerList {
    pub servers: Vec<ServerView>,
}

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
