//! Delivery through every channel against real receivers on loopback: what goes over the wire
//! (method, path, auth, headers, body) and how each answer maps to delivered, retry or dead
//! letter.

use std::time::Duration;

use firstwatch::clock::{parse_rfc3339, unix_ms};
use firstwatch::config::Config;
use firstwatch::notify::{Notifier, NotifyInitError, SendError};
use firstwatch::outbox::{row, CaseView, EventKind, RecipientKind, RecipientRef};
use firstwatch::store::{NewOutboxRow, OutboxRow};
use ring::hmac;

use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::smtp::SmtpSink;
use crate::helpers::targets::refused_addr;

const WAIT: Duration = Duration::from_secs(5);
const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Where the channels of the test config point.
struct Endpoints {
    /// Base of every HTTP receiver (`http://127.0.0.1:PORT`).
    http: String,
    /// `smtp://127.0.0.1:PORT`
    smtp: String,
}

impl Endpoints {
    fn http(base: &str) -> Endpoints {
        Endpoints { http: base.to_string(), smtp: format!("smtp://{}", refused_addr()) }
    }

    fn smtp(url: &str) -> Endpoints {
        Endpoints { http: format!("http://{}", refused_addr()), smtp: url.to_string() }
    }
}

/// One channel of each kind (plus an unsigned webhook), two people and a customer with a
/// full contact and one without any address.
fn config_text(at: &Endpoints) -> String {
    let http = &at.http;
    let smtp = &at.smtp;
    format!(
        r#"
[database]
url = "sqlite://unused.db"

[[channels]]
id = "hook"
type = "webhook"
url = "{http}/hooks/firstwatch"
secret = "hook-secret"

[[channels]]
id = "hook-plain"
type = "webhook"
url = "{http}/plain"

[[channels]]
id = "hook-rebased"
type = "webhook"
url = "https://hooks.example.test/in/firstwatch?src=fw"
api_base = "{http}"

[[channels]]
id = "slack"
type = "slack"
url = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"
api_base = "{http}"

[[channels]]
id = "mattermost"
type = "mattermost"
url = "https://chat.example.test/hooks/mmtoken"
api_base = "{http}"

[[channels]]
id = "pd"
type = "pagerduty"
routing_key = "R0UTING-KEY"
api_base = "{http}"

[[channels]]
id = "mail"
type = "email"
smtp_url = "{smtp}"
from = "firstwatch@example.test"

[[channels]]
id = "sms"
type = "twilio"
account_sid = "AC0123456789"
auth_token = "twilio-token"
from = "+15550000"
api_base = "{http}"

[[people]]
id = "alice"
name = "Alice Example"
role = "operations-manager"
email = "alice@example.test"
phone = "+15550101"
channels = ["hook", "slack", "mattermost", "pd", "mail", "sms"]

[[people]]
id = "victor"
name = "Victor Example"
role = "vp-operations"
channels = ["mail", "sms"]

[[customers]]
id = "acme"
name = "Acme Corp"
status_token = "acme-token"
contacts = [
  {{ name = "Jane Doe", email = "jane@acme.test", phone = "+15550100", channels = ["mail", "sms"] }},
  {{ name = "Front desk", channels = ["mail", "sms"] }},
]

[[customers.services]]
id = "storefront"
name = "Storefront"

[[customers.services.servers]]
id = "acme-eu-1"
target = "http://127.0.0.1:9/health"
"#
    )
}

fn config(at: &Endpoints) -> Config {
    Config::from_toml(&config_text(at), |_| None).unwrap_or_else(|e| panic!("test config refused: {e}"))
}

fn notifier(at: &Endpoints) -> Notifier {
    Notifier::new(&config(at), PUBLIC_URL).expect("notifier builds")
}

fn ms(rfc3339: &str) -> i64 {
    unix_ms(parse_rfc3339(rfc3339).expect("valid time"))
}

fn case_view() -> CaseView {
    CaseView {
        id: "FW-000042".to_string(),
        severity: 1,
        status: "open".to_string(),
        customer: "acme".to_string(),
        service: "storefront".to_string(),
        server: "acme-eu-1".to_string(),
        opened_at: "2026-12-01T02:00:00.000Z".to_string(),
        consecutive_failures: 10,
        last_error: Some("connect: connection refused".to_string()),
    }
}

