//! Acknowledging from the page itself (PRODUCT.md section 14), through real HTTP: every page
//! carries its own single-use ack link; GET shows the case and changes nothing, POST
//! acknowledges once as the paged person, a used link is gone, an unknown one not found;
//! `case.acknowledged` reaches the people paged and the feed, and the next escalation level
//! never fires. Escalation is stepped with an injected clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firstwatch::clock::{from_unix_ms, ManualClock};
use firstwatch::store::{CaseRow, OutboxRow};

use crate::helpers::app::{wait_until, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::receiver::Receiver;
use crate::helpers::targets::{Behavior, FakeTarget};
use crate::paging::config;

async fn the_case(app: &TestApp) -> Option<CaseRow> {
    app.store.cases(&[], 10).await.expect("cases").into_iter().next()
}

fn body(row: &OutboxRow) -> serde_json::Value {
    serde_json::from_str(&row.body).expect("a JSON body")
}

/// The path of the message's ack link (`/ack/…`), whatever host `public_url` names.
fn ack_path(row: &OutboxRow) -> String {
    let url = body(row)["ack_url"].as_str().unwrap_or_else(|| panic!("no ack_url in {}", row.body)).to_string();
    let at = url.find("/ack/").unwrap_or_else(|| panic!("not an ack link: {url}"));
    url[at..].to_string()
}

async fn send(app: &TestApp, method: &str, path: &str, origin: Option<&str>) -> (u16, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let url = format!("http://{}{path}", app.addr);
    let mut request = match method {
        "GET" => client.get(&url),
        _ => client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(""),
    };
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_link_shows_the_case_acknowledges_once_and_tells_everyone_paged() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)));
    let app =
        TestApp::spawn_with_clock(&config(&db.url, &target, &pager, &others, "ack_timeout = \"2h\""), clock.clone())
            .await;
    wait_until(Duration::from_secs(10), "a Severity 1 case", || async { the_case(&app).await.is_some() }).await;
    let case = the_case(&app).await.expect("a case");
    let number = format!("FW-{:06}", case.id);
    let outbox = || async { app.store.outbox(Some(case.id)).await.expect("outbox") };

    // The page to Alice carries a link of its own; the customer's notice and the feed do not.
    let rows = outbox().await;
    let page = rows.iter().find(|r| r.event == "page" && r.recipient_id == "alice").expect("alice paged");
    let link = ack_path(page);
    assert_eq!(link.len(), "/ack/".len() + 64, "{link}");
    for other in rows.iter().filter(|r| r.event != "page") {
        assert!(body(other).get("ack_url").is_none(), "only pages carry a link: {}", other.body);
    }

    // GET shows the case and a button, and changes nothing (a mail scanner may follow it).
    for _ in 0..2 {
        let (status, html) = send(&app, "GET", &link, None).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(&number) && html.contains("acme") && html.contains("storefront"), "{html}");
        assert!(html.contains("<form method=\"post\"") && html.contains("as alice"), "{html}");
    }
    assert_eq!(the_case(&app).await.map(|c| c.status.to_string()), Some("open".to_string()));

    // A form from another site is refused and changes nothing; an unknown or malformed token
    // is not found.
    assert_eq!(send(&app, "POST", &link, Some("https://evil.example")).await.0, 403);
    assert_eq!(the_case(&app).await.map(|c| c.status.to_string()), Some("open".to_string()));
    assert_eq!(send(&app, "POST", &format!("/ack/{}", "0".repeat(64)), None).await.0, 404);
    assert_eq!(send(&app, "GET", "/ack/not-a-token", None).await.0, 404);

    // POST acknowledges as the paged person, once.
    let (status, html) = send(&app, "POST", &link, None).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("acknowledged") && html.contains("alice"), "{html}");
    let taken = the_case(&app).await.expect("the case");
    assert_eq!(
        (taken.status.to_string(), taken.acknowledged_by.as_deref()),
        ("acknowledged".to_string(), Some("alice"))
    );
    assert_eq!(send(&app, "POST", &link, None).await.0, 410, "a link works once");
    assert_eq!(send(&app, "GET", &link, None).await.0, 410);

    // Everyone paged (Alice, on the pager) and the feed hear who took it and how.
    let rows = outbox().await;
    let acked: Vec<&OutboxRow> = rows.iter().filter(|r| r.event == "case.acknowledged").collect();
    let to: Vec<(&str, &str)> = acked.iter().map(|r| (r.recipient_id.as_str(), r.channel.as_str())).collect();
    assert_eq!(to, [("alice", "pager"), ("feed", "feed")], "{acked:#?}");
    for row in &acked {
        assert_eq!(body(row)["acknowledged"], serde_json::json!({ "by": "alice", "via": "link" }), "{}", row.body);
    }

    // The VP's level never fires: the case was taken.
    let since = case.severity1_since.expect("Severity 1");
    clock.set(from_unix_ms(since + 3 * 3_600_000));
    app.engine.run_due().await.expect("run_due");
    let rows = outbox().await;
    assert_eq!(rows.iter().filter(|r| r.event == "escalation").count(), 0, "{rows:#?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_link_of_a_resolved_case_is_gone_and_an_acknowledged_case_is_not_taken_twice() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let app = TestApp::spawn(&config(&db.url, &target, &pager, &others, "")).await;
    wait_until(Duration::from_secs(10), "a Severity 1 case", || async { the_case(&app).await.is_some() }).await;
    let case = the_case(&app).await.expect("a case");
    let page = app.store.outbox(Some(case.id)).await.expect("outbox").into_iter().find(|r| r.event == "page");
    let link = ack_path(&page.expect("a page"));

    // An operator takes it through the API first: Alice's link then changes nothing (but is spent).
    let (status, _) = app
        .post_json(&format!("/api/v1/cases/FW-{:06}/ack", case.id), Some(crate::helpers::app::OPERATOR_TOKEN), None)
        .await;
    assert_eq!(status, 200);
    let (status, html) = send(&app, "POST", &link, None).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("acknowledged already") && html.contains("test-operator"), "{html}");
    assert_eq!(the_case(&app).await.and_then(|c| c.acknowledged_by), Some("test-operator".to_string()));
    let acked = app.store.outbox(Some(case.id)).await.expect("outbox");
    let acked: Vec<_> = acked.iter().filter(|r| r.event == "case.acknowledged").collect();
    assert!(acked.iter().all(|r| body(r)["acknowledged"]["via"] == "api"), "told once, the API's way: {acked:#?}");

    // Resolved: a link of the case is gone.
    app.engine
        .act(firstwatch::domain::CaseNumber(case.id), "victor", firstwatch::cases::OperatorAction::Resolve)
        .await
        .expect("resolve");
    assert_eq!(send(&app, "GET", &link, None).await.0, 410);
    app.stop().await;
}

