//! `/api/v1/inventory/customers`: customers managed at run time (PRODUCT.md section 13), in the
//! shape of a `[[customers]]` entry. A PUT creates (201) or replaces (200) one, a DELETE removes
//! it (204); both change nothing when the body is not valid (422 with key paths relative to
//! the body) or the customer is defined in a file (409). Reads leave the `status_token` out.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::page;
use crate::config::RawCustomer;
use crate::inventory::{ChangeError, Put};
use crate::web::credential::Credential;
use crate::web::error::{ErrorBody, KeyError};
use crate::web::json::{ApiJson, ApiPath};
use crate::web::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub struct CustomerId {
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    /// The customers managed through the API, in id order (file customers are not listed).
    #[schema(value_type = Vec<RawCustomer>)]
    pub customers: Vec<Value>,
    /// The `cursor` of the next page; `null` on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomersQuery {
    /// The `next` of the previous page (the id of its last customer); the first page without.
    pub cursor: Option<String>,
    /// Customers per page, 1 to 5000 (default 500).
    pub limit: Option<u32>,
}

/// A body as it is shown: without its `status_token`.
fn shown(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("status_token");
    }
    body
}

fn refused(error: ChangeError) -> ApiError {
    match error {
        error @ ChangeError::FileDefined(..) => ApiError::Conflict(error.to_string()),
        error @ ChangeError::Unknown(_) => ApiError::NotFound(error.to_string()),
        ChangeError::Invalid(errors) => {
            ApiError::Invalid("the customer is not valid; nothing changed".into(), KeyError::list(&errors))
        }
        ChangeError::Store(error) => ApiError::Internal(anyhow::anyhow!(error)),
        error @ ChangeError::Failed(_) => ApiError::Internal(anyhow::anyhow!(error)),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/inventory/customers",
    tag = "inventory",
    params(CustomersQuery),
    responses(
        (status = 200, description = "One page of the customers managed through the API", body = CustomerList),
        (status = 400, description = "A bad limit or query key", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<CustomersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CustomerList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = page::limit(query.limit)?;
    let (customers, next) = state
        .inventory
        .managed(|managed| {
            // One more than asked says whether there is a next page.
            let mut page = managed.page(query.cursor.as_deref(), limit + 1);
            let more = page.len() > limit;
            page.truncate(limit);
            let next = if more { page.last().map(|(id, _)| id.to_string()) } else { None };
            (page.into_iter().map(|(_, body)| shown(body)).collect(), next)
        })
        .await;
    Ok(Json(CustomerList { customers, next }))
}

#[utoipa::path(
    get,
    path = "/api/v1/inventory/customers/{id}",
    tag = "inventory",
    params(("id" = String, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer as it was put, without its status_token", body = RawCustomer),
        (status = 404, description = "No customer of that id is managed through the API", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(CustomerId { id }): ApiPath<CustomerId>,
) -> Result<Json<Value>, ApiError> {
    match state.inventory.managed(|managed| managed.body(&id).map(shown)).await {
        Some(body) => Ok(Json(body)),
        None => Err(refused(ChangeError::Unknown(id))),
    }
}

#[utoipa::path(
    put,
    path = "/api/v1/inventory/customers/{id}",
    tag = "inventory",
    params(("id" = String, Path, description = "Customer id")),
    request_body(content = RawCustomer, description = "A `[[customers]]` entry as JSON; `id` may be left out"),
    responses(
        (status = 201, description = "Created; in force here now, on every instance within a second", body = RawCustomer),
        (status = 200, description = "Replaced (or already so); state follows each server id", body = RawCustomer),
        (status = 400, description = "Not a JSON object", body = ErrorBody),
        (status = 409, description = "The customer is defined in a config file", body = ErrorBody),
        (status = 422, description = "Not valid; nothing changed. Key paths are relative to the body", body = ErrorBody),
    )
)]
/// Create or replace a customer with its contacts, services and servers.
pub async fn put(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiPath(CustomerId { id }): ApiPath<CustomerId>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let outcome = state.inventory.put_customer(&id, body, &who.name).await.map_err(refused)?;
    let status = if outcome == Put::Created { StatusCode::CREATED } else { StatusCode::OK };
    let body = state.inventory.managed(|managed| managed.body(&id).map(shown)).await.unwrap_or_default();
    Ok((status, Json(body)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/inventory/customers/{id}",
    tag = "inventory",
    params(("id" = String, Path, description = "Customer id")),
    responses(
        (status = 204, description = "Deleted: its servers leave the fleet, their cases are resolved by the inventory"),
        (status = 404, description = "No customer of that id is managed through the API", body = ErrorBody),
        (status = 409, description = "The customer is defined in a config file", body = ErrorBody),
    )
)]
/// Delete a customer managed through the API.
pub async fn delete(
    Extension(who): Extension<Credential>,
    State(state): State<AppState>,
    ApiPath(CustomerId { id }): ApiPath<CustomerId>,
) -> Result<StatusCode, ApiError> {
    state.inventory.delete_customer(&id, &who.name).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}
