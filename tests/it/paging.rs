//! Paging, escalation and customer updates end to end, delivered to real receivers on loopback
//! on compressed time: what the people on the other end would get, and what the API shows.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firstwatch::clock::ManualClock;
use firstwatch::store::Store;

use crate::helpers::app::{run_binary, server_keys, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::receiver::{Receiver, Recorded, Reply};
use crate::helpers::targets::{Behavior, FakeTarget};

const SECRET: &str = "s3cret";

/// One customer with one server; Alice (on call) and Victor paged through `pager`, the
/// customer through `mail` (webhook) and `phone` (twilio, for the call), the feed through `feed`.
pub fn config(db: &str, target: &FakeTarget, pager: &Receiver, others: &Receiver, cases: &str) -> String {
    format!("{}\n{}", crate::helpers::app::SERVER, config_body(db, target, pager, others, cases))
}

fn config_body(db: &str, target: &FakeTarget, pager: &Receiver, others: &Receiver, cases: &str) -> String {
    let server = Srv::new("acme-eu-1", target.url());
    format!(
        r#"
[database]
url = "{db}"
write_behind = "100ms"

[probing]
interval = "1s"
retry_interval = "100ms"
failure_threshold = 3
timeout = "100ms"

[cases]
feed = ["feed"]
{cases}

[notifications]
max_retry_delay = "200ms"
attempt_timeout = "1s"

[[channels]]
id = "pager"
type = "webhook"
url = "{pager}"
secret = "{SECRET}"

[[channels]]
id = "mail"
type = "webhook"
url = "{mail}"

[[channels]]
id = "feed"
type = "webhook"
url = "{feed}"

[[channels]]
id = "phone"
type = "twilio"
account_sid = "AC123"
auth_token = "twilio-token"
from = "+15550199"
api_base = "{twilio}"

[[people]]
id = "alice"
name = "Alice"
role = "operations-manager"
channels = ["pager"]

[[people]]
id = "victor"
name = "Victor"
role = "vp-operations"
channels = ["pager"]

[[customers]]
id = "acme"
name = "Acme"
contacts = [{{ name = "Jane", email = "jane@acme.test", phone = "+15550100", channels = ["mail", "phone"] }}]

[[customers.services]]
id = "storefront"

[[customers.services.servers]]
id = "{id}"
target = "{url}"
"#,
        pager = pager.url("/pager"),
        mail = others.url("/mail"),
        feed = others.url("/feed"),
        twilio = others.url(""),
        id = server.id,
        url = server.target,
    )
}

fn signature_of(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    format!("sha256={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub fn events(requests: &[Recorded], event: &str) -> Vec<Recorded> {
    requests.iter().filter(|r| r.header("x-firstwatch-event") == Some(event)).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_fails_four_times_arrives_once_the_receiver_recovers_with_the_same_key_body_and_signature() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let pager = Receiver::start(vec![500, 500, 500, 500]).await;
    let others = Receiver::ok().await;
    let app = TestApp::spawn(&config(&db.url, &target, &pager, &others, "")).await;

    let requests = pager.wait_for(5, Duration::from_secs(15)).await;
    assert_eq!(requests.len(), 5, "four failures, then the delivery");
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/pager");
        assert_eq!(request.body, requests[0].body, "the same body on every attempt");
        assert_eq!(request.header("x-firstwatch-idempotency-key"), requests[0].header("x-firstwatch-idempotency-key"));
        assert_eq!(request.header("x-firstwatch-signature"), Some(signature_of(&request.body).as_str()));
    }
    let body = requests[0].json();
    assert_eq!(body["event"], "page");
    assert_eq!(body["recipient"]["id"], "alice");
    assert_eq!(body["case"]["id"], "FW-000001");
    assert_eq!(
        Some(body["idempotency_key"].as_str().unwrap_or_default()),
        requests[0].header("x-firstwatch-idempotency-key")
    );

    wait_until(Duration::from_secs(5), "the page marked delivered", || async {
        app.store.outbox(None).await.expect("outbox").iter().any(|r| r.event == "page" && r.delivered_at.is_some())
    })
    .await;
    let page = app.store.outbox(None).await.expect("outbox").into_iter().find(|r| r.event == "page").expect("page row");
    assert_eq!(page.attempts, 5);
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("firstwatch_notifications_total{channel=\"pager\",outcome=\"retried\"} 4"), "{metrics}");
    assert!(metrics.contains("firstwatch_notifications_total{channel=\"pager\",outcome=\"delivered\"} 1"), "{metrics}");
    // A delivery step after it was delivered does not claim it again.
    let stepped = app.worker.try_deliver_next().await.expect("a delivery step");
    assert!(stepped.iter().all(|(id, _)| *id != page.id), "{stepped:?}");
    assert_eq!(pager.requests().len(), 5, "never sent again once delivered");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_refuses_a_message_makes_a_visible_dead_letter_at_once() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let pager = Receiver::start(vec![Reply::status(404).body("no such hook")]).await;
    let others = Receiver::ok().await;
    let app = TestApp::spawn(&config(&db.url, &target, &pager, &others, "")).await;

    wait_until(Duration::from_secs(10), "a dead letter", || async {
        app.get_json("/api/v1/dead-letters").await["dead_letters"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    let dead = app.get_json("/api/v1/dead-letters").await;
    let letter = &dead["dead_letters"][0];
    assert_eq!((letter["event"].as_str(), letter["channel"].as_str()), (Some("page"), Some("pager")));
    assert_eq!((letter["case"].as_str(), letter["attempts"].as_i64()), (Some("FW-000001"), Some(1)));
    assert!(letter["last_error"].as_str().is_some_and(|e| e.contains("404")), "{letter}");
    let timeline = app.get_json("/api/v1/cases/1").await["timeline"].clone();
    assert!(timeline.as_array().is_some_and(|t| t.iter().any(|e| e["kind"] == "dead_letter")), "{timeline}");
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("firstwatch_notification_dead_letters_total 1"), "{metrics}");
    assert_eq!(pager.requests().len(), 1, "a refused message is not retried");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_page_escalation_call_hourly_updates_recovery_and_silence() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let pager = Receiver::ok().await;
    let others = Receiver::ok().await;
    let cases = "ack_timeout = \"1s\"\nupdate_interval = \"1s\"";
    let app = TestApp::spawn(&config(&db.url, &target, &pager, &others, cases)).await;

    // Outage -> case -> page to the Operations Manager and a notice to the customer.
    let first = pager.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(first[0].json()["event"], "page");
    assert_eq!(first[0].json()["recipient"]["id"], "alice");
    // Nobody acknowledges: after ack_timeout the VP is paged and the customer called.
    let paged = pager.wait_for(2, Duration::from_secs(10)).await;
    let escalation = paged[1].json();
    assert_eq!(
        (escalation["event"].as_str(), escalation["recipient"]["id"].as_str()),
        (Some("escalation"), Some("victor"))
    );
    wait_until(Duration::from_secs(10), "the call and two updates", || async {
        let requests = others.requests();
        requests.iter().any(|r| r.path.ends_with("/Calls.json")) && events(&requests, "customer.update").len() >= 2
    })
    .await;
    let requests = others.requests();
    let call = requests.iter().find(|r| r.path.ends_with("/Calls.json")).expect("a call");
    assert_eq!(call.path, "/2010-04-01/Accounts/AC123/Calls.json");
    assert_eq!(call.field("To"), "+15550100");
    assert!(call.field("Twiml").contains("<Say>"), "{}", call.field("Twiml"));
    assert_eq!(events(&requests, "customer.notice").len(), 1);
    let update = events(&requests, "customer.update")[0].json();
    assert!(
        update["text"].as_str().is_some_and(|t| t.contains("has been down for") && t.contains("http 503")),
        "{update}"
    );
    assert_eq!(events(&pager.requests(), "escalation").len(), 1, "each level fires once");

    // Recovery: the customer hears it is back, once; updates stop.
    target.set(Behavior::Healthy);
    // The customer's own copy (the feed's may come first).
    wait_until(Duration::from_secs(10), "the resolution notice to the customer", || async {
        events(&others.requests(), "case.resolved").iter().any(|r| r.path == "/mail")
    })
    .await;
    // That updates stop at the recovery is stepped on a ManualClock in `escalation.rs`; here
    // one more engine sweep and delivery step must not tell the customer again.
    app.engine.run_due().await.expect("an engine sweep");
    app.worker.try_deliver_next().await.expect("a delivery step");
    let requests = others.requests();
    let to_customer = |event: &str| events(&requests, event).iter().filter(|r| r.path == "/mail").count();
    assert_eq!((to_customer("case.recovered"), to_customer("case.resolved")), (1, 1), "told once");
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("firstwatch_escalations_total 1"), "{metrics}");
    assert!(metrics.contains("firstwatch_pages_total{role=\"vp-operations\"} 1"), "{metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_stops_further_escalation() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let pager = Receiver::ok().await;
    let others = Receiver::ok().await;
    let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)));
    let app =
        TestApp::spawn_with_clock(&config(&db.url, &target, &pager, &others, "ack_timeout = \"2s\""), clock.clone())
            .await;
    pager.wait_for(1, Duration::from_secs(10)).await;
    app.engine
        .act(
            firstwatch::domain::CaseNumber(1),
            "alice",
            firstwatch::cases::OperatorAction::Acknowledge(firstwatch::outbox::AckVia::Api),
        )
        .await
        .expect("ack");
    // Well past the second level's time, stepped rather than slept.
    clock.advance(Duration::from_secs(3600));
    app.engine.run_due().await.expect("run_due");
    let outbox = app.store.outbox(None).await.expect("outbox");
    assert!(outbox.iter().all(|r| r.event != "escalation"), "worked cases do not escalate: {outbox:#?}");
    assert!(outbox.iter().all(|r| r.event != "customer.call"), "nor call the customer");
    assert!(outbox.iter().any(|r| r.event == "customer.update"), "the customer still hears, the clock did move");
    app.stop().await;
}