fn alice() -> RecipientRef {
    RecipientRef { kind: RecipientKind::Person, id: "alice".to_string(), role: "operations-manager".to_string() }
}

fn victor() -> RecipientRef {
    RecipientRef { kind: RecipientKind::Person, id: "victor".to_string(), role: "vp-operations".to_string() }
}

fn jane() -> RecipientRef {
    RecipientRef {
        kind: RecipientKind::CustomerContact,
        id: "jane@acme.test".to_string(),
        role: "customer".to_string(),
    }
}

/// The contact without email or phone, named as `outbox::recipients` names it.
fn front_desk() -> RecipientRef {
    RecipientRef {
        kind: RecipientKind::CustomerContact,
        id: "acme-contact-1".to_string(),
        role: "customer".to_string(),
    }
}

fn feed() -> RecipientRef {
    RecipientRef { kind: RecipientKind::Channel, id: "hook".to_string(), role: "feed".to_string() }
}

fn stored(new: NewOutboxRow) -> OutboxRow {
    OutboxRow {
        id: 7,
        case_id: new.case_id,
        event: new.event,
        channel: new.channel,
        recipient_kind: new.recipient_kind,
        recipient_id: new.recipient_id,
        idempotency_key: new.idempotency_key,
        body: new.body,
        created_at: new.created_at,
        attempts: 0,
        next_attempt_at: new.created_at,
        delivered_at: None,
        dead_at: None,
        last_error: None,
    }
}

/// An outbox row about case FW-000042 for `recipient` through `channel`.
fn case_row(event: EventKind, recipient: &RecipientRef, channel: &str, text: &str) -> OutboxRow {
    let view = case_view();
    stored(row(event, "evt-9", recipient, channel, Some((42, &view)), text, ms("2026-12-01T04:05:00Z")))
}

/// An outbox row about the monitor itself.
fn monitor_row(event: EventKind, channel: &str) -> OutboxRow {
    let text = "Canary tcp://127.0.0.1:9 fails: no cases are opened until it heals.";
    stored(row(event, "monitor-3", &alice(), channel, None, text, ms("2026-12-01T04:05:00Z")))
}

fn page(channel: &str) -> OutboxRow {
    case_row(EventKind::Page, &alice(), channel, "FW-000042 opened, Severity 1: storefront of acme is down.")
}

