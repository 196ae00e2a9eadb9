//! `/api/v1/oncall`: who holds each role's pager now, until when and who is next, and the
//! overrides that put someone else on it for a while (`[[schedules.overrides]]` from the
//! file, and those added here, which are stored, so every instance pages by them and they
//! survive restarts). Not here: the rotation arithmetic (`crate::escalation::oncall`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::{from_unix_ms, rfc3339_ms, unix_ms};
use crate::config::{Config, Override, Person};
use crate::escalation::oncall;
use crate::store::OverrideRow;
use crate::web::credential::Credential;
use crate::web::error::ErrorBody;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::{ApiError, AppState};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonRef {
    #[schema(example = "alice")]
    pub id: String,
    #[schema(example = "Alice Example")]
    pub name: String,
}

impl PersonRef {
    fn of(person: &Person) -> PersonRef {
        PersonRef { id: person.id.clone(), name: person.name.clone() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleTurn {
    #[schema(example = "operations-manager")]
    pub role: String,
    /// Who is paged for the role now (`null` when nobody holds it).
    pub now: Option<PersonRef>,
    /// Everybody paged for it now: one person, or all who have a role without a schedule.
    pub paged: Vec<PersonRef>,
    /// RFC 3339 UTC: when the pager passes on; `null` when nothing scheduled changes it.
    pub until: Option<String>,
    /// Who holds it from `until`.
    pub next: Option<PersonRef>,
    /// Whether an override puts `now` on the pager.
    #[serde(rename = "override")]
    pub overridden: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideView {
    /// Set for overrides added through the API; `null` for those from the config file.
    pub id: Option<i64>,
    pub role: String,
    pub person: String,
    /// RFC 3339 UTC with milliseconds.
    pub start: String,
    /// RFC 3339 UTC with milliseconds.
    pub end: String,
    /// `config` or `api`.
    #[schema(value_type = String, example = "api")]
    pub source: &'static str,
    pub created_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OnCall {
    pub roles: Vec<RoleTurn>,
    /// The overrides not over yet: the file's, then those added through the API.
    pub overrides: Vec<OverrideView>,
}

/// An override to add: `person` holds the pager for `role` from `start` to `end`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    #[schema(example = "operations-manager")]
    pub role: String,
    /// A person id from the config; any person may stand in for any role.
    #[schema(example = "bob")]
    pub person: String,
    /// RFC 3339, e.g. `2026-05-01T22:00:00Z`.
    #[schema(example = "2026-05-01T22:00:00Z")]
    pub start: String,
    /// RFC 3339, after `start` and in the future.
    #[schema(example = "2026-05-02T06:00:00Z")]
    pub end: String,
}

fn view(o: &Override, id: Option<i64>, created_by: Option<String>) -> OverrideView {
    OverrideView {
        id,
        role: o.role.clone(),
        person: o.person.clone(),
        start: rfc3339_ms(unix_ms(o.start)),
        end: rfc3339_ms(unix_ms(o.end)),
        source: if id.is_some() { "api" } else { "config" },
        created_by,
    }
}

/// Every role's turn at `now` with the stored overrides `stored`; shared with the operations
/// page.
pub fn turns(config: &Config, stored: &[Override], now: i64) -> Vec<RoleTurn> {
    oncall::roles(config)
        .into_iter()
        .map(|role| {
            let t = oncall::turn(config, stored, &role, from_unix_ms(now));
            RoleTurn {
                role,
                now: t.now.first().map(|p| PersonRef::of(p)),
                paged: t.now.iter().map(|p| PersonRef::of(p)).collect(),
                until: t.until.map(|u| rfc3339_ms(unix_ms(u))),
                next: t.next.first().map(|p| PersonRef::of(p)),
                overridden: t.overridden,
            }
        })
        .collect()
}

#[utoipa::path(
    get,
    path = "/api/v1/oncall",
    tag = "oncall",
    responses(
        (status = 200, description = "Who holds each role's pager now, until when, who is next; the overrides", body = OnCall),
        (status = 500, description = "The database could not be read", body = ErrorBody),
    )
)]
pub async fn show(State(state): State<AppState>) -> Result<Json<OnCall>, ApiError> {
    let config = state.config();
    let now = state.clock.now_ms();
    let rows = state.store.oncall_overrides(now).await?;
    let stored: Vec<Override> = rows.iter().map(OverrideRow::as_override).collect();
    let mut overrides: Vec<OverrideView> = config
        .schedules
        .iter()
        .flat_map(|s| &s.overrides)
        .filter(|o| unix_ms(o.end) > now)
        .map(|o| view(o, None, None))
        .collect();
    overrides.extend(rows.iter().map(|r| view(&r.as_override(), Some(r.id), Some(r.created_by.clone()))));
    Ok(Json(OnCall { roles: turns(&config, &stored, now), overrides }))
}

#[utoipa::path(
    post,
    path = "/api/v1/oncall/overrides",
    tag = "oncall",
    request_body(content = NewOverride, content_type = "application/json"),
    responses(
        (status = 201, description = "Added and stored; every instance pages by it from now on", body = OverrideView),
        (status = 400, description = "A bad body, an unknown role or person, or a time that cannot be", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn add(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewOverride>,
) -> Result<(StatusCode, Json<OverrideView>), ApiError> {
    let config = state.config();
    if !oncall::roles(&config).contains(&body.role) {
        return Err(ApiError::BadRequest(format!("role: no role {:?} is scheduled, held or paged", body.role)));
    }
    if !config.people.iter().any(|p| p.id == body.person) {
        return Err(ApiError::BadRequest(format!("person: no person {:?}", body.person)));
    }
    let now = state.clock.now_ms();
    let (start_at, end_at) = super::future_period(&body.start, &body.end, now)?;
    let mut row = OverrideRow {
        id: 0,
        role: body.role,
        person: body.person,
        start_at,
        end_at,
        created_by: who.name.clone(),
        created_at: now,
    };
    row.id = state.store.add_oncall_override(&row).await?;
    tracing::info!(role = %row.role, person = %row.person, by = %row.created_by, "on-call override added");
    Ok((StatusCode::CREATED, Json(view(&row.as_override(), Some(row.id), Some(row.created_by)))))
}

/// The `id` path parameter of `DELETE /api/v1/oncall/overrides/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OverrideId {
    /// The id of an override added through the API.
    pub id: i64,
}

#[utoipa::path(
    delete,
    path = "/api/v1/oncall/overrides/{id}",
    tag = "oncall",
    params(OverrideId),
    responses(
        (status = 204, description = "Removed; the rotation (or another override) holds the pager again"),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 404, description = "No stored override with that id", body = ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    ApiPath(OverrideId { id }): ApiPath<OverrideId>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_oncall_override(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no stored on-call override {id}")))
    }
}
