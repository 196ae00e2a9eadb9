//! `POST /api/v1/reload`: read the config files again and put them in force, as `SIGHUP`
//! does (PRODUCT.md section 13). A bad file changes nothing and answers 422 with every
//! problem at its key path.

use axum::extract::State;
use axum::{Extension, Json};

use crate::inventory::{Applied, ReloadError};
use crate::web::api::cases::EmptyBody;
use crate::web::credential::Credential;
use crate::web::error::{ErrorBody, KeyError};
use crate::web::json::OptionalJson;
use crate::web::{ApiError, AppState};

#[utoipa::path(
    post,
    path = "/api/v1/reload",
    tag = "operations",
    request_body(content = EmptyBody, content_type = "application/json", description = "Optional: nothing or `{}`"),
    responses(
        (status = 200, description = "The files are in force; what changed", body = Applied),
        (status = 409, description = "The config was not read from a file", body = ErrorBody),
        (status = 422, description = "A file is not valid; nothing changed", body = ErrorBody),
    )
)]
/// Reload the config files; state follows each server id.
pub async fn reload(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Applied>, ApiError> {
    tracing::info!(by = %who.name, "reload requested through the API");
    match state.inventory.reload().await {
        Ok(applied) => Ok(Json(applied)),
        Err(ReloadError::Invalid(errors)) => {
            Err(ApiError::Invalid("the config is not valid; nothing changed".into(), KeyError::list(&errors)))
        }
        Err(error @ ReloadError::NoFile) => Err(ApiError::Conflict(error.to_string())),
        Err(error @ ReloadError::Channels(_)) => Err(ApiError::Invalid(error.to_string(), Vec::new())),
        Err(error @ ReloadError::Failed(_)) => Err(ApiError::Internal(anyhow::anyhow!(error))),
    }
}
