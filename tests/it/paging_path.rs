//! Proving a person's paging path (PRODUCT.md section 14), through real HTTP and the real
//! binary: a test page goes through each of the person's channels with its own ack link;
//! acknowledged, the path is verified; handed a pager by the rotation with
//! `test_on_handover`, the new holder is tested; a test nobody acknowledges within
//! `ack_timeout` is one `paging.unverified` to the feed and counts in
//! `firstwatch_paging_unverified`. The sweep is stepped with an injected clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firstwatch::clock::{from_unix_ms, rfc3339_ms, ManualClock};
use firstwatch::store::OutboxRow;

use crate::helpers::app::{wait_until, TestApp, OPERATOR_TOKEN, VIEWER_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::receiver::Receiver;
use crate::helpers::targets::{Behavior, FakeTarget};
use crate::paging::config;

const T0: i64 = 1_796_000_000_000;
const MINUTE: i64 = 60_000;

fn body(row: &OutboxRow) -> serde_json::Value {
    serde_json::from_str(&row.body).expect("a JSON body")
}

fn ack_path(row: &OutboxRow) -> String {
    let url = body(row)["ack_url"].as_str().unwrap_or_else(|| panic!("no ack_url in {}", row.body)).to_string();
    url[url.find("/ack/").unwrap_or_else(|| panic!("not an ack link: {url}"))..].to_string()
}

async fn rows(app: &TestApp, event: &str) -> Vec<OutboxRow> {
    app.store.outbox(None).await.expect("outbox").into_iter().filter(|r| r.event == event).collect()
}

async fn post_form(app: &TestApp, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", app.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

async fn unverified_gauge(app: &TestApp) -> String {
    let (_, metrics) = app.get("/metrics").await;
    metrics.lines().find(|l| l.starts_with("firstwatch_paging_unverified ")).unwrap_or("(missing)").to_string()
}

/// The helper config with Bob on the mail channel and `extra` in `[notifications]`.
fn with_bob(text: String, role: &str, notifications: &str) -> String {
    text.replacen(
        "[[people]]",
        &format!("[[people]]\nid = \"bob\"\nname = \"Bob\"\nrole = \"{role}\"\nchannels = [\"mail\"]\n\n[[people]]"),
        1,
    )
    .replacen("[notifications]\n", &format!("[notifications]\n{notifications}\n"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_test_page_nobody_acknowledges_raises_paging_unverified_once() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let schedule = format!(
        "[[schedules]]\nrole = \"operations-manager\"\nrotation = \"1h\"\nstart = \"{}\"\nmembers = [\"alice\", \"bob\"]\n\n[[customers]]",
        rfc3339_ms(T0 - 30 * MINUTE)
    );
    let text = with_bob(
        config(&db.url, &target, &pager, &others, "ack_timeout = \"30m\""),
        "operations-manager",
        "test_on_handover = true",
    )
    .replacen("[[customers]]", &schedule, 1);
    let clock = Arc::new(ManualClock::new(from_unix_ms(T0)));
    let app = TestApp::spawn_with_clock(&text, clock.clone()).await;

    // The first sweep learns that Alice holds the pager: no handover, no test.
    app.engine.run_due().await.expect("run_due");
    assert!(rows(&app, "test").await.is_empty());

    // The rotation hands it to Bob: Bob, and only Bob, gets a test page with an ack link, once.
    clock.set(from_unix_ms(T0 + 31 * MINUTE));
    app.engine.run_due().await.expect("run_due");
    app.engine.run_due().await.expect("run_due");
    let tests = rows(&app, "test").await;
    assert_eq!(
        tests.iter().map(|r| (r.recipient_id.as_str(), r.channel.as_str())).collect::<Vec<_>>(),
        [("bob", "mail")]
    );
    assert!(body(&tests[0])["text"].as_str().is_some_and(|t| t.contains("you now hold a pager")), "{}", tests[0].body);
    let link = ack_path(&tests[0]);

    // Not acknowledged within ack_timeout: one paging.unverified to the feed, and the gauge.
    clock.set(from_unix_ms(T0 + 60 * MINUTE));
    app.engine.run_due().await.expect("run_due");
    assert!(rows(&app, "paging.unverified").await.is_empty(), "not before the deadline");
    assert_eq!(unverified_gauge(&app).await, "firstwatch_paging_unverified 0");
    // The deadline passes while the database is locked from outside: the sweep fails and
    // writes nothing; the report comes from the stored test once the database is free.
    clock.set(from_unix_ms(T0 + 62 * MINUTE));
    let lock = crate::faults::OutsideLock::take(&db.url).await;
    assert!(app.engine.run_due().await.is_err(), "the sweep cannot write under the lock");
    lock.release().await;
    for _ in 0..3 {
        app.engine.run_due().await.expect("run_due");
    }
    let reports = rows(&app, "paging.unverified").await;
    assert_eq!(reports.iter().map(|r| r.recipient_id.as_str()).collect::<Vec<_>>(), ["feed"], "once: {reports:#?}");
    let text = body(&reports[0])["text"].as_str().unwrap_or_default().to_string();
    assert!(text.starts_with("bob's paging path is unverified") && text.contains("through mail"), "{text}");
    assert_eq!(unverified_gauge(&app).await, "firstwatch_paging_unverified 1");
    let (_, page) = app.get("/").await;
    assert!(page.contains("data-person=\"bob\"") && page.contains("Paging path unverified"), "{page}");

    // Bob's late acknowledgement proves the path after all.
    let (status, html) = post_form(&app, &link).await;
    assert!(status == 200 && html.contains("Paging path verified"), "{status} {html}");
    app.engine.run_due().await.expect("run_due");
    assert_eq!(unverified_gauge(&app).await, "firstwatch_paging_unverified 0");
    assert_eq!(rows(&app, "paging.unverified").await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_page_from_the_api_or_the_cli_reaches_the_person_and_its_link_verifies_the_path() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let text = with_bob(config(&db.url, &target, &pager, &others, "ack_timeout = \"30m\""), "night-cover", "")
        .replacen("channels = [\"mail\"]", "channels = []", 1)
        .replacen("id = \"alice\"\nname = \"Alice\"\n", "id = \"alice\"\nname = \"Alice\"\nphone = \"+15550111\"\n", 1)
        .replacen(
            "id = \"victor\"\nname = \"Victor\"\nrole = \"vp-operations\"\nchannels = [\"pager\"]",
            "id = \"victor\"\nname = \"Victor\"\nrole = \"vp-operations\"\nphone = \"+15550122\"\nchannels = [\"phone\"]",
            1,
        );
    let text = crate::helpers::app::server_keys(&text, "public_url = \"https://fw.example\"");
    // Now, not t0: the CLI below stamps its message with the real time, and the app's worker
    // sends only what is due by its own clock.
    let t0 = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis() as i64;
    let clock = Arc::new(ManualClock::new(from_unix_ms(t0)));
    let app = TestApp::spawn_with_clock(&text, clock.clone()).await;

    // Refused: a viewer, an unknown person, a person nothing can reach; nothing is queued.
    assert_eq!(app.post_json("/api/v1/people/alice/test", Some(VIEWER_TOKEN), None).await.0, 403);
    assert_eq!(app.post_json("/api/v1/people/nobody/test", Some(OPERATOR_TOKEN), None).await.0, 404);
    assert_eq!(app.post_json("/api/v1/people/bob/test", Some(OPERATOR_TOKEN), None).await.0, 409);
    assert!(rows(&app, "test").await.is_empty());

    let (code, queued) = app.post_json("/api/v1/people/alice/test", Some(OPERATOR_TOKEN), None).await;
    assert_eq!(code, 202, "{queued}");
    assert_eq!((&queued["person"], &queued["channels"]), (&"alice".into(), &serde_json::json!(["pager"])));
    assert_eq!(queued["deadline"], rfc3339_ms(t0 + 30 * MINUTE));

    // Delivered to Alice's pager: a `test` event with its own ack link.
    let delivered = pager.wait_for(1, Duration::from_secs(10)).await;
    let hook = delivered[0].json();
    assert_eq!((&hook["event"], &hook["recipient"]["id"]), (&"test".into(), &"alice".into()), "{hook}");
    let link = hook["ack_url"].as_str().expect("an ack_url").to_string();
    let link = link[link.find("/ack/").expect("an ack link")..].to_string();

    // The link shows a test, not a case, and confirming it verifies the path, once.
    let (status, html) = app.get_as(&link, None).await;
    assert!(status == 200 && html.contains("Test page for alice") && html.contains("Nothing is down"), "{html}");
    let (status, html) = post_form(&app, &link).await;
    assert!(status == 200 && html.contains("Paging path verified"), "{html}");
    assert_eq!(post_form(&app, &link).await.0, 410);
    let test = app.store.paging_test(queued["test"].as_i64().expect("an id")).await.expect("read").expect("the test");
    assert_eq!((test.acknowledged_at, test.acknowledged_via.as_deref()), (Some(t0), Some("link")));

    // Past its deadline, a verified test reports nothing.
    clock.set(from_unix_ms(t0 + 45 * MINUTE));
    app.engine.run_due().await.expect("run_due");
    assert!(rows(&app, "paging.unverified").await.is_empty());

    // The CLI queues one for the running instance to deliver.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("firstwatch.toml");
    std::fs::write(&file, &text).expect("write the config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firstwatch"))
        .args(["notify", "test", "--person", "alice", "--config"])
        .arg(&file)
        .env_remove("RUST_LOG")
        .output()
        .expect("run firstwatch");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("queued to alice through pager (1 message)"), "{stdout}");
    wait_until(Duration::from_secs(10), "the CLI's test page delivered", || async { pager.requests().len() >= 2 })
        .await;
    assert_eq!(pager.requests()[1].json()["event"], "test");

    // A text ACK proves only the texting path: Alice's tests went by webhook, so it confirms
    // nothing. Victor's went by text (twilio), so his ACK confirms his newest.
    let from = |phone: &'static str| [("AccountSid", "AC123"), ("From", phone), ("Body", "ACK")];
    let (code, twiml) = crate::ack::twilio_post(&app, "/hooks/twilio/sms", &from("+15550111"), "twilio-token").await;
    assert!(code == 200 && twiml.contains("No active case was paged to you"), "{twiml}");
    let (code, queued) = app.post_json("/api/v1/people/victor/test", Some(OPERATOR_TOKEN), None).await;
    assert_eq!((code, &queued["channels"]), (202, &serde_json::json!(["phone"])), "{queued}");
    let (_, twiml) = crate::ack::twilio_post(&app, "/hooks/twilio/sms", &from("+15550122"), "twilio-token").await;
    assert!(twiml.contains("Test page confirmed"), "{twiml}");
    let newest = app.store.paging_tests(1).await.expect("tests").remove(0);
    assert_eq!((newest.person.as_str(), newest.acknowledged_via.as_deref()), ("victor", Some("sms")));
    let (_, twiml) = crate::ack::twilio_post(&app, "/hooks/twilio/sms", &from("+15550122"), "twilio-token").await;
    assert!(twiml.contains("No active case was paged to you"), "nothing left to confirm: {twiml}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_firstwatch"))
        .args(["notify", "test", "--person", "nobody", "--config"])
        .arg(&file)
        .output()
        .expect("run firstwatch");
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_page_through_pagerduty_is_confirmed_by_taking_its_incident_there() {
    use crate::ack::{incident, pagerduty_hook, pagerduty_signature};
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let pd = Receiver::ok().await;
    let text = config(&db.url, &target, &pager, &others, "").replacen("channels = [\"pager\"]", "channels = [\"pd\"]", 1)
        + &format!(
            "\n[[channels]]\nid = \"pd\"\ntype = \"pagerduty\"\nrouting_key = \"R0UT1NG\"\nwebhook_secret = \"pd-secret\"\napi_base = \"{}\"\n",
            pd.url("")
        );
    let app = TestApp::spawn(&text).await;
    let (code, queued) = app.post_json("/api/v1/people/alice/test", Some(OPERATOR_TOKEN), None).await;
    assert_eq!(code, 202, "{queued}");
    let test_id = queued["test"].as_i64().expect("an id");

    // PagerDuty gets an incident of the test's own, with the ack link among its links.
    let sent = pd.wait_for(1, Duration::from_secs(10)).await[0].json();
    let key = format!("firstwatch-test-paging-test-{test_id}");
    assert_eq!((&sent["event_action"], &sent["dedup_key"]), (&"trigger".into(), &key.clone().into()), "{sent}");
    assert!(sent["links"].to_string().contains("/ack/"), "{sent}");

    // Taking it in PagerDuty (signed) confirms the test; a second time finds nothing to do.
    let taken = incident("incident.acknowledged", &key);
    let (code, answer) = pagerduty_hook(&app, &taken, &pagerduty_signature("pd-secret", &taken)).await;
    assert_eq!((code, &answer["status"]), (200, &"done".into()), "{answer}");
    let test = app.store.paging_test(test_id).await.expect("read").expect("the test");
    assert_eq!(test.acknowledged_via.as_deref(), Some("pagerduty"));
    let (_, answer) = pagerduty_hook(&app, &taken, &pagerduty_signature("pd-secret", &taken)).await;
    assert_eq!(answer["status"], "ignored", "{answer}");
    app.stop().await;
}
