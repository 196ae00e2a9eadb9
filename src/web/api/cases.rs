//! `/api/v1/cases`: the case list, one case with its timeline, and the operator actions
//! (ack, notes, resolve, close), which go through the case engine like the CLI's.

use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::cases::{CaseError, CaseStatus, OperatorAction};
use crate::clock::rfc3339_ms;
use crate::domain::CaseNumber;
use crate::outbox::CaseView;
use crate::web::credential::Credential;
use crate::web::error::ErrorBody;
use crate::web::json::{ApiJson, ApiPath, OptionalJson};
use crate::web::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open` or `active` (not resolved or closed), `all` (the default), or one status:
    /// `open`, `acknowledged`, `in_progress`, `waiting_for_customer`, `reopened`, `resolved`,
    /// `closed`.
    #[param(example = "open")]
    pub status: Option<String>,
    /// The `next` of the previous page (the number of its last, oldest case); the first page
    /// without.
    #[param(example = "FW-000042")]
    pub cursor: Option<String>,
    /// Cases per page, 1 to 5000 (default 500).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    pub cases: Vec<CaseView>,
    /// The `cursor` of the next page (older cases); `null` on the last.
    #[schema(example = "FW-000042")]
    pub next: Option<String>,
}

/// One event in a case's history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineItem {
    /// RFC 3339 UTC with milliseconds.
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    pub case: CaseView,
    pub timeline: Vec<TimelineItem>,
}

/// The optional body of ack, resolve and close: nothing, or `{}`. There is no `actor`: who
/// acts is the name of the credential.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// What ack, resolve and close answer (one list for the three operations).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Describes the answers for the OpenAPI document; never built.
pub enum ActionAnswers {
    /// Done; the case and its timeline
    #[response(status = 200)]
    Done(CaseDetail),
    /// Not a case number, or a bad body
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No such case
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The case's status does not allow this
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// Body too large
    #[response(status = 413)]
    TooLarge(ErrorBody),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The note (1 to 4000 characters).
    #[schema(example = "Failing over to the secondary")]
    pub text: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of cases, newest first", body = CaseList),
        (status = 400, description = "Unknown status, a bad cursor or limit, an unknown query key", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CaseList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let wanted = query.status.unwrap_or_else(|| "all".to_string());
    let statuses: Vec<CaseStatus> = match wanted.as_str() {
        "all" => Vec::new(),
        "open" | "active" => CaseStatus::active(),
        one => match one.parse::<CaseStatus>() {
            Ok(status) => vec![status],
            Err(e) => return Err(ApiError::BadRequest(format!("{e}; use open, active, all or a status"))),
        },
    };
    let limit = super::page::limit(query.limit)?;
    let before = query.cursor.as_deref().map(number).transpose()?;
    // One more than asked: whether there is a next page.
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut cases = state.store.cases_before(&statuses, before.map(|n| n.0), fetch).await?;
    let more = cases.len() > limit;
    cases.truncate(limit);
    let next = if more { cases.last().map(|c| CaseNumber(c.id).to_string()) } else { None };
    Ok(Json(CaseList { cases: cases.iter().map(CaseView::of).collect(), next }))
}

fn number(id: &str) -> Result<CaseNumber, ApiError> {
    id.parse().map_err(ApiError::BadRequest)
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    tag = "cases",
    params(CaseId),
    responses(
        (status = 200, description = "The case and its timeline", body = CaseDetail),
        (status = 400, description = "Not a case number", body = ErrorBody),
        (status = 404, description = "No such case", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(CaseId { id }): ApiPath<CaseId>,
) -> Result<Json<CaseDetail>, ApiError> {
    detail(&state, number(&id)?).await
}

/// The `id` path parameter of the case endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CaseId {
    /// Case number: `FW-000042`, `fw-42` or `42`.
    #[param(example = "FW-000001")]
    pub id: String,
}

async fn detail(state: &AppState, n: CaseNumber) -> Result<Json<CaseDetail>, ApiError> {
    let case = state.store.case(n.0).await?.ok_or_else(|| ApiError::NotFound(format!("no case {n}")))?;
    let timeline = state
        .store
        .timeline(case.id)
        .await?
        .into_iter()
        .map(|e| TimelineItem { at: rfc3339_ms(e.at), kind: e.kind.to_string(), actor: e.actor, text: e.text })
        .collect();
    Ok(Json(CaseDetail { case: CaseView::of(&case), timeline }))
}

async fn act(
    state: &AppState,
    id: &str,
    who: &Credential,
    action: OperatorAction,
) -> Result<Json<CaseDetail>, ApiError> {
    let n = number(id)?;
    state.engine.act(n, &who.name, action).await.map_err(|e| match e {
        CaseError::NotFound(n) => ApiError::NotFound(format!("no case {n}")),
        CaseError::Illegal(e) => ApiError::Conflict(e.to_string()),
        CaseError::Invalid(msg) => ApiError::BadRequest(msg),
        CaseError::Store(e) => ApiError::from(e),
    })?;
    detail(state, n).await
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/ack",
    tag = "cases",
    params(CaseId),
    request_body(
        content = EmptyBody,
        content_type = "application/json",
        description = "Optional: nothing or `{}`; the actor is the credential's name"
    ),
    responses(ActionAnswers)
)]
/// Acknowledge the case: someone works on it, escalation stops.
pub async fn ack(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiPath(CaseId { id }): ApiPath<CaseId>,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, &who, OperatorAction::Acknowledge(crate::outbox::AckVia::Api)).await
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/resolve",
    tag = "cases",
    params(CaseId),
    request_body(
        content = EmptyBody,
        content_type = "application/json",
        description = "Optional: nothing or `{}`; the actor is the credential's name"
    ),
    responses(ActionAnswers)
)]
/// Resolve the case; its customer is told.
pub async fn resolve(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiPath(CaseId { id }): ApiPath<CaseId>,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, &who, OperatorAction::Resolve).await
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/close",
    tag = "cases",
    params(CaseId),
    request_body(
        content = EmptyBody,
        content_type = "application/json",
        description = "Optional: nothing or `{}`; the actor is the credential's name"
    ),
    responses(ActionAnswers)
)]
/// Close a resolved case.
pub async fn close(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiPath(CaseId { id }): ApiPath<CaseId>,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, &who, OperatorAction::Close).await
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/notes",
    tag = "cases",
    params(CaseId),
    request_body(content = NoteBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Note added; the case and its timeline", body = CaseDetail),
        (status = 400, description = "Not a case number, a bad body, or the case is closed", body = ErrorBody),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "The case's status does not allow this", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
/// Add a note to the case; a note on an acknowledged case moves it to `in_progress`.
pub async fn note(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiPath(CaseId { id }): ApiPath<CaseId>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, &who, OperatorAction::Note(body.text)).await
}