fn permanent(result: Result<(), SendError>) -> String {
    match result {
        Err(SendError::Permanent(reason)) => reason,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

fn retryable(result: Result<(), SendError>) -> (String, Option<Duration>) {
    match result {
        Err(SendError::Retryable { reason, retry_after }) => (reason, retry_after),
        other => panic!("expected a retryable failure, got {other:?}"),
    }
}

// ---- attempt_timeout -------------------------------------------------------------------------

/// `[notifications] attempt_timeout` bounds every channel, also above the 10 s default: a
/// receiver that answers after 11 s is delivered to with 15 s, and cut off with 1 s.
#[tokio::test]
async fn attempt_timeout_is_honoured_by_every_channel_also_above_ten_seconds() {
    let recv = Receiver::start(vec![Reply::status(200).after(Duration::from_secs(11)), Reply::status(200)]).await;
    let with = |timeout: &str| {
        let text = format!(
            "{}\n[notifications]\nattempt_timeout = \"{timeout}\"\n",
            config_text(&Endpoints::http(&recv.url("")))
        );
        let config = Config::from_toml(&text, |_| None).unwrap_or_else(|e| panic!("test config refused: {e}"));
        Notifier::new(&config, PUBLIC_URL).expect("notifier builds")
    };
    with("15s").deliver(&page("hook")).await.expect("a slow receiver within a long attempt_timeout");

    let slow = Receiver::start(vec![Reply::status(200).after(Duration::from_secs(3))]).await;
    let text = format!("{}\n[notifications]\nattempt_timeout = \"1s\"\n", config_text(&Endpoints::http(&slow.url(""))));
    let config = Config::from_toml(&text, |_| None).unwrap_or_else(|e| panic!("test config refused: {e}"));
    let notifier = Notifier::new(&config, PUBLIC_URL).expect("notifier builds");
    let (reason, _) = retryable(notifier.deliver(&page("hook")).await);
    assert!(reason.contains("timed out"), "{reason}");
}

// ---- webhook ---------------------------------------------------------------------------------

#[tokio::test]
async fn webhook_sends_the_stored_body_byte_for_byte_with_a_signature_that_verifies() {
    let recv = Receiver::start(vec![500]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let message = page("hook");

    let first = notifier.deliver(&message).await;
    assert!(matches!(first, Err(SendError::Retryable { .. })), "{first:?}");
    notifier.deliver(&message).await.expect("second attempt delivered");

    let requests = recv.wait_for(2, WAIT).await;
    assert_eq!(requests.len(), 2);
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"hook-secret");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/hooks/firstwatch");
        assert_eq!(r.body, message.body.as_bytes(), "the stored bytes, unchanged");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-firstwatch-idempotency-key"), Some(message.idempotency_key.as_str()));
        assert_eq!(r.header("x-firstwatch-event"), Some("page"));
        let signature = r.header("x-firstwatch-signature").expect("signed");
        let hex = signature.strip_prefix("sha256=").expect("sha256= prefix");
        assert_eq!(hex.len(), 64);
        assert!(hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "lowercase hex: {hex}");
        let tag: Vec<u8> =
            (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digit pair")).collect();
        hmac::verify(&key, &r.body, &tag).expect("signature verifies with the shared secret");
    }
    assert_eq!(requests[0].body, requests[1].body, "every retry sends the same bytes");
    let body = requests[0].json();
    assert_eq!(body["event"], "page");
    assert_eq!(body["case"]["id"], "FW-000042");
    assert_eq!(body["recipient"]["id"], "alice");
}

#[tokio::test]
async fn webhook_without_a_secret_is_sent_unsigned() {
    let recv = Receiver::ok().await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    notifier.deliver(&page("hook-plain")).await.expect("delivered");
    let requests = recv.wait_for(1, WAIT).await;
    assert_eq!(requests[0].path, "/plain");
    assert_eq!(requests[0].header("x-firstwatch-signature"), None);
    assert_eq!(requests[0].header("x-firstwatch-event"), Some("page"));
}

#[tokio::test]
async fn webhook_api_base_replaces_scheme_host_and_port_and_keeps_the_path() {
    let recv = Receiver::ok().await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    notifier.deliver(&page("hook-rebased")).await.expect("delivered");
    let requests = recv.wait_for(1, WAIT).await;
    assert_eq!(requests[0].path, "/in/firstwatch");
    assert_eq!(requests[0].query.as_deref(), Some("src=fw"));
}

// ---- slack and mattermost --------------------------------------------------------------------

#[tokio::test]
async fn slack_message_names_the_case_severity_server_and_error_and_links_to_the_case() {
    let recv = Receiver::ok().await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    notifier.deliver(&page("slack")).await.expect("delivered");
    let r = &recv.wait_for(1, WAIT).await[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/services/T000/B000/SECRETTOKEN");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let text = r.json()["text"].as_str().expect("text is a string").to_string();
    assert!(text.starts_with(":rotating_light: *FW-000042* Page - Severity 1: acme / storefront is down"), "{text}");
    for part in [
        "*acme-eu-1*",
        "down since 2026-12-01T02:00:00.000Z (2h 5m before this message)",
        "10 failed checks in a row",
        "Last error: `connect: connection refused`",
        "> FW-000042 opened, Severity 1: storefront of acme is down.",
        "<http://127.0.0.1:8080/cases/FW-000042|Open FW-000042>",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
}

#[tokio::test]
async fn mattermost_message_is_markdown_posted_as_firstwatch() {
    let recv = Receiver::ok().await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let message = case_row(EventKind::CaseResolved, &feed(), "mattermost", "FW-000042 resolved by alice.");
    notifier.deliver(&message).await.expect("delivered");
    let r = &recv.wait_for(1, WAIT).await[0];
    assert_eq!(r.path, "/hooks/mmtoken");
    let body = r.json();
    assert_eq!(body["username"], "firstwatch");
    let text = body["text"].as_str().expect("text is a string");
    assert!(text.starts_with(":heavy_check_mark: **FW-000042** Resolved: acme / storefront"), "{text}");
    assert!(text.contains("opened 2026-12-01T02:00:00.000Z"), "{text}");
    assert!(text.contains("[Open FW-000042](http://127.0.0.1:8080/cases/FW-000042)"), "{text}");
}

#[tokio::test]
async fn chat_errors_never_show_the_webhook_token() {
    let refused = format!("http://{}", refused_addr());
    let notifier = notifier(&Endpoints::http(&refused));
    let (reason, _) = retryable(notifier.deliver(&page("slack")).await);
    assert!(!reason.contains("SECRETTOKEN"), "{reason}");
    assert!(!reason.is_empty());
}

// ---- pagerduty -------------------------------------------------------------------------------

#[tokio::test]
async fn pagerduty_page_triggers_an_alert_keyed_by_the_case_number() {
    let recv = Receiver::start(vec![Reply::status(202).body(r#"{"status":"success"}"#)]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    notifier.deliver(&page("pd")).await.expect("delivered");
    let r = &recv.wait_for(1, WAIT).await[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v2/enqueue");
    let event = r.json();
    assert_eq!(event["routing_key"], "R0UTING-KEY");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["dedup_key"], "FW-000042");
    let payload = &event["payload"];
    assert_eq!(payload["source"], "firstwatch");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["component"], "acme-eu-1");
    assert_eq!(payload["group"], "storefront");
    assert_eq!(payload["class"], "page");
    assert_eq!(payload["timestamp"], "2026-12-01T04:05:00.000Z");
    let summary = payload["summary"].as_str().expect("summary");
    assert!(summary.starts_with("FW-000042 Page - Severity 1: acme / storefront is down"), "{summary}");
    assert_eq!(payload["custom_details"]["last_error"], "connect: connection refused");
    assert_eq!(payload["custom_details"]["consecutive_failures"], 10);
    assert_eq!(event["links"][0]["href"], "http://127.0.0.1:8080/cases/FW-000042");
}

#[tokio::test]
async fn pagerduty_resolution_resolves_the_same_alert() {
    let recv = Receiver::start(vec![202]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let message = case_row(EventKind::CaseResolved, &feed(), "pd", "FW-000042 resolved by alice.");
    notifier.deliver(&message).await.expect("delivered");
    let event = recv.wait_for(1, WAIT).await[0].json();
    assert_eq!(event["event_action"], "resolve");
    assert_eq!(event["dedup_key"], "FW-000042");
    assert_eq!(event["routing_key"], "R0UTING-KEY");
}

#[tokio::test]
async fn pagerduty_monitor_events_trigger_and_resolve_one_monitor_alert() {
    let recv = Receiver::start(vec![202, 202]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    notifier.deliver(&monitor_row(EventKind::MonitorDegraded, "pd")).await.expect("degraded delivered");
    notifier.deliver(&monitor_row(EventKind::MonitorRecovered, "pd")).await.expect("recovered delivered");
    let requests = recv.wait_for(2, WAIT).await;
    let (degraded, recovered) = (requests[0].json(), requests[1].json());
    assert_eq!(degraded["event_action"], "trigger");
    assert_eq!(degraded["dedup_key"], "firstwatch-monitor");
    assert_eq!(degraded["payload"]["class"], "monitor.degraded");
    assert_eq!(recovered["event_action"], "resolve");
    assert_eq!(recovered["dedup_key"], "firstwatch-monitor");
}

// ---- email -----------------------------------------------------------------------------------

#[tokio::test]
async fn email_reaches_the_contact_with_the_case_number_in_the_subject() {
    let sink = SmtpSink::start().await;
    let notifier = notifier(&Endpoints::smtp(&sink.url()));
    let text = "We have detected an outage of your service storefront and opened case FW-000042.";
    let message = case_row(EventKind::CustomerNotice, &jane(), "mail", text);
    notifier.deliver(&message).await.expect("delivered");
    let mail = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(mail.from, "firstwatch@example.test");
    assert_eq!(mail.to, vec!["jane@acme.test".to_string()]);
    assert_eq!(mail.header("Subject").as_deref(), Some("[FW-000042] Severity 1: acme / storefront is down"));
    let to = mail.header("To").expect("To header");
    assert!(to.contains("jane@acme.test") && to.contains("Jane Doe"), "{to}");
    assert!(
        mail.header("Message-ID").is_some_and(|id| id.contains("evt-9.customer.notice")),
        "{:?}",
        mail.header("Message-ID")
    );
    let body = mail.body();
    for part in [
        "Hello Jane Doe,",
        text,
        "FW-000042 (open)",
        "acme-eu-1",
        "connect: connection refused",
        "http://127.0.0.1:8080/status/acme?token=acme-token",
    ] {
        assert!(body.contains(part), "missing {part:?} in:\n{body}");
    }
}

#[tokio::test]
async fn monitor_email_has_no_case_number_in_the_subject() {
    let sink = SmtpSink::start().await;
    let notifier = notifier(&Endpoints::smtp(&sink.url()));
    notifier.deliver(&monitor_row(EventKind::MonitorDegraded, "mail")).await.expect("delivered");
    let mail = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(mail.to, vec!["alice@example.test".to_string()]);
    assert_eq!(mail.header("Subject").as_deref(), Some("firstwatch monitor degraded: no cases are being opened"));
    assert!(mail.body().contains("Canary tcp://127.0.0.1:9 fails"), "{}", mail.body());
}

#[tokio::test]
async fn email_to_a_person_without_an_address_is_a_dead_letter() {
    let sink = SmtpSink::start().await;
    let notifier = notifier(&Endpoints::smtp(&sink.url()));
    let reason = permanent(notifier.deliver(&case_row(EventKind::Escalation, &victor(), "mail", "x")).await);
    assert_eq!(reason, "no e-mail address for person victor");
    let reason = permanent(notifier.deliver(&case_row(EventKind::CustomerUpdate, &front_desk(), "mail", "x")).await);
    assert_eq!(reason, "no e-mail address for customer contact acme-contact-1");
    assert!(sink.mails().is_empty());
}

#[tokio::test]
async fn smtp_temporary_refusal_is_retried_and_permanent_refusal_is_not() {
    let sink = SmtpSink::scripted(vec![451, 550]).await;
    let notifier = notifier(&Endpoints::smtp(&sink.url()));
    let message = page("mail");
    let (reason, _) = retryable(notifier.deliver(&message).await);
    assert!(reason.contains("451"), "{reason}");
    let reason = permanent(notifier.deliver(&message).await);
    assert!(reason.contains("550"), "{reason}");
    notifier.deliver(&message).await.expect("third attempt accepted");
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn email_to_a_closed_smtp_port_is_retried() {
    let notifier = notifier(&Endpoints::smtp(&format!("smtp://{}", refused_addr())));
    let (reason, retry_after) = retryable(notifier.deliver(&page("mail")).await);
    assert!(reason.starts_with("SMTP"), "{reason}");
    assert_eq!(retry_after, None);
}

#[tokio::test]
async fn an_unusable_smtp_url_refuses_to_build_the_notifier() {
    let mut text = config_text(&Endpoints::smtp("smtp://127.0.0.1:2525?tls=maybe"));
    text = text.replace("smtp://127.0.0.1:2525?tls=maybe", "smtp://user:hunter2@127.0.0.1:2525?tls=maybe");
    let config = Config::from_toml(&text, |_| None).expect("config validates");
    let err = Notifier::new(&config, PUBLIC_URL).expect_err("tls=maybe is refused");
    assert!(matches!(&err, NotifyInitError::Channel { channel, .. } if channel == "mail"), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

// ---- twilio ----------------------------------------------------------------------------------

fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

#[tokio::test]
async fn twilio_texts_a_page_with_basic_auth() {
    let recv = Receiver::start(vec![Reply::status(201).body(r#"{"sid":"SM1"}"#)]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    notifier.deliver(&page("sms")).await.expect("delivered");
    let r = &recv.wait_for(1, WAIT).await[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/2010-04-01/Accounts/AC0123456789/Messages.json");
    assert_eq!(r.header("authorization"), Some(basic_auth("AC0123456789", "twilio-token").as_str()));
    assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(r.field("To"), "+15550101");
    assert_eq!(r.field("From"), "+15550000");
    let sms = r.field("Body");
    assert!(sms.starts_with("firstwatch FW-000042 Page - Severity 1: acme / storefront is down."), "{sms}");
    assert!(sms.contains("acme-eu-1") && sms.chars().count() <= 300, "{sms}");
}

#[tokio::test]
async fn twilio_calls_the_customer_and_reads_out_escaped_twiml() {
    let recv = Receiver::start(vec![201]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let text = "Storefront & checkout <still> failing.";
    notifier.deliver(&case_row(EventKind::CustomerCall, &jane(), "sms", text)).await.expect("delivered");
    let r = &recv.wait_for(1, WAIT).await[0];
    assert_eq!(r.path, "/2010-04-01/Accounts/AC0123456789/Calls.json");
    assert_eq!(r.header("authorization"), Some(basic_auth("AC0123456789", "twilio-token").as_str()));
    assert_eq!(r.field("To"), "+15550100");
    assert_eq!(r.field("From"), "+15550000");
    let twiml = r.field("Twiml");
    assert!(twiml.starts_with("<Response><Say>") && twiml.ends_with("</Say></Response>"), "{twiml}");
    assert!(twiml.contains("Storefront &amp; checkout &lt;still&gt; failing."), "{twiml}");
    assert!(twiml.contains("case F W 42, severity 1"), "{twiml}");
    assert!(r.form().iter().all(|(k, _)| k != "Body"), "a call has no SMS body");
}

#[tokio::test]
async fn twilio_contact_without_a_phone_is_a_dead_letter() {
    let recv = Receiver::ok().await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let reason = permanent(notifier.deliver(&case_row(EventKind::CustomerCall, &front_desk(), "sms", "x")).await);
    assert_eq!(reason, "no phone number for customer contact acme-contact-1");
    let reason = permanent(notifier.deliver(&case_row(EventKind::Escalation, &victor(), "sms", "x")).await);
    assert_eq!(reason, "no phone number for person victor");
    assert!(recv.requests().is_empty());
}

// ---- status mapping (shared by every HTTP channel) -------------------------------------------

#[tokio::test]
async fn server_errors_are_retried_until_the_receiver_accepts() {
    let recv = Receiver::start(vec![500, 500, 500, 500, 200]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let message = page("hook");
    for _ in 0..4 {
        let (reason, retry_after) = retryable(notifier.deliver(&message).await);
        assert!(reason.starts_with("HTTP 500 Internal Server Error"), "{reason}");
        assert_eq!(retry_after, None);
    }
    notifier.deliver(&message).await.expect("fifth attempt delivered");
    assert_eq!(recv.wait_for(5, WAIT).await.len(), 5);
}

#[tokio::test]
async fn too_many_requests_waits_as_long_as_retry_after_says() {
    let recv = Receiver::start(vec![
        Reply::status(429).header("Retry-After", "2"),
        Reply::status(503).header("Retry-After", "Thu, 01 Jan 2099 00:00:00 GMT"),
    ])
    .await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let (reason, retry_after) = retryable(notifier.deliver(&page("pd")).await);
    assert!(reason.starts_with("HTTP 429"), "{reason}");
    assert_eq!(retry_after, Some(Duration::from_secs(2)));
    let (_, retry_after) = retryable(notifier.deliver(&page("pd")).await);
    assert!(retry_after.is_some_and(|d| d > Duration::from_secs(86_400)), "{retry_after:?}");
}

#[tokio::test]
async fn not_found_is_a_dead_letter_at_once_with_the_status_and_an_excerpt() {
    let recv = Receiver::start(vec![Reply::status(404).body("no_service\n")]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let reason = permanent(notifier.deliver(&page("slack")).await);
    assert_eq!(reason, "HTTP 404 Not Found: no_service");
}

#[tokio::test]
async fn request_timeout_status_is_retried() {
    let recv = Receiver::start(vec![408]).await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let (reason, _) = retryable(notifier.deliver(&page("sms")).await);
    assert!(reason.starts_with("HTTP 408"), "{reason}");
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    let notifier = notifier(&Endpoints::http(&format!("http://{}", refused_addr())));
    for channel in ["hook", "slack", "mattermost", "pd", "sms"] {
        let (reason, retry_after) = retryable(notifier.deliver(&page(channel)).await);
        assert!(!reason.is_empty(), "{channel}");
        assert_eq!(retry_after, None, "{channel}");
    }
}

#[tokio::test]
async fn unknown_channels_and_unreadable_bodies_are_dead_letters() {
    let recv = Receiver::ok().await;
    let notifier = notifier(&Endpoints::http(&recv.url("")));
    let reason = permanent(notifier.deliver(&page("no-such-channel")).await);
    assert_eq!(reason, "unknown channel \"no-such-channel\"");
    let mut broken = page("hook");
    broken.body = "{not json".to_string();
    let reason = permanent(notifier.deliver(&broken).await);
    assert!(reason.starts_with("message body is not a notification"), "{reason}");
    assert!(recv.requests().is_empty());
}
