//! The transactional outbox: every notification is a row written in the same transaction as
//! the case change that caused it (see `store::Tx::enqueue`), then delivered by the worker
//! (paging issue). This module builds those rows: the message body of PRODUCT.md section 3,
//! fixed at enqueue time so every retry sends the same bytes, and its idempotency key.

pub mod recipients;
pub mod worker;

use serde::Serialize;

use crate::clock::rfc3339_ms;
use crate::domain::CaseNumber;
use crate::store::{CaseRow, NewOutboxRow, StoreError, Tx};

crate::named_enum! {
    /// The `event` of a notification (PRODUCT.md section 3), written in every message body.
    pub enum EventKind ("event") {
        Page => "page",
        Escalation => "escalation",
        CustomerCall => "customer.call",
        CustomerNotice => "customer.notice",
        CustomerUpdate => "customer.update",
        CaseOpened => "case.opened",
        CaseSeverityRaised => "case.severity_raised",
        CaseRecovered => "case.recovered",
        CaseResolved => "case.resolved",
        MonitorDegraded => "monitor.degraded",
        MonitorRecovered => "monitor.recovered",
    }
}

/// What an event says about the outage it is about; every rendering decides by this, so a
/// new event is placed here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// The service (or the monitor) is down, degraded, or someone is being alerted about it.
    Alarm,
    /// The outage is over: recovered or resolved.
    Over,
    /// The monitor's own network is healthy again.
    MonitorBack,
}

impl EventKind {
    pub const fn tone(self) -> Tone {
        match self {
            EventKind::Page
            | EventKind::Escalation
            | EventKind::CustomerCall
            | EventKind::CustomerNotice
            | EventKind::CustomerUpdate
            | EventKind::CaseOpened
            | EventKind::CaseSeverityRaised
            | EventKind::MonitorDegraded => Tone::Alarm,
            EventKind::CaseRecovered | EventKind::CaseResolved => Tone::Over,
            EventKind::MonitorRecovered => Tone::MonitorBack,
        }
    }

    /// Whether the message is a voice call (only channels that can call carry it); every
    /// other event is written (text, mail, chat, webhook).
    pub const fn is_call(self) -> bool {
        match self {
            EventKind::CustomerCall => true,
            EventKind::Page
            | EventKind::Escalation
            | EventKind::CustomerNotice
            | EventKind::CustomerUpdate
            | EventKind::CaseOpened
            | EventKind::CaseSeverityRaised
            | EventKind::MonitorDegraded
            | EventKind::CaseRecovered
            | EventKind::CaseResolved
            | EventKind::MonitorRecovered => false,
        }
    }
}

crate::named_enum! {
    /// What kind of recipient a message is for.
    pub enum RecipientKind ("recipient kind") {
        /// A `[[people]]` entry (paged, escalated to).
        Person => "person",
        /// One of a customer's `contacts` (notices, calls, updates).
        CustomerContact => "customer_contact",
        /// A feed channel (`[cases] feed`), with no person behind it.
        Channel => "channel",
    }
}

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientRef {
    pub kind: RecipientKind,
    pub id: String,
    pub role: String,
}

/// The `case` object of API responses and message bodies.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    /// The case number.
    #[schema(example = "FW-000001")]
    pub id: String,
    /// 1 (most urgent) to 3.
    #[schema(example = 1)]
    pub severity: i64,
    /// `open`, `acknowledged`, `in_progress`, `waiting_for_customer`, `reopened`, `resolved` or
    /// `closed`.
    #[schema(example = "open")]
    pub status: String,
    pub customer: String,
    pub service: String,
    pub server: String,
    /// RFC 3339 UTC with milliseconds.
    pub opened_at: String,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
}

impl CaseView {
    pub fn of(case: &CaseRow) -> CaseView {
        CaseView {
            id: CaseNumber(case.id).to_string(),
            severity: case.severity.number(),
            status: case.status.to_string(),
            customer: case.customer.clone(),
            service: case.service.clone(),
            server: case.server.clone(),
            opened_at: rfc3339_ms(case.opened_at),
            consecutive_failures: case.consecutive_failures,
            last_error: case.last_error.clone(),
        }
    }
}

/// A message body. `text` is the human-readable summary chat, e-mail and voice channels use.
#[derive(Debug, Clone, Serialize)]
pub struct Message<'a> {
    pub event: &'static str,
    pub idempotency_key: &'a str,
    pub occurred_at: String,
    pub recipient: &'a RecipientRef,
    pub case: Option<&'a CaseView>,
    pub text: &'a str,
}

/// Build the outbox row for one message. `cause` names what caused it, uniquely per case or
/// monitor flag (e.g. the timeline event id), so the key is stable across retries, restarts
/// and replays of the same operation.
pub fn row(
    event: EventKind,
    cause: &str,
    recipient: &RecipientRef,
    channel: &str,
    case: Option<(i64, &CaseView)>,
    text: &str,
    at: i64,
) -> NewOutboxRow {
    let key = format!("{cause}:{}:{}:{}:{channel}", event.as_str(), recipient.kind, recipient.id);
    let message = Message {
        event: event.as_str(),
        idempotency_key: &key,
        occurred_at: rfc3339_ms(at),
        recipient,
        case: case.map(|(_, view)| view),
        text,
    };
    // Serialising plain strings and numbers cannot fail; an empty body would be caught by the
    // receiver-side tests.
    let body = serde_json::to_string(&message).unwrap_or_default();
    NewOutboxRow {
        case_id: case.map(|(id, _)| id),
        event: event.as_str().to_string(),
        channel: channel.to_string(),
        recipient_kind: recipient.kind.to_string(),
        recipient_id: recipient.id.clone(),
        idempotency_key: key,
        body,
        created_at: at,
    }
}

/// What a notification says and why: `cause` (unique per case change) keys its idempotency.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub cause: &'a str,
    pub text: &'a str,
    pub at: i64,
}

/// Queue `event` about `case` (or about the monitor, with `None`) to every (recipient, channel)
/// in `to`, inside the caller's transaction.
pub async fn enqueue_all(
    tx: &mut Tx,
    event: EventKind,
    notice: &Notice<'_>,
    case: Option<&CaseRow>,
    to: Vec<(RecipientRef, String)>,
) -> Result<(), StoreError> {
    let view = case.map(CaseView::of);
    for (recipient, channel) in to {
        let about = case.zip(view.as_ref()).map(|(c, v)| (c.id, v));
        tx.enqueue(&row(event, notice.cause, &recipient, &channel, about, notice.text, notice.at)).await?;
    }
    Ok(())
}
