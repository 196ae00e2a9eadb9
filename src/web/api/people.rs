//! `POST /api/v1/people/{id}/test`: a test page to one person through each of their channels,
//! to prove their paging path (PRODUCT.md section 14). Not here: what a test sends and how it
//! is followed up (`crate::escalation::paging_test`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::rfc3339_ms;
use crate::escalation::paging_test::{self, TestReason};
use crate::web::api::cases::EmptyBody;
use crate::web::credential::Credential;
use crate::web::error::ErrorBody;
use crate::web::json::{ApiPath, OptionalJson};
use crate::web::{ApiError, AppState};

/// The `id` path parameter: a `[[people]]` id.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PersonId {
    #[param(example = "alice")]
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestQueued {
    /// The test's id.
    pub test: i64,
    pub person: String,
    /// The channels it goes through, one message each, every one with its own ack link.
    pub channels: Vec<String>,
    /// RFC 3339 UTC: not acknowledged by then, it is reported as `paging.unverified`.
    pub deadline: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/people/{id}/test",
    tag = "oncall",
    params(PersonId),
    request_body(content = EmptyBody, content_type = "application/json", description = "Optional: nothing or `{}`"),
    responses(
        (status = 202, description = "Queued: a `test` event through each of the person's channels", body = TestQueued),
        (status = 400, description = "A bad path", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 409, description = "The person has no channels: nothing could reach them", body = ErrorBody),
    )
)]
pub async fn test(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiPath(PersonId { id }): ApiPath<PersonId>,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<(StatusCode, Json<TestQueued>), ApiError> {
    let config = state.config();
    let person =
        config.people.iter().find(|p| p.id == id).ok_or_else(|| ApiError::NotFound(format!("no person {id:?}")))?;
    if person.channels.is_empty() {
        return Err(ApiError::Conflict(format!("person {id:?} has no channels: nothing could reach them")));
    }
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let sent = paging_test::send(&mut tx, &config, person, TestReason::Api, now).await?;
    tx.commit().await?;
    state.engine.wake_outbox();
    tracing::info!(person = %person.id, test = sent.test_id, by = %who.name, "test page asked for");
    Ok((
        StatusCode::ACCEPTED,
        Json(TestQueued {
            test: sent.test_id,
            person: person.id.clone(),
            channels: sent.channels,
            deadline: rfc3339_ms(sent.deadline),
        }),
    ))
}
