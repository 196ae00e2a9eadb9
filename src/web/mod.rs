//! The HTTP surface (axum): health, metrics, the JSON API and the HTML pages. Who may call
//! which route is said once, in `access.rs`; the listener and its bounds on clients are in
//! `serve.rs`. Handlers only read shared state and the store; the one mapping from errors to
//! responses lives in `error.rs`.

pub mod access;
mod api;
mod client;
mod cookies;
pub mod credential;
mod error;
mod health;
mod hooks;
/// Twilio's request signature (for tests and tools that play Twilio).
pub use hooks::twilio::signature as twilio_signature;
mod json;
mod openapi;
mod pages;
mod serve;
mod session;
mod throttle;

use std::sync::Arc;

use axum::Router;

use crate::cases::CaseEngine;
use crate::clock::Clock;
use crate::config::Config;
use crate::fleet::Fleet;
use crate::live::Live;
use crate::maintenance::SharedWindows;
use crate::metrics::Metrics;
use crate::store::Store;

pub use error::ApiError;
pub use openapi::document as openapi_document;
pub use pages::PageCache;
pub use serve::serve;
pub use session::SessionCache;
pub use throttle::LoginThrottle;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The config and fleet in force (`config()`, `fleet()` take the current ones).
    pub live: Arc<Live>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// The scheduler's sign of life; `/readyz` reports it.
    pub heartbeat: Arc<crate::scheduler::heartbeat::Heartbeat>,
    pub engine: Arc<CaseEngine>,
    pub windows: SharedWindows,
    pub clock: Arc<dyn Clock>,
    pub pages: Arc<pages::PageCache>,
    /// Failed sign-ins per client address.
    pub throttle: Arc<LoginThrottle>,
    /// Sessions recently read from the database.
    pub sessions: Arc<SessionCache>,
    /// This instance's shards and leader role (`/readyz`, the operations page).
    pub ownership: Arc<crate::cluster::Ownership>,
    /// Reloads (`POST /api/v1/reload`) and inventory changes.
    pub inventory: crate::inventory::Inventory,
}

impl AppState {
    pub fn config(&self) -> Arc<Config> {
        self.live.config()
    }

    pub fn fleet(&self) -> Arc<Fleet> {
        self.live.fleet()
    }
}

/// Every route of [`access::table`] behind its gate (which runs before any body is read),
/// then the shared fallbacks, which read bodies within the same bounds.
pub fn router(state: AppState) -> Router {
    use axum::handler::Handler;
    let bounded = || axum::middleware::from_fn(json::read_body_first);
    access::routes(&state)
        .method_not_allowed_fallback(error::method_not_allowed.layer(bounded()))
        .fallback(error::not_found.layer(bounded()))
        .with_state(state)
}