async fn delivered_keys(store: &Store) -> usize {
    store.outbox(None).await.expect("outbox").iter().filter(|r| r.delivered_at.is_some()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_before_and_during_delivery_loses_nothing_and_repeats_only_the_message_in_flight() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("firstwatch.toml");

    // First life: the pager receiver holds the first page for 30 s (it is in flight when we
    // kill), every other message is refused with 503 so it stays queued.
    let pager = Receiver::start(vec![Reply::status(200).after(Duration::from_secs(30))]).await;
    let refusing = Receiver::start(vec![503; 10_000]).await;
    let config = config(&db.url, &target, &pager, &refusing, "");
    std::fs::write(&path, server_keys(&config, "listen = \"127.0.0.1:0\"")).expect("write config");
    let mut process = run_binary(&path);
    pager.wait_for(1, Duration::from_secs(20)).await;
    refusing.wait_for(2, Duration::from_secs(20)).await;
    process.start_kill().expect("kill -9");
    process.wait().await.expect("reap");
    let store = Store::connect(&db.url).await.expect("open the database");
    let queued = store.outbox(None).await.expect("outbox");
    assert!(queued.len() >= 3, "page, notice and feed were queued: {queued:#?}");
    assert_eq!(delivered_keys(&store).await, 0, "nothing was confirmed before the kill");

    // Second life, every receiver healthy: everything queued arrives; only the page that was
    // in flight arrives a second time (same key, same body), after its lease ran out.
    let pager_again = Receiver::ok().await;
    let others = Receiver::ok().await;
    let config = self::config(&db.url, &target, &pager_again, &others, "");
    std::fs::write(&path, server_keys(&config, "listen = \"127.0.0.1:0\"")).expect("write config");
    let mut process = run_binary(&path);
    wait_until(Duration::from_secs(20), "every queued message delivered", || async {
        delivered_keys(&store).await >= queued.len()
    })
    .await;
    process.start_kill().expect("kill -9");
    process.wait().await.expect("reap");

    let mut keys: Vec<String> = pager_again
        .requests()
        .iter()
        .chain(others.requests().iter())
        .filter_map(|r| r.header("x-firstwatch-idempotency-key").map(str::to_string))
        .collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "no message delivered twice in the second life");
    let resent = pager_again.requests().into_iter().find(|r| r.json()["event"] == "page").expect("the page, again");
    assert_eq!(resent.body, pager.requests()[0].body, "the in-flight page is resent with the same body");
    // Webhooks carry the key in a header (the SMS to the customer is checked by its row).
    for row in queued.iter().filter(|r| r.channel != "phone") {
        assert!(keys.contains(&row.idempotency_key), "{} was delivered after the restart", row.idempotency_key);
    }
    store.close().await;
}