pub fn pagerduty_signature(secret: &str, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body.as_bytes());
    format!("v1={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub async fn pagerduty_hook(app: &TestApp, body: &str, signature: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/hooks/pagerduty", app.addr))
        .header("content-type", "application/json")
        .header("x-pagerduty-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

pub fn incident(event_type: &str, key: &str) -> String {
    serde_json::json!({
        "event": {
            "id": "01DEN4HPBQAN8P4H2EONNIQRGJ", "event_type": event_type, "resource_type": "incident",
            "agent": { "id": "PLH1HKV", "summary": "Alice Example", "type": "user_reference" },
            "data": { "id": "PGR0VU2", "type": "incident", "incident_key": key, "status": "acknowledged" }
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_webhooks_acknowledge_and_resolve_with_a_valid_signature_and_echo_nothing_back() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let text = config(&db.url, &target, &pager, &others, "").replace("feed = [\"feed\"]", "feed = [\"feed\", \"pd\"]")
        + &format!(
            "\n[[channels]]\nid = \"pd\"\ntype = \"pagerduty\"\nrouting_key = \"R0UT1NG\"\nwebhook_secret = \"pd-secret\"\napi_base = \"{}\"\n",
            others.url("")
        );
    let app = TestApp::spawn(&text).await;
    wait_until(Duration::from_secs(10), "a Severity 1 case", || async { the_case(&app).await.is_some() }).await;
    let case = the_case(&app).await.expect("a case");
    let number = format!("FW-{:06}", case.id);
    let status = || async { the_case(&app).await.map(|c| c.status.to_string()).unwrap_or_default() };

    // Wrong or missing signature: 403, and nothing changes.
    let ack = incident("incident.acknowledged", &number);
    assert_eq!(pagerduty_hook(&app, &ack, &pagerduty_signature("not-the-secret", &ack)).await.0, 403);
    assert_eq!(pagerduty_hook(&app, &ack, "").await.0, 403);
    assert_eq!(status().await, "open");

    // Signed: the case is acknowledged by the PagerDuty user.
    let (code, answer) = pagerduty_hook(&app, &ack, &pagerduty_signature("pd-secret", &ack)).await;
    assert_eq!(code, 200, "{answer}");
    let taken = the_case(&app).await.expect("the case");
    assert_eq!(
        (taken.status.to_string(), taken.acknowledged_by.as_deref()),
        ("acknowledged".into(), Some("pagerduty:Alice Example"))
    );
    let rows = app.store.outbox(Some(case.id)).await.expect("outbox");
    let acked: Vec<&OutboxRow> = rows.iter().filter(|r| r.event == "case.acknowledged").collect();
    let channels: Vec<&str> = acked.iter().map(|r| r.channel.as_str()).collect();
    assert_eq!(channels, ["pager", "feed"], "the paged and the feed, but not back to PagerDuty: {acked:#?}");
    assert!(acked.iter().all(|r| body(r)["acknowledged"]["via"] == "pagerduty"));

    // The same event again, an incident of nobody's, an event we do not act on: 200, nothing.
    assert_eq!(pagerduty_hook(&app, &ack, &pagerduty_signature("pd-secret", &ack)).await.0, 200);
    let stranger = incident("incident.acknowledged", "not-ours-123");
    assert_eq!(pagerduty_hook(&app, &stranger, &pagerduty_signature("pd-secret", &stranger)).await.0, 200);
    let other = incident("incident.priority_updated", &number);
    assert_eq!(pagerduty_hook(&app, &other, &pagerduty_signature("pd-secret", &other)).await.0, 200);
    let again = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!(again.iter().filter(|r| r.event == "case.acknowledged").count(), acked.len(), "told once");

    // Resolved in PagerDuty: resolved here.
    let resolved = incident("incident.resolved", &number);
    assert_eq!(pagerduty_hook(&app, &resolved, &pagerduty_signature("pd-secret", &resolved)).await.0, 200);
    assert_eq!(status().await, "resolved");
    // Signed but not JSON of that shape: refused as a bad request.
    assert_eq!(pagerduty_hook(&app, "{}", &pagerduty_signature("pd-secret", "{}")).await.0, 400);
    app.stop().await;
}

async fn twilio_sms(app: &TestApp, fields: &[(&str, &str)], token: &str) -> (u16, String) {
    twilio_post(app, "/hooks/twilio/sms", fields, token).await
}

/// A form POST to `path_and_query` signed as Twilio signs it for `public_url` https://fw.example.
pub async fn twilio_post(app: &TestApp, path_and_query: &str, fields: &[(&str, &str)], token: &str) -> (u16, String) {
    let owned: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let signed_url = format!("https://fw.example{path_and_query}");
    let signature = firstwatch::web::twilio_signature(token, &signed_url, &owned);
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let response = reqwest::Client::new()
        .post(format!("http://{}{path_and_query}", app.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_text_from_a_paged_persons_phone_acknowledges_and_nothing_else_does() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let text = config(&db.url, &target, &pager, &others, "").replacen(
        "id = \"alice\"\nname = \"Alice\"\n",
        "id = \"alice\"\nname = \"Alice\"\nphone = \"+15550111\"\n",
        1,
    );
    let text = crate::helpers::app::server_keys(&text, "public_url = \"https://fw.example\"");
    let app = TestApp::spawn(&text).await;
    wait_until(Duration::from_secs(10), "a Severity 1 case", || async { the_case(&app).await.is_some() }).await;
    let case = the_case(&app).await.expect("a case");
    let number = format!("FW-{:06}", case.id);
    let status = || async { the_case(&app).await.map(|c| c.status.to_string()).unwrap_or_default() };
    let from_alice = [("AccountSid", "AC123"), ("From", "+15550111"), ("To", "+15550199"), ("Body", " ack ")];

    // A wrong signature: 403, nothing changes. An unknown number or another text: a TwiML
    // answer, nothing changes.
    assert_eq!(twilio_sms(&app, &from_alice, "not-the-token").await.0, 403);
    let stranger = [("AccountSid", "AC123"), ("From", "+15559999"), ("Body", "ACK")];
    let (code, twiml) = twilio_sms(&app, &stranger, "twilio-token").await;
    assert!(code == 200 && twiml.contains("<Response><Message>") && twiml.contains("not on firstwatch"), "{twiml}");
    let (_, twiml) =
        twilio_sms(&app, &[("AccountSid", "AC123"), ("From", "+15550111"), ("Body", "on my way")], "twilio-token")
            .await;
    assert!(twiml.contains("Reply ACK"), "{twiml}");
    assert_eq!(status().await, "open");

    // ACK from Alice's phone takes her latest paged case, as Alice.
    let (code, twiml) = twilio_sms(&app, &from_alice, "twilio-token").await;
    assert_eq!(code, 200, "{twiml}");
    assert!(twiml.contains(&format!("{number} acknowledged by alice")), "{twiml}");
    let taken = the_case(&app).await.expect("the case");
    assert_eq!((taken.status.to_string(), taken.acknowledged_by.as_deref()), ("acknowledged".into(), Some("alice")));
    let rows = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert!(rows.iter().filter(|r| r.event == "case.acknowledged").all(|r| body(r)["acknowledged"]["via"] == "sms"));

    // Naming the case again says it is taken already.
    let named = [("AccountSid", "AC123"), ("From", "+15550111"), ("Body", &*format!("ACK {number}"))];
    let (_, twiml) = twilio_sms(&app, &named, "twilio-token").await;
    assert!(twiml.contains("acknowledged already, by alice"), "{twiml}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_page_says_press_1_and_the_key_press_acknowledges_as_the_person_called() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let ring = Receiver::ok().await;
    let text = config(&db.url, &target, &pager, &others, "")
        .replacen(
            "id = \"alice\"\nname = \"Alice\"\n",
            "id = \"alice\"\nname = \"Alice\"\nphone = \"+15550111\"\n",
            1,
        )
        .replacen("channels = [\"pager\"]", "channels = [\"pager\", \"ring\"]", 1)
        .replacen(
            "[[people]]",
            &format!(
                "[[channels]]\nid = \"ring\"\ntype = \"twilio\"\naccount_sid = \"AC123\"\nauth_token = \"twilio-token\"\n\
                 from = \"+15550199\"\napi_base = \"{}\"\nvoice_pages = true\n\n[[people]]",
                ring.url("")
            ),
            1,
        );
    let text = crate::helpers::app::server_keys(&text, "public_url = \"https://fw.example\"");
    let app = TestApp::spawn(&text).await;
    let calls = ring.wait_for(1, Duration::from_secs(15)).await;
    let call = &calls[0];
    assert!(call.path.ends_with("/Accounts/AC123/Calls.json"), "a call, not a text: {}", call.path);
    assert_eq!(call.field("To"), "+15550111");
    let twiml = call.field("Twiml");
    assert!(twiml.contains("<Gather numDigits=\"1\"") && twiml.contains("Press 1 to acknowledge"), "{twiml}");
    let case = the_case(&app).await.expect("a case");
    assert!(twiml.contains(&format!("case F W {}", case.id)) && twiml.contains("customer acme"), "{twiml}");
    let action = twiml
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no action in {twiml}"))
        .replace("&amp;", "&");
    let path = action.strip_prefix("https://fw.example").unwrap_or_else(|| panic!("{action}")).to_string();
    assert!(path.starts_with("/hooks/twilio/voice?ack="), "{path}");
    let status = || async { the_case(&app).await.map(|c| c.status.to_string()).unwrap_or_default() };
    let pressed = |digits: &'static str| [("AccountSid", "AC123"), ("To", "+15550111"), ("Digits", digits)];

    // A wrong signature, or another key: nothing changes.
    assert_eq!(twilio_post(&app, &path, &pressed("1"), "not-the-token").await.0, 403);
    let (code, said) = twilio_post(&app, &path, &pressed("2"), "twilio-token").await;
    assert!(code == 200 && said.contains("<Say>") && said.contains("nothing was changed"), "{said}");
    assert_eq!(status().await, "open");

    // 1 acknowledges as Alice, by voice, once.
    let (code, said) = twilio_post(&app, &path, &pressed("1"), "twilio-token").await;
    assert!(code == 200 && said.contains(&format!("Case F W {} acknowledged by alice", case.id)), "{said}");
    let taken = the_case(&app).await.expect("the case");
    assert_eq!((taken.status.to_string(), taken.acknowledged_by.as_deref()), ("acknowledged".into(), Some("alice")));
    let rows = app.store.outbox(Some(case.id)).await.expect("outbox");
    let acks: Vec<_> = rows.iter().filter(|r| r.event == "case.acknowledged").collect();
    assert!(!acks.is_empty() && acks.iter().all(|r| body(r)["acknowledged"]["via"] == "voice"), "{acks:?}");
    let (_, said) = twilio_post(&app, &path, &pressed("1"), "twilio-token").await;
    assert!(said.contains("acknowledged already"), "{said}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_acknowledges_only_its_own_case_and_only_as_the_person_it_was_sent_to() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (target, second) =
        (FakeTarget::start(Behavior::Status(503)).await, FakeTarget::start(Behavior::Status(503)).await);
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    // Two people hold the operations-manager role (no schedule: both are paged), and a second
    // service fails too, so there are two cases with a link each per person.
    let text = config(&db.url, &target, &pager, &others, "").replacen(
        "[[people]]",
        "[[people]]\nid = \"olga\"\nname = \"Olga\"\nrole = \"operations-manager\"\nchannels = [\"pager\"]\n\n[[people]]",
        1,
    ) + &format!(
        "\n[[customers.services]]\nid = \"checkout\"\n\n[[customers.services.servers]]\nid = \"acme-eu-2\"\ntarget = \"{}\"\n",
        second.url()
    );
    let app = TestApp::spawn(&text).await;
    let cases = || async { app.store.cases(&[], 10).await.expect("cases") };
    wait_until(Duration::from_secs(10), "two cases", || async { cases().await.len() == 2 }).await;
    let rows = app.store.outbox(None).await.expect("outbox");
    let link = |case: &str, person: &str| {
        let row = rows
            .iter()
            .find(|r| r.event == "page" && r.recipient_id == person && body(r)["case"]["service"] == case)
            .unwrap_or_else(|| panic!("no page about {case} to {person}: {rows:#?}"));
        ack_path(row)
    };
    let (alice_store, olga_store, olga_checkout) =
        (link("storefront", "alice"), link("storefront", "olga"), link("checkout", "olga"));
    let case_of = |service: &'static str| async move {
        cases().await.into_iter().find(|c| c.service == service).expect("the case")
    };

    // Alice's link of the storefront case takes that case, as Alice; checkout stays open.
    assert_eq!(send(&app, "POST", &alice_store, None).await.0, 200);
    let storefront = case_of("storefront").await;
    assert_eq!(
        (storefront.status.to_string(), storefront.acknowledged_by.as_deref()),
        ("acknowledged".into(), Some("alice"))
    );
    assert_eq!(case_of("checkout").await.status.to_string(), "open");

    // Olga's link of the same case changes nothing: it stays Alice's.
    let (status, html) = send(&app, "POST", &olga_store, None).await;
    assert!(status == 200 && html.contains("acknowledged already"), "{html}");
    assert_eq!(case_of("storefront").await.acknowledged_by.as_deref(), Some("alice"));

    // Olga's checkout link takes checkout, as Olga.
    assert_eq!(send(&app, "POST", &olga_checkout, None).await.0, 200);
    assert_eq!(case_of("checkout").await.acknowledged_by.as_deref(), Some("olga"));
    app.stop().await;
}
