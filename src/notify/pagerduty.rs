//! PagerDuty Events API v2: one alert per case (`dedup_key` = the case number), triggered by
//! the events that page or inform, resolved when the case is over. Monitor events share the
//! fixed key `firstwatch-monitor`.

use reqwest::Url;
use serde_json::{json, Value};

use super::http::{self, JsonBody};
use super::registry::{Context, Deliver, Keys, Provider};
use super::render::summary;
use super::{Delivery, SendError};
use crate::domain::Secret;
use crate::outbox::{EventKind, Tone};

const DEFAULT_API: &str = "https://events.pagerduty.com";
/// The `dedup_key` of the alert about the monitor itself.
pub const MONITOR_DEDUP_KEY: &str = "firstwatch-monitor";

crate::named_enum! {
    /// The Events API v2 `event_action` (`acknowledge` comes with `case.acknowledged`).
    pub enum PagerdutyAction ("pagerduty action") {
        Trigger => "trigger",
        Acknowledge => "acknowledge",
        Resolve => "resolve",
    }
}

/// The action for an event.
///
/// `case.recovered` resolves too: the service is back, so the alert stops paging (a later
/// outage of the same case triggers it again).
pub fn event_action(event: EventKind) -> PagerdutyAction {
    match event.tone() {
        Tone::Alarm | Tone::Test => PagerdutyAction::Trigger,
        Tone::Taken => PagerdutyAction::Acknowledge,
        Tone::Over | Tone::MonitorBack => PagerdutyAction::Resolve,
    }
}

/// `type = "pagerduty"`.
#[derive(Debug, Clone)]
pub struct Pagerduty {
    /// The integration key of the PagerDuty service.
    pub routing_key: Secret,
    pub api_base: Option<Url>,
    /// Checks the signature of PagerDuty's V3 webhooks (`POST /hooks/pagerduty`).
    pub webhook_secret: Option<Secret>,
}

impl Provider for Pagerduty {
    const TYPE: &'static str = "pagerduty";
    const REQUIRED: &'static [&'static str] = &["routing_key"];
    const OPTIONAL: &'static [&'static str] = &["api_base", "webhook_secret"];
    type Sender = PagerdutySender;

    fn parse(keys: &mut Keys<'_>) -> Option<Pagerduty> {
        let routing_key = keys.secret("routing_key");
        let api_base = keys.url("api_base");
        let webhook_secret = keys.secret("webhook_secret");
        Some(Pagerduty { routing_key: routing_key?, api_base, webhook_secret })
    }

    fn sender(&self, ctx: &Context<'_>) -> Result<PagerdutySender, String> {
        let endpoint = http::endpoint(self.api_base.as_ref(), DEFAULT_API, "/v2/enqueue")?;
        Ok(PagerdutySender { endpoint, routing_key: self.routing_key.clone(), client: ctx.client.clone() })
    }
}

pub(crate) struct PagerdutySender {
    endpoint: Url,
    routing_key: Secret,
    client: reqwest::Client,
}

impl Deliver for PagerdutySender {
    async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
        let event = event_body(d, self.routing_key.expose())?;
        http::send(self.client.post(self.endpoint.clone()).json_body(&event)).await
    }
}

/// `critical` for Severity 1 and a blind monitor, `error` for other open cases, `info` for
/// good news.
fn severity(event: EventKind, case_severity: Option<i64>) -> &'static str {
    match event.tone() {
        Tone::Over | Tone::MonitorBack | Tone::Taken | Tone::Test => "info",
        Tone::Alarm if event == EventKind::PagingUnverified => "warning",
        Tone::Alarm if event == EventKind::MonitorDegraded || case_severity == Some(1) => "critical",
        Tone::Alarm => "error",
    }
}

/// The Events API v2 request body.
pub(crate) fn event_body(d: &Delivery<'_>, routing_key: &str) -> Result<Value, SendError> {
    let body = d.body;
    let action = event_action(d.event);
    let dedup_key = match (&body.case, d.event) {
        (Some(c), _) => c.id.clone(),
        // One incident per test (its cause, `paging-test#42`, leads the idempotency key), so
        // a test never folds into the monitor's own incident.
        (None, EventKind::Test | EventKind::PagingUnverified) => {
            let cause = body.idempotency_key.split(':').next().unwrap_or_default();
            format!("firstwatch-{}-{}", d.event.as_str().replace('.', "-"), cause.replace('#', "-"))
        }
        (None, _) => MONITOR_DEDUP_KEY.to_string(),
    };
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": action.as_str(),
        "dedup_key": dedup_key,
    });
    if action != PagerdutyAction::Trigger {
        return Ok(event);
    }
    let headline = match &body.case {
        Some(c) => format!("{} {}", c.id, summary(d.event, Some(c))),
        None => summary(d.event, None),
    };
    let mut details = json!({
        "text": body.text,
        "recipient": format!("{} {} ({})", body.recipient.kind, body.recipient.id, body.recipient.role),
        "idempotency_key": body.idempotency_key,
    });
    let (component, group) = match &body.case {
        Some(c) => {
            details["case"] = json!(c.id);
            details["severity"] = json!(format!("Severity {}", c.severity));
            details["status"] = json!(c.status);
            details["customer"] = json!(c.customer);
            details["service"] = json!(c.service);
            details["server"] = json!(c.server);
            details["opened_at"] = json!(c.opened_at);
            details["consecutive_failures"] = json!(c.consecutive_failures);
            details["last_error"] = json!(c.last_error);
            (c.server.clone(), c.service.clone())
        }
        None => ("firstwatch".to_string(), "monitor".to_string()),
    };
    let mut payload = json!({
        "summary": http::shorten(&headline, 1024),
        "source": "firstwatch",
        "severity": severity(d.event, body.case.as_ref().map(|c| c.severity)),
        "component": component,
        "group": group,
        "class": body.event,
        "custom_details": details,
    });
    if !body.occurred_at.is_empty() {
        payload["timestamp"] = json!(body.occurred_at);
    }
    event["payload"] = payload;
    event["client"] = json!("firstwatch");
    if let Some(link) = &d.link {
        let text = body
            .case
            .as_ref()
            .map_or_else(|| "firstwatch status page".to_string(), |c| format!("{} in firstwatch", c.id));
        event["links"] = json!([{ "href": link, "text": text }]);
    }
    if let (Some(ack), Some(links)) = (&body.ack_url, event.get_mut("links").and_then(|l| l.as_array_mut())) {
        links.push(json!({ "href": ack, "text": "Acknowledge in firstwatch" }));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_map_to_trigger_or_resolve() {
        use EventKind::*;
        use PagerdutyAction::*;
        for e in [Page, Escalation, CaseOpened, CaseSeverityRaised, CustomerNotice, CustomerUpdate, CustomerCall] {
            assert_eq!(event_action(e), Trigger, "{e}");
        }
        for e in [CaseResolved, CaseRecovered, MonitorRecovered] {
            assert_eq!(event_action(e), Resolve, "{e}");
        }
        assert_eq!(event_action(MonitorDegraded), Trigger);
        assert_eq!(Resolve.as_str(), "resolve");
    }

    #[test]
    fn severity_is_critical_for_severity_1_and_info_for_good_news() {
        assert_eq!(severity(EventKind::Page, Some(1)), "critical");
        assert_eq!(severity(EventKind::CaseOpened, Some(2)), "error");
        assert_eq!(severity(EventKind::CaseResolved, Some(1)), "info");
        assert_eq!(severity(EventKind::MonitorDegraded, None), "critical");
    }
}
