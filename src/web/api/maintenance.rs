//! `/api/v1/maintenance`: the windows in force (from config and added at run time), and adding
//! one. An added window is stored, so it survives restarts and reaches every instance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::{rfc3339_ms, unix_ms};
use crate::config::MaintenanceScope;
use crate::store::MaintenanceRow;
use crate::web::credential::Credential;
use crate::web::error::ErrorBody;
use crate::web::json::ApiJson;
use crate::web::{ApiError, AppState};

#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    /// Set for windows added through the API; `null` for those from the config file.
    pub id: Option<i64>,
    pub customer: Option<String>,
    pub server: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub start: String,
    /// RFC 3339 UTC with milliseconds.
    pub end: String,
    pub reason: Option<String>,
    /// `config` or `api`.
    #[schema(value_type = String, example = "api")]
    pub source: &'static str,
    pub created_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WindowList {
    pub windows: Vec<WindowView>,
}

/// A window to add: exactly one of `customer` and `server`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    /// A customer id from the config: the window covers all its servers.
    pub customer: Option<String>,
    /// A server id from the config.
    #[schema(example = "acme-eu-1")]
    pub server: Option<String>,
    /// RFC 3339, e.g. `2026-05-01T22:00:00Z`.
    #[schema(example = "2026-05-01T22:00:00Z")]
    pub start: String,
    /// RFC 3339, after `start` and in the future.
    #[schema(example = "2026-05-02T02:00:00Z")]
    pub end: String,
    /// At most 500 characters.
    pub reason: Option<String>,
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

#[utoipa::path(
    get,
    path = "/api/v1/maintenance",
    tag = "maintenance",
    responses(
        (status = 200, description = "Windows from the config file, then those added through the API", body = WindowList),
        (status = 500, description = "The database could not be read", body = ErrorBody),
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<WindowList>, ApiError> {
    Ok(Json(WindowList { windows: all_windows(&state).await? }))
}

/// Every window: those from the config file, then those added at run time. Shared by the API
/// and the maintenance page.
pub async fn all_windows(state: &AppState) -> Result<Vec<WindowView>, ApiError> {
    let config = state.config();
    let mut windows: Vec<WindowView> = config
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
    Ok(windows)
}

#[utoipa::path(
    post,
    path = "/api/v1/maintenance",
    tag = "maintenance",
    request_body(content = NewWindow, content_type = "application/json"),
    responses(
        (status = 201, description = "Added; in force at once and stored", body = WindowView),
        (status = 400, description = "A bad body or a window that cannot be", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn add(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewWindow>,
) -> Result<(StatusCode, Json<WindowView>), ApiError> {
    Ok((StatusCode::CREATED, Json(create(&state, &who.name, body).await?)))
}

/// Validate a new window, store it and put it in force at once. Shared by the API and the
/// maintenance page, so both accept and refuse exactly the same windows.
pub async fn create(state: &AppState, actor: &str, body: NewWindow) -> Result<WindowView, ApiError> {
    match (&body.customer, &body.server) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::BadRequest("give exactly one of customer and server".to_string()))
        }
        (Some(customer), None) if !state.config().customers.iter().any(|c| &c.id == customer) => {
            return Err(ApiError::BadRequest(format!("customer: no customer {customer:?}")))
        }
        (None, Some(server)) if state.fleet().get(server).is_none() => {
            return Err(ApiError::BadRequest(format!("server: no server {server:?}")))
        }
        _ => {}
    }
    let now = state.clock.now_ms();
    let (start_at, end_at) = super::future_period(&body.start, &body.end, now)?;
    if body.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::BadRequest("reason: at most 500 characters".to_string()));
    }
    let created_by = actor.to_string();
    let mut row = MaintenanceRow {
        id: 0,
        customer: body.customer,
        server: body.server,
        start_at,
        end_at,
        reason: body.reason,
        created_by,
        created_at: now,
    };
    row.id = state.store.add_maintenance(&row).await?;
    crate::maintenance::add(&state.windows, &row);
    Ok(stored_view(row))
}
