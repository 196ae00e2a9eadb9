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
        CaseAcknowledged => "case.acknowledged",
        CaseRecovered => "case.recovered",
        CaseResolved => "case.resolved",
        MonitorDegraded => "monitor.degraded",
        MonitorRecovered => "monitor.recovered",
        /// A test page to a person, with an ack link: proves their paging path.
        Test => "test",
        /// A test page nobody acknowledged in time: that person's paging path is unproven.
        PagingUnverified => "paging.unverified",
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
    /// Somebody took the case: the outage goes on, the alerting stops.
    Taken,
    /// No outage: a test of the paging path.
    Test,
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
            | EventKind::MonitorDegraded
            | EventKind::PagingUnverified => Tone::Alarm,
            EventKind::Test => Tone::Test,
            EventKind::CaseRecovered | EventKind::CaseResolved => Tone::Over,
            EventKind::MonitorRecovered => Tone::MonitorBack,
            EventKind::CaseAcknowledged => Tone::Taken,
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
            | EventKind::CaseAcknowledged
            | EventKind::MonitorRecovered
            | EventKind::Test
            | EventKind::PagingUnverified => false,
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

crate::named_enum! {
    /// How a case was acknowledged (`case.acknowledged`'s `acknowledged.via`).
    pub enum AckVia ("acknowledgement way") {
        Api => "api",
        Link => "link",
        Sms => "sms",
        Voice => "voice",
        Pagerduty => "pagerduty",
        Cli => "cli",
        /// The operator case page.
        Page => "page",
    }
}

/// Who acknowledged a case and how (`case.acknowledged` bodies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledged {
    pub by: String,
    pub via: AckVia,
}

/// A message body. `text` is the human-readable summary chat, e-mail and voice channels use.
/// `ack_url` comes with pages and escalations to a person (PRODUCT.md section 14);
/// `acknowledged` with `case.acknowledged`.
#[derive(Debug, Clone, Serialize)]
pub struct Message<'a> {
    pub event: &'static str,
    pub idempotency_key: &'a str,
    pub occurred_at: String,
    pub recipient: &'a RecipientRef,
    pub case: Option<&'a CaseView>,
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<&'a Acknowledged>,
}

/// What a message carries beyond its text: an ack link, who acknowledged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    pub ack_url: Option<&'a str>,
    pub acknowledged: Option<&'a Acknowledged>,
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
    row_with(event, cause, recipient, channel, case, text, at, Extras::default())
}

/// The idempotency key of a message: stable across retries, restarts and replays.
pub fn key(event: EventKind, cause: &str, recipient: &RecipientRef, channel: &str) -> String {
    format!("{cause}:{}:{}:{}:{channel}", event.as_str(), recipient.kind, recipient.id)
}

/// [`row`] with [`Extras`] in the body.
#[allow(clippy::too_many_arguments)]
pub fn row_with(
    event: EventKind,
    cause: &str,
    recipient: &RecipientRef,
    channel: &str,
    case: Option<(i64, &CaseView)>,
    text: &str,
    at: i64,
    extras: Extras<'_>,
) -> NewOutboxRow {
    let key = key(event, cause, recipient, channel);
    let message = Message {
        event: event.as_str(),
        idempotency_key: &key,
        occurred_at: rfc3339_ms(at),
        recipient,
        case: case.map(|(_, view)| view),
        text,
        ack_url: extras.ack_url,
        acknowledged: extras.acknowledged,
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

/// Queue a `page` or `escalation` about `case` to every (recipient, channel) in `to`: each
/// message to a person carries its own single-use acknowledgement link,
/// `{public_url}/ack/{token}` (PRODUCT.md section 14), whose SHA-256 is kept in the same
/// transaction. A replayed enqueue (the message is queued already) queues nothing new.
pub async fn enqueue_pages(
    tx: &mut Tx,
    event: EventKind,
    notice: &Notice<'_>,
    case: &CaseRow,
    to: Vec<(RecipientRef, String)>,
    public_url: &str,
) -> Result<(), StoreError> {
    let view = CaseView::of(case);
    for (recipient, channel) in to {
        let mut url = None;
        if recipient.kind == RecipientKind::Person {
            let key = key(event, notice.cause, &recipient, &channel);
            match crate::domain::secret::random_token() {
                Some(token) => {
                    let hash = crate::domain::secret::sha256_hex(&token);
                    if !tx.add_ack_token(&hash, case.id, &recipient.id, &key, notice.at).await? {
                        continue;
                    }
                    url = Some(format!("{}/ack/{token}", public_url.trim_end_matches('/')));
                }
                None => {
                    tracing::warn!(case = %CaseNumber(case.id), "no random token for an ack link; paging without one")
                }
            }
        }
        let extras = Extras { ack_url: url.as_deref(), acknowledged: None };
        let row =
            row_with(event, notice.cause, &recipient, &channel, Some((case.id, &view)), notice.text, notice.at, extras);
        tx.enqueue(&row).await?;
    }
    Ok(())
}

/// Queue `case.acknowledged` to everyone paged or escalated to for the case (each through
/// the channels they were paged on) and to the feed, saying who took it and how. When it was
/// taken in PagerDuty, nothing goes back to a PagerDuty channel (no echo).
pub async fn enqueue_acknowledged(
    tx: &mut Tx,
    notice: &Notice<'_>,
    case: &CaseRow,
    people: Vec<(RecipientRef, String)>,
    feed: Vec<(RecipientRef, String)>,
    acknowledged: &Acknowledged,
    is_pagerduty: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(), StoreError> {
    let view = CaseView::of(case);
    for (recipient, channel) in people.into_iter().chain(feed) {
        if acknowledged.via == AckVia::Pagerduty && is_pagerduty(&channel) {
            continue;
        }
        let extras = Extras { ack_url: None, acknowledged: Some(acknowledged) };
        let event = EventKind::CaseAcknowledged;
        let row =
            row_with(event, notice.cause, &recipient, &channel, Some((case.id, &view)), notice.text, notice.at, extras);
        tx.enqueue(&row).await?;
    }
    Ok(())
}
