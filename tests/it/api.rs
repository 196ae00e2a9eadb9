//! The JSON API as an operator's script uses it: auth, case actions, maintenance, bad input.

use std::time::Duration;

use crate::helpers::app::{config_paging, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
const TOKEN: &str = "op-secret";

fn config(db: &str, target: &FakeTarget) -> String {
    let text = config_paging(db, FAST, &[Srv::new("acme-eu-1", target.url())], "", "");
    text
}

async fn with_open_case() -> (TestDb, FakeTarget, TestApp) {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let app = TestApp::spawn(&config(&db.url, &target)).await;
    wait_until(Duration::from_secs(10), "a case", || async {
        app.get_json("/api/v1/cases?status=open").await["cases"].as_array().is_some_and(|c| !c.is_empty())
    })
    .await;
    (db, target, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_are_listed_and_shown_with_their_timeline() {
    let (_db, _target, app) = with_open_case().await;
    let list = app.get_json("/api/v1/cases?status=open").await;
    let case = &list["cases"][0];
    assert_eq!(case["id"], "FW-000001");
    assert_eq!(case["severity"], 1);
    assert_eq!(case["status"], "open");
    assert_eq!(case["customer"], "acme");
    assert_eq!(case["service"], "storefront");
    assert_eq!(case["server"], "acme-eu-1");
    assert_eq!(case["consecutive_failures"], 3);
    assert_eq!(case["last_error"], "http 500");
    assert!(case["opened_at"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24));

    let detail = app.get_json("/api/v1/cases/FW-000001").await;
    assert_eq!(detail["case"]["id"], "FW-000001");
    let first = &detail["timeline"][0];
    assert_eq!((first["kind"].as_str(), first["actor"].as_str()), (Some("opened"), Some("firstwatch")));
    assert!(first["at"].as_str().is_some() && first["text"].as_str().is_some());

    assert_eq!(app.get("/api/v1/cases/FW-000099").await.0, 404);
    assert_eq!(app.get("/api/v1/cases/banana").await.0, 400);
    assert_eq!(app.get("/api/v1/cases?status=nonsense").await.0, 400);
    assert_eq!(app.get_json("/api/v1/cases?status=closed").await["cases"], serde_json::json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_calls_need_an_operator_token_and_work_a_case() {
    let (_db, _target, app) = with_open_case().await;
    let (status, body) = app.post_json("/api/v1/cases/FW-000001/ack", None, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].is_string());
    let (status, _) = app.post_json("/api/v1/cases/FW-000001/ack", Some("wrong"), None).await;
    assert_eq!(status, 403);
    let (status, body) = app.post_json("/api/v1/cases/FW-000001/ack", Some("viewer-secret"), None).await;
    assert_eq!(status, 403, "a viewer only reads: {body}");
    assert_eq!(app.get_json("/api/v1/cases/1").await["case"]["status"], "open", "refused calls change nothing");

    // The caller cannot choose the actor: it is the token's name.
    let (status, body) = app.post_json("/api/v1/cases/FW-000001/ack", Some(TOKEN), Some(r#"{"actor": "alice"}"#)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("actor")), "{body}");
    let (status, body) = app.post_json("/api/v1/cases/FW-000001/ack", Some(TOKEN), Some("{}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["case"]["status"], "acknowledged");
    let acked = body["timeline"].as_array().and_then(|t| t.iter().find(|e| e["kind"] == "acknowledged")).cloned();
    assert_eq!(acked.map(|e| e["actor"].clone()), Some(serde_json::json!("test-operator")));
    let (status, body) = app.post_json("/api/v1/cases/FW-000001/ack", Some(TOKEN), None).await;
    assert_eq!(status, 409, "acknowledged twice: {body}");
    assert_eq!(body["error"], "cannot acknowledge a case that is acknowledged");

    let (status, body) =
        app.post_json("/api/v1/cases/1/notes", Some(TOKEN), Some(r#"{"text": "Failing over to the secondary"}"#)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["case"]["status"], "in_progress");
    let last = body["timeline"].as_array().and_then(|t| t.last()).cloned().unwrap_or_default();
    assert_eq!((last["kind"].as_str(), last["text"].as_str()), (Some("note"), Some("Failing over to the secondary")));
    assert_eq!(last["actor"], "test-operator");

    let (status, _) = app.post_json("/api/v1/cases/1/close", Some(TOKEN), None).await;
    assert_eq!(status, 409, "close before resolve");
    let (status, body) = app.post_json("/api/v1/cases/1/resolve", Some(TOKEN), None).await;
    assert_eq!((status, body["case"]["status"].as_str()), (200, Some("resolved")));
    let (status, body) = app.post_json("/api/v1/cases/1/close", Some(TOKEN), None).await;
    assert_eq!((status, body["case"]["status"].as_str()), (200, Some("closed")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_a_json_4xx_and_change_nothing() {
    let (_db, _target, app) = with_open_case().await;
    for body in ["{", "[]", "{\"text\": 5}", "{\"txt\": \"x\"}", "{\"text\": \"\"}", "null", "\"text\""] {
        let (status, answer) = app.post_json("/api/v1/cases/1/notes", Some(TOKEN), Some(body)).await;
        assert!((400..500).contains(&status), "{body} -> {status} {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (status, _) = app.post_json("/api/v1/cases/1/ack", Some(TOKEN), Some("{\"actor\": 7}")).await;
    assert_eq!(status, 400);
    let (status, _) = app.post_json("/api/v1/cases/99/ack", Some(TOKEN), None).await;
    assert_eq!(status, 404);
    let timeline = app.get_json("/api/v1/cases/1").await["timeline"].as_array().map(Vec::len);
    assert_eq!(timeline, Some(1), "only the opening event");
    assert_eq!(app.get_json("/api/v1/cases/1").await["case"]["status"], "open");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_windows_are_added_at_run_time_and_take_effect() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&config(&db.url, &target)).await;
    let now = firstwatch::clock::unix_ms(std::time::SystemTime::now());
    let (start, end) = (firstwatch::clock::rfc3339_ms(now - 1000), firstwatch::clock::rfc3339_ms(now + 3_600_000));

    let bad = [
        format!(r#"{{"server": "nope", "start": "{start}", "end": "{end}"}}"#),
        format!(r#"{{"start": "{start}", "end": "{end}"}}"#),
        format!(r#"{{"server": "acme-eu-1", "customer": "acme", "start": "{start}", "end": "{end}"}}"#),
        format!(r#"{{"server": "acme-eu-1", "start": "{end}", "end": "{start}"}}"#),
        r#"{"server": "acme-eu-1", "start": "yesterday", "end": "tomorrow"}"#.to_string(),
    ];
    for body in &bad {
        let (status, answer) = app.post_json("/api/v1/maintenance", Some(TOKEN), Some(body)).await;
        assert_eq!(status, 400, "{body} -> {answer}");
    }
    let (status, _) = app.post_json("/api/v1/maintenance", None, Some(&bad[0])).await;
    assert_eq!(status, 401);

    let good = format!(r#"{{"server": "acme-eu-1", "start": "{start}", "end": "{end}", "reason": "disk swap"}}"#);
    let (status, window) = app.post_json("/api/v1/maintenance", Some(TOKEN), Some(&good)).await;
    assert_eq!(status, 201, "{window}");
    assert_eq!((window["server"].as_str(), window["source"].as_str()), (Some("acme-eu-1"), Some("api")));
    assert_eq!(window["created_by"], "test-operator", "added by the token's name");
    let list = app.get_json("/api/v1/maintenance").await;
    assert_eq!(list["windows"].as_array().map(Vec::len), Some(1));

    target.set(Behavior::Status(500));
    wait_until(Duration::from_secs(10), "three failures", || async {
        app.status("acme-eu-1").consecutive_failures >= 3
    })
    .await;
    assert_eq!(app.get_json("/api/v1/servers").await["servers"][0]["state"], "maintenance");
    // One sweep now: it would open the case if the window did not hold it back.
    app.engine.run_due().await.expect("the engine's sweep");
    assert_eq!(app.get_json("/api/v1/cases").await["cases"], serde_json::json!([]), "no case inside the window");
    app.stop().await;
}

/// A client that sends its headers and then trickles (here: stops) its body holds the
/// connection for at most 30 s: then a JSON 408, and nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408_after_thirty_seconds() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&config(&db.url, &target)).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/maintenance HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"server\":",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.expect("send the head and a little of the body");
    let started = tokio::time::Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(45), stream.read(&mut answer))
        .await
        .expect("an answer within 45 s")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\""), "a JSON error: {answer}");
    assert!(started.elapsed() >= Duration::from_secs(29), "not before the deadline");
    assert_eq!(app.get_json("/api/v1/maintenance").await["windows"], serde_json::json!([]), "nothing added");
    app.stop().await;
}

/// Walk a list endpoint page by page; the items' `key` field, and how many pages it took.
async fn walk(app: &TestApp, path: &str, items: &str, key: &str, limit: usize) -> (Vec<String>, usize) {
    let (mut seen, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let page = app.get_json(&url).await;
        pages += 1;
        let list = page[items].as_array().cloned().unwrap_or_default();
        assert!(list.len() <= limit, "{url}: {page}");
        seen.extend(list.iter().map(|i| i[key].as_str().unwrap_or_default().to_string()));
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 100, "a cursor that never ends");
    }
    (seen, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_and_cases_come_a_page_at_a_time_with_a_cursor_to_the_next() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let ids: Vec<String> = (0..7).map(|i| format!("s-{i}")).collect();
    let servers: Vec<Srv<'_>> = ids.iter().map(|id| Srv::new(id, target.url())).collect();
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &servers, "", "")).await;

    let (seen, pages) = walk(&app, "/api/v1/servers", "servers", "id", 3).await;
    assert_eq!((seen, pages), (ids.clone(), 3), "3 + 3 + 1, in fleet order, each once");
    let all = app.get_json("/api/v1/servers").await;
    assert_eq!((all["servers"].as_array().map(Vec::len), &all["next"]), (Some(7), &serde_json::Value::Null));

    // Five resolved cases of five services, newest first across pages.
    for i in 0..5 {
        let mut tx = app.store.begin().await.expect("begin");
        let case = firstwatch::store::CaseRow {
            id: 0,
            customer: "acme".into(),
            service: format!("svc-{i}"),
            server: "s-0".into(),
            severity: firstwatch::domain::Severity::Three,
            status: firstwatch::cases::CaseStatus::Closed,
            opened_at: 1_000,
            updated_at: 1_000,
            acknowledged_at: None,
            acknowledged_by: None,
            recovered_at: None,
            resolved_at: None,
            closed_at: Some(1_000),
            consecutive_failures: 3,
            last_error: None,
            response_due_at: 2_000,
            sla_breached: false,
            severity1_since: None,
            last_update_at: None,
        };
        tx.insert_case(&case).await.expect("insert");
        tx.commit().await.expect("commit");
    }
    let (numbers, pages) = walk(&app, "/api/v1/cases", "cases", "id", 2).await;
    let expected: Vec<String> = (1..=5).rev().map(|n| format!("FW-{n:06}")).collect();
    assert_eq!((numbers, pages), (expected, 3));

    for bad in [
        "/api/v1/servers?limit=0",
        "/api/v1/servers?limit=5001",
        "/api/v1/servers?cursor=nobody",
        "/api/v1/servers?page=2",
        "/api/v1/cases?cursor=yesterday",
        "/api/v1/cases?limit=-1",
    ] {
        let (status, body) = app.get(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|b| b["error"].is_string()),
            "{bad}: {body}"
        );
    }
    app.stop().await;
}
