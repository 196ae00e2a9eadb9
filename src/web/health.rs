//! `/healthz` (the process answers), `/readyz` (database answers within 1 s and the scheduler
//! turned within 5 s; it answers within about a second whatever the database does, says why it
//! is not ready, and which shards this instance holds and who leads) and `/metrics` (Prometheus text format).

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The database check's own deadline.
const DATABASE_CHECK: Duration = Duration::from_secs(1);
/// A scheduler that has not turned for this long is stuck (it turns at least once a second).
const SCHEDULER_STUCK: Duration = Duration::from_secs(5);

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let mut reasons = Vec::new();
    match tokio::time::timeout(DATABASE_CHECK, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            // The error may name hosts or users; this endpoint is open, so the detail goes to
            // the log only.
            tracing::warn!(%error, "readiness: the database check failed");
            reasons.push("database: the check query failed (see the log)".to_string());
        }
        Err(_) => reasons.push("database: no answer within 1s".to_string()),
    }
    let database = reasons.is_empty();
    let age = state.heartbeat.age();
    let scheduler = state.heartbeat.running() && age < SCHEDULER_STUCK;
    if !state.heartbeat.running() {
        reasons.push("scheduler: not running".to_string());
    } else if !scheduler {
        reasons.push(format!("scheduler: no step completed for {}s", age.as_secs()));
    }
    let ready = database && scheduler;
    // Who leads, from the lease rows (skipped when the database is not answering).
    let leader = if database {
        match tokio::time::timeout(DATABASE_CHECK, state.store.lease_table()).await {
            Ok(Ok(table)) => table.leader,
            Ok(Err(_)) | Err(_) => None,
        }
    } else {
        None
    };
    let ownership = &state.ownership;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": database,
        "scheduler": scheduler,
        "reasons": reasons,
        "cluster": {
            "instance": ownership.instance(),
            "shards_owned": ownership.shards_owned(),
            "leader": ownership.is_leader(),
            "leader_instance": leader,
        },
    });
    (status, Json(body))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.observe_fleet(&state.fleet());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
