//! The one mapping from failures to HTTP responses: a 4xx/5xx status and `{"error": "…"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person to read.
    #[schema(example = "no case FW-000042")]
    pub error: String,
    /// With 422: every problem at its key path (a config file's, or the request body's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<KeyError>,
}

/// One problem at its key path.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyError {
    #[schema(example = "services[0].servers[0].target")]
    pub path: String,
    #[schema(example = "unknown scheme \"htp\" (use http, https, tcp or dns)")]
    pub message: String,
}

impl KeyError {
    pub fn list(errors: &crate::config::ConfigErrors) -> Vec<KeyError> {
        errors.0.iter().map(|e| KeyError { path: e.path.clone(), message: e.msg.clone() }).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// The request is understood but the resource's state does not allow it.
    #[error("{0}")]
    Conflict(String),
    #[error("missing bearer token")]
    Unauthorized,
    #[error("this token does not grant access")]
    Forbidden,
    /// Understood but not valid (422): each problem at its key path.
    #[error("{0}")]
    Invalid(String, Vec<KeyError>),
    /// An extractor's rejection (bad path, body too large, …) with the status axum chose.
    #[error("{1}")]
    Rejected(StatusCode, String),
    /// A server-side failure; the detail is logged, the client sees a generic message.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::Internal(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors = match &self {
            ApiError::Invalid(_, errors) => errors.clone(),
            _ => Vec::new(),
        };
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::Invalid(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Rejected(status, message) => {
                if status.is_server_error() {
                    tracing::error!(%status, error = %message, "request rejected");
                }
                *status
            }
            ApiError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(ErrorBody { error: self.to_string(), errors })).into_response()
    }
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such page".to_string())
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::Rejected(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this path".to_string())
}
