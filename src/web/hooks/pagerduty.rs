//! `POST /hooks/pagerduty`: PagerDuty's V3 webhooks. `X-PagerDuty-Signature: v1=<hex
//! HMAC-SHA256(webhook_secret, raw body)>`, several comma-separated while a secret rotates:
//! any match with any pagerduty channel's `webhook_secret` counts, none → 403 and nothing is
//! read. `incident.acknowledged` acknowledges and `incident.resolved` resolves the case whose
//! number is the incident's `incident_key` (the `dedup_key` firstwatch sent), with actor
//! `pagerduty:<agent>`; other events, other incidents and cases already in that state are
//! answered 200 and change nothing (PagerDuty retries anything else). An acknowledgement
//! taken here is not sent back to PagerDuty (no echo).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use crate::cases::{CaseError, OperatorAction};
use crate::domain::CaseNumber;
use crate::notify::registry::ChannelSettings;
use crate::outbox::AckVia;
use crate::web::{ApiError, AppState};

pub const SIGNATURE_HEADER: &str = "x-pagerduty-signature";

/// Whether one of the `v1=` signatures in `header` is the HMAC-SHA256 of `body` under one of
/// `secrets` (compared in constant time by ring).
pub fn signed(header: &str, body: &[u8], secrets: &[&str]) -> bool {
    let tags: Vec<Vec<u8>> =
        header.split(',').filter_map(|s| s.trim().strip_prefix("v1=")).filter_map(hex_bytes).collect();
    secrets.iter().any(|secret| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        tags.iter().any(|tag| ring::hmac::verify(&key, body, tag).is_ok())
    })
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || hex.len() > 128 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[derive(Debug, Deserialize)]
struct Webhook {
    event: Event,
}

#[derive(Debug, Deserialize)]
struct Event {
    event_type: String,
    #[serde(default)]
    agent: Option<Reference>,
    #[serde(default)]
    data: Option<Incident>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Incident {
    #[serde(default)]
    incident_key: Option<String>,
}

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let config = state.config();
    let secrets: Vec<&str> = config
        .channels
        .iter()
        .filter_map(|c| match &c.settings {
            ChannelSettings::Pagerduty(p) => p.webhook_secret.as_ref().map(|s| s.expose()),
            _ => None,
        })
        .collect();
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !signed(header, &body, &secrets) {
        return Err(ApiError::Forbidden);
    }
    let hook: Webhook =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("not a PagerDuty V3 webhook: {e}")))?;
    let ignored = |why: &str| Ok(Json(serde_json::json!({ "status": "ignored", "reason": why })));
    let action = match hook.event.event_type.as_str() {
        "incident.acknowledged" => OperatorAction::Acknowledge(AckVia::Pagerduty),
        "incident.resolved" => OperatorAction::Resolve,
        _ => return ignored("not an event firstwatch acts on"),
    };
    let key = hook.event.data.and_then(|d| d.incident_key).unwrap_or_default();
    if let Some(test_id) = crate::escalation::paging_test::of_incident_key(&key) {
        // A test page's incident, taken in PagerDuty: that proves the path.
        let now = state.clock.now_ms();
        return if crate::escalation::paging_test::confirm(&state.store, test_id, AckVia::Pagerduty, now).await? {
            Ok(Json(serde_json::json!({ "status": "done", "test": test_id })))
        } else {
            ignored("no unconfirmed test page of that incident")
        };
    }
    let Ok(number) = key.parse::<CaseNumber>() else { return ignored("not an incident of a firstwatch case") };
    let agent = hook.event.agent.and_then(|a| a.summary.or(a.id)).unwrap_or_else(|| "unknown".to_string());
    let actor: String = format!("pagerduty:{agent}").chars().take(100).collect();
    match state.engine.act(number, &actor, action).await {
        Ok(case) => Ok(Json(
            serde_json::json!({ "status": "done", "case": number.to_string(), "case_status": case.status.to_string() }),
        )),
        Err(CaseError::NotFound(_)) => ignored("no such case"),
        Err(CaseError::Illegal(e)) => ignored(&e.to_string()),
        Err(CaseError::Invalid(msg)) => Err(ApiError::BadRequest(msg)),
        Err(CaseError::Store(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::sign(&key, body).as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn any_v1_signature_under_any_secret_counts() {
        let body = br#"{"event":{}}"#;
        let good = sign("new", body);
        assert!(signed(&format!("v1={good}"), body, &["new"]));
        assert!(signed(&format!("v1={},v1={good}", sign("old", b"x")), body, &["old", "new"]), "during a rotation");
        assert!(!signed(&format!("v1={good}"), body, &["other"]));
        assert!(!signed(&format!("v1={good}"), b"tampered", &["new"]));
        assert!(!signed(&good, body, &["new"]), "without v1=");
        assert!(
            !signed("v1=zz", body, &["new"])
                && !signed("", body, &["new"])
                && !signed(&format!("v1={good}"), body, &[])
        );
    }
}
