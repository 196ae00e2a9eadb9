//! `/api/v1/maintenance`: the windows in force (from config and added at run time), and adding
//! one. An added window is stored, so it survives restarts and reaches every instance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::clock::{rfc3339_ms, unix_ms};
use crate::config::MaintenanceScope;
use crate::store::MaintenanceRow;
use crate::web::auth::Operator;
use crate::web::json::ApiJson;
use crate::web::{ApiError, AppState};

#[derive(Debug, Serialize)]
pub struct WindowView {
    pub id: Option<i64>,
    pub customer: Option<String>,
    pub server: Option<String>,
    pub start: String,
    pub end: String,
    pub reason: Option<String>,
    /// `config` or `api`.
    pub source: &'static str,
    pub created_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WindowList {
    pub windows: Vec<WindowView>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    pub customer: Option<String>,
    pub server: Option<String>,
    pub start: String,
    pub end: String,
    pub reason: Option<String>,
    pub actor: Option<String>,
}

fn stored_view(row: MaintenanceRow) -> WindowView {
    WindowView {
        id: Some(row.id),
        customer: row.customer,
        server: row.server,
        start: rfc3339_ms(row.start_at),
        end: rfc3339_ms(row.end_at),
        reason: row.reason,
        source: "api",
        created_by: Some(row.created_by),
    }
}

pub async fn list(State(state): State<AppState>) -> Result<Json<WindowList>, ApiError> {
    let mut windows: Vec<WindowView> = state
        .config
        .maintenance
        .iter()
        .map(|w| {
            let (customer, server) = match &w.scope {
                MaintenanceScope::Customer(c) => (Some(c.clone()), None),
                MaintenanceScope::Server(s) => (None, Some(s.clone())),
            };
            WindowView {
                id: None,
                customer,
                server,
                start: rfc3339_ms(unix_ms(w.start)),
                end: rfc3339_ms(unix_ms(w.end)),
                reason: w.reason.clone(),
                source: "config",
                created_by: None,
            }
        })
        .collect();
    windows.extend(state.store.maintenance_windows().await?.into_iter().map(stored_view));
    Ok(Json(WindowList { windows }))
}

fn time(field: &str, value: &str) -> Result<i64, ApiError> {
    crate::clock::parse_rfc3339(value).map(unix_ms).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

pub async fn add(
    _: Operator,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewWindow>,
) -> Result<(StatusCode, Json<WindowView>), ApiError> {
    match (&body.customer, &body.server) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::BadRequest("give exactly one of customer and server".to_string()))
        }
        (Some(customer), None) if !state.config.customers.iter().any(|c| &c.id == customer) => {
            return Err(ApiError::BadRequest(format!("customer: no customer {customer:?}")))
        }
        (None, Some(server)) if state.fleet.get(server).is_none() => {
            return Err(ApiError::BadRequest(format!("server: no server {server:?}")))
        }
        _ => {}
    }
    let (start_at, end_at) = (time("start", &body.start)?, time("end", &body.end)?);
    let now = state.clock.now_ms();
    if start_at >= end_at {
        return Err(ApiError::BadRequest("end: must be after start".to_string()));
    }
    if end_at <= now {
        return Err(ApiError::BadRequest("end: must be in the future".to_string()));
    }
    if body.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::BadRequest("reason: at most 500 characters".to_string()));
    }
    let mut row = MaintenanceRow {
        id: 0,
        customer: body.customer,
        server: body.server,
        start_at,
        end_at,
        reason: body.reason,
        created_by: body.actor.unwrap_or_else(|| "operator".to_string()),
        created_at: now,
    };
    row.id = state.store.add_maintenance(&row).await?;
    state.windows.write().await.add(&row);
    Ok((StatusCode::CREATED, Json(stored_view(row))))
}
