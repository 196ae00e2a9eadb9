//! The HTTP surface (axum): health, metrics and the JSON API. Handlers only read shared state
//! and the store; the one mapping from errors to responses lives in `error.rs`.

mod api;
mod error;
mod health;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::config::Config;
use crate::fleet::Fleet;
use crate::metrics::Metrics;
use crate::store::Store;

pub use error::ApiError;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub fleet: Arc<Fleet>,
    pub metrics: Arc<Metrics>,
    /// Set while the scheduler loop runs; `/readyz` reports it.
    pub scheduler_running: Arc<AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/servers", get(api::servers::list))
        .fallback(error::not_found)
        .with_state(state)
}
