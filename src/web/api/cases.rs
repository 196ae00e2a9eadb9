//! `/api/v1/cases`: the case list, one case with its timeline, and the operator actions
//! (ack, notes, resolve, close), which go through the case engine like the CLI's.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::cases::{CaseError, CaseStatus, OperatorAction};
use crate::clock::rfc3339_ms;
use crate::domain::CaseNumber;
use crate::outbox::CaseView;
use crate::web::auth::Operator;
use crate::web::json::ApiJson;
use crate::web::{ApiError, AppState};

/// How many cases a list returns at most.
const LIST_LIMIT: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `open` or `active` (not resolved or closed), `all`, or one status.
    pub status: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CaseList {
    pub cases: Vec<CaseView>,
}

#[derive(Debug, Serialize)]
pub struct TimelineItem {
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct CaseDetail {
    pub case: CaseView,
    pub timeline: Vec<TimelineItem>,
}

/// Optional body of ack, resolve and close: who does it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorBody {
    pub actor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub text: String,
    pub actor: Option<String>,
}

const ACTIVE: [&str; 5] = ["open", "acknowledged", "in_progress", "waiting_for_customer", "reopened"];

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CaseList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let wanted = query.status.unwrap_or_else(|| "all".to_string());
    let statuses: Vec<&str> = match wanted.as_str() {
        "all" => Vec::new(),
        "open" | "active" => ACTIVE.to_vec(),
        one => match one.parse::<CaseStatus>() {
            Ok(status) => vec![status.as_str()],
            Err(e) => return Err(ApiError::BadRequest(format!("{e}; use open, active, all or a status"))),
        },
    };
    let cases = state.store.cases(&statuses, LIST_LIMIT).await?;
    Ok(Json(CaseList { cases: cases.iter().map(CaseView::of).collect() }))
}

fn number(id: &str) -> Result<CaseNumber, ApiError> {
    id.parse().map_err(ApiError::BadRequest)
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<CaseDetail>, ApiError> {
    let n = number(&id)?;
    let case = state.store.case(n.0).await?.ok_or_else(|| ApiError::NotFound(format!("no case {n}")))?;
    let timeline = state
        .store
        .timeline(case.id)
        .await?
        .into_iter()
        .map(|e| TimelineItem { at: rfc3339_ms(e.at), kind: e.kind, actor: e.actor, text: e.text })
        .collect();
    Ok(Json(CaseDetail { case: CaseView::of(&case), timeline }))
}

async fn act(
    state: &AppState,
    id: &str,
    actor: Option<String>,
    action: OperatorAction,
) -> Result<Json<CaseDetail>, ApiError> {
    let n = number(id)?;
    let actor = actor.unwrap_or_else(|| "operator".to_string());
    state.engine.act(n, &actor, action).await.map_err(|e| match e {
        CaseError::NotFound(n) => ApiError::NotFound(format!("no case {n}")),
        CaseError::Illegal(e) => ApiError::Conflict(e.to_string()),
        CaseError::Invalid(msg) => ApiError::BadRequest(msg),
        CaseError::Store(e) => ApiError::from(e),
    })?;
    show(State(state.clone()), Path(id.to_string())).await
}

/// The optional body of ack, resolve and close: empty, or `{"actor": "…"}`.
fn actor_of(body: &Bytes) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<ActorBody>(body)
        .map(|b| b.actor)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

pub async fn ack(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, actor_of(&body)?, OperatorAction::Acknowledge).await
}

pub async fn resolve(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, actor_of(&body)?, OperatorAction::Resolve).await
}

pub async fn close(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, actor_of(&body)?, OperatorAction::Close).await
}

pub async fn note(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Json<CaseDetail>, ApiError> {
    act(&state, &id, body.actor, OperatorAction::Note(body.text)).await
}
