//! The HTTP surface (axum): health, metrics, the JSON API and the HTML pages. Handlers only read shared state
//! and the store; the one mapping from errors to responses lives in `error.rs`.

mod api;
mod auth;
mod error;
mod health;
mod json;
mod openapi;
mod pages;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::cases::CaseEngine;
use crate::clock::Clock;
use crate::config::Config;
use crate::fleet::Fleet;
use crate::maintenance::SharedWindows;
use crate::metrics::Metrics;
use crate::store::Store;

pub use error::ApiError;
pub use pages::PageCache;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub fleet: Arc<Fleet>,
    pub metrics: Arc<Metrics>,
    /// The scheduler's sign of life; `/readyz` reports it.
    pub heartbeat: Arc<crate::scheduler::heartbeat::Heartbeat>,
    pub engine: Arc<CaseEngine>,
    pub windows: SharedWindows,
    pub clock: Arc<dyn Clock>,
    pub pages: Arc<pages::PageCache>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/servers", get(api::servers::list))
        .route("/api/v1/cases", get(api::cases::list))
        .route("/api/v1/cases/{id}", get(api::cases::show))
        .route("/api/v1/cases/{id}/ack", post(api::cases::ack))
        .route("/api/v1/cases/{id}/notes", post(api::cases::note))
        .route("/api/v1/cases/{id}/resolve", post(api::cases::resolve))
        .route("/api/v1/cases/{id}/close", post(api::cases::close))
        .route("/api/v1/dead-letters", get(api::dead_letters::list))
        .route("/api/v1/maintenance", get(api::maintenance::list).post(api::maintenance::add))
        .route("/", get(pages::ops::page))
        .route("/status/{customer}", get(pages::customer::page))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/cases/{id}", get(pages::case::page))
        .route("/cases/{id}/ack", post(pages::case::ack))
        .route("/cases/{id}/resolve", post(pages::case::resolve))
        .route("/cases/{id}/close", post(pages::case::close))
        .route("/cases/{id}/notes", post(pages::case::note))
        .route("/maintenance", get(pages::maintenance::page).post(pages::maintenance::add))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(json::read_body_first))
        .with_state(state)
}
