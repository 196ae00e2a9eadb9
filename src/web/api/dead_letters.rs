//! `GET /api/v1/dead-letters`: notifications given up on, newest first, so none is lost
//! silently.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::rfc3339_ms;
use crate::domain::CaseNumber;
use crate::web::error::ErrorBody;
use crate::web::{ApiError, AppState};

const LIMIT: i64 = 500;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    pub id: i64,
    /// The case number (`FW-000042`), if the message was about a case.
    pub case: Option<String>,
    /// e.g. `page`, `customer.update`, `case.opened`.
    pub event: String,
    /// The channel id from the config.
    pub channel: String,
    /// `person`, `customer_contact` or `channel`.
    pub recipient_kind: String,
    pub recipient_id: String,
    pub idempotency_key: String,
    pub attempts: i64,
    /// RFC 3339 UTC with milliseconds, like `dead_at`.
    pub created_at: String,
    pub dead_at: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetters {
    pub dead_letters: Vec<DeadLetter>,
}

#[utoipa::path(
    get,
    path = "/api/v1/dead-letters",
    tag = "notifications",
    responses(
        (status = 200, description = "Notifications given up on, newest first (at most 500)", body = DeadLetters),
        (status = 500, description = "The database could not be read", body = ErrorBody),
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<DeadLetters>, ApiError> {
    let rows = state.store.dead_letters(LIMIT).await?;
    let dead_letters = rows
        .into_iter()
        .map(|r| DeadLetter {
            id: r.id,
            case: r.case_id.map(|id| CaseNumber(id).to_string()),
            event: r.event,
            channel: r.channel,
            recipient_kind: r.recipient_kind,
            recipient_id: r.recipient_id,
            idempotency_key: r.idempotency_key,
            attempts: r.attempts,
            created_at: rfc3339_ms(r.created_at),
            dead_at: r.dead_at.map(rfc3339_ms),
            last_error: r.last_error,
        })
        .collect();
    Ok(Json(DeadLetters { dead_letters }))
}
