//! Customers managed through the inventory API (PRODUCT.md section 13): `PUT`, `GET` and
//! `DELETE /api/v1/inventory/customers/{id}` validated like the file (422 with key paths
//! relative to the body, nothing changed), file customers read-only (409), kept across a
//! reload and a restart, and a change on one instance in force on another within a second or
//! two (PostgreSQL).

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::app::{config_paging, config_toml, wait_until, Srv, TestApp, OPERATOR_TOKEN, VIEWER_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{refused_addr, Behavior, FakeTarget};

const SLOW: &str =
    "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 1000\nrecovery_threshold = 2\ntimeout = \"100ms\"";
const PATH: &str = "/api/v1/inventory/customers";

fn globex(target: impl std::fmt::Display) -> Value {
    let target = target.to_string();
    json!({
        "name": "Globex",
        "status_token": "globex-status-secret",
        "contacts": [{ "name": "Globex ops", "email": "ops@globex.test" }],
        "services": [{ "id": "web", "servers": [{ "id": "globex-1", "target": target }] }],
    })
}

async fn put(app: &TestApp, id: &str, body: &Value) -> (u16, Value) {
    let (status, text) = app.send("PUT", &format!("{PATH}/{id}"), Some(OPERATOR_TOKEN), Some(&body.to_string())).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("PUT answered non-JSON ({e}): {text}")))
}

async fn delete(app: &TestApp, id: &str) -> u16 {
    app.send("DELETE", &format!("{PATH}/{id}"), Some(OPERATOR_TOKEN), None).await.0
}

/// The `path: message` of each error of a 422.
fn paths(body: &Value) -> Vec<String> {
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("no errors in {body}"));
    errors
        .iter()
        .map(|e| format!("{}: {}", e["path"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
        .collect()
}

fn servers(app: &TestApp) -> Vec<String> {
    app.live.fleet().iter().map(|(_, e)| e.id.to_string()).collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the config file");
}

#[tokio::test]
async fn api_customers_are_validated_like_the_file_isolated_from_file_customers_and_kept_across_reload_and_restart() {
    let db = TestDb::new(Backend::Sqlite).await;
    let web = FakeTarget::start(Behavior::Healthy).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("firstwatch.toml");
    let file = config_toml(&db.url, SLOW, &[Srv::new("acme-1", web.url())]);
    write(&path, &file);
    let app = TestApp::spawn_file(&path).await;

    // Created (201), in force at once, probed; the same body again is 200 and changes nothing.
    let (status, body) = put(&app, "globex", &globex(web.url())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], "globex", "the id is filled in from the path: {body}");
    assert!(body.get("status_token").is_none(), "the status token is write-only: {body}");
    assert_eq!(servers(&app), ["acme-1", "globex-1"]);
    wait_until(Duration::from_secs(10), "globex-1 probed", || async { app.status("globex-1").last_probe_at.is_some() })
        .await;
    let (status, _) = put(&app, "globex", &globex(web.url())).await;
    assert_eq!(status, 200);
    let listed = app.get_json(PATH).await;
    assert_eq!(listed["customers"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["customers"][0]["services"][0]["servers"][0]["id"], "globex-1");
    assert!(listed["customers"][0].get("status_token").is_none(), "{listed}");
    assert_eq!(listed["next"], Value::Null);
    let (status, text) = app.get(&format!("{PATH}/globex")).await;
    assert_eq!(status, 200, "a viewer reads it: {text}");
    assert!(!text.contains("globex-status-secret"), "{text}");

    // Bad bodies: 422 at paths relative to the body, and nothing changes.
    let mut bad = globex("ftp://127.0.0.1/x");
    bad["services"][0]["servers"].as_array_mut().expect("servers").push(json!({ "id": "acme-1", "target": web.url() }));
    let (status, body) = put(&app, "globex", &bad).await;
    assert_eq!(status, 422, "{body}");
    let found = paths(&body);
    assert!(found.iter().any(|p| p.starts_with("services[0].servers[0].target: ")), "{found:?}");
    assert!(
        found.iter().any(|p| p.starts_with("services[0].servers[1].id: ") && p.contains("\"acme\"")),
        "a server id of a file customer is refused: {found:?}"
    );
    let (status, body) =
        put(&app, "globex", &json!({ "services": [{ "id": "web", "servers": [{ "id": "g", "tagret": "x" }] }] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(paths(&body).iter().any(|p| p.starts_with("services[0].servers[0]") && p.contains("tagret")), "{body}");
    let (status, body) = put(&app, "globex", &json!({ "id": "initech" })).await;
    assert_eq!((status, paths(&body)[0].starts_with("id: ")), (422, true), "{body}");
    let (status, body) = put(&app, "globex", &json!({ "status_token": "env:GLOBEX_TOKEN" })).await;
    assert_eq!((status, paths(&body)[0].starts_with("status_token: ")), (422, true), "{body}");
    let (status, body) = put(&app, "globex", &json!({ "interval": "1s", "retry_interval": "5s", "services": [{ "id": "web", "servers": [{ "id": "g", "target": web.url() }] }] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(paths(&body).iter().any(|p| p.starts_with("retry_interval: ")), "{body}");
    assert_eq!(servers(&app), ["acme-1", "globex-1"], "nothing changed");

    // File customers are read-only here; a viewer writes nothing.
    let (status, body) = put(&app, "acme", &globex(web.url())).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(delete(&app, "acme").await, 409);
    let (status, _) =
        app.send("PUT", &format!("{PATH}/initech"), Some(VIEWER_TOKEN), Some(&globex(web.url()).to_string())).await;
    assert_eq!(status, 403);

    // A reload keeps the API customer; a file that defines it is refused.
    let (status, body) = app.post_json("/api/v1/reload", Some(OPERATOR_TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(servers(&app), ["acme-1", "globex-1"]);
    let clash = format!("{file}\n[[customers]]\nid = \"globex\"\n");
    write(&path, &clash);
    let (status, body) = app.post_json("/api/v1/reload", Some(OPERATOR_TOKEN), None).await;
    assert_eq!(status, 422, "{body}");
    assert!(paths(&body).iter().any(|p| p.contains("managed through the inventory API")), "{body}");
    write(&path, &file);

    // A restart keeps it too.
    app.stop().await;
    let app = TestApp::spawn_file(&path).await;
    assert_eq!(servers(&app), ["acme-1", "globex-1"], "read back from the database at start");

    // Deleted: 204, gone, then 404.
    assert_eq!(delete(&app, "globex").await, 204);
    assert_eq!(servers(&app), ["acme-1"]);
    assert_eq!(delete(&app, "globex").await, 404);
    assert_eq!(app.get(&format!("{PATH}/globex")).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn deleting_an_api_customer_resolves_its_case_with_actor_inventory() {
    let db = TestDb::new(Backend::Sqlite).await;
    let web = FakeTarget::start(Behavior::Healthy).await;
    let quick = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 2\nrecovery_threshold = 2\ntimeout = \"100ms\"";
    let app =
        TestApp::spawn(&config_paging(&db.url, quick, &[Srv::new("acme-1", web.url())], "auto_resolve = false", ""))
            .await;
    let (status, body) = put(&app, "globex", &globex(format!("tcp://{}", refused_addr()))).await;
    assert_eq!(status, 201, "{body}");
    let active = || async {
        let cases = app.store.latest_cases().await.expect("read the cases");
        cases.into_iter().find(|c| c.customer == "globex" && c.status.is_active())
    };
    wait_until(Duration::from_secs(10), "globex's case", || async { active().await.is_some() }).await;
    let case = active().await.expect("a case");
    assert_eq!(delete(&app, "globex").await, 204);
    wait_until(Duration::from_secs(10), "the case resolved", || async { active().await.is_none() }).await;
    let detail = app.get_json(&format!("/api/v1/cases/FW-{:06}", case.id)).await;
    let resolved = detail["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["kind"] == "resolved" && e["actor"] == "inventory");
    assert!(resolved, "{detail}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_is_in_force_on_another_within_seconds() {
    let db = TestDb::new(Backend::Postgres).await;
    let web = FakeTarget::start(Behavior::Healthy).await;
    let text = config_toml(&db.url, SLOW, &[Srv::new("acme-1", web.url())]);
    let first = TestApp::spawn(&text).await;
    let second = TestApp::spawn(&text).await;
    let (status, body) = put(&first, "globex", &globex(web.url())).await;
    assert_eq!(status, 201, "{body}");
    let put_at = tokio::time::Instant::now();
    wait_until(Duration::from_secs(5), "globex-1 on the second instance", || async {
        second.live.fleet().get("globex-1").is_some()
    })
    .await;
    eprintln!("the second instance had the new customer {:?} after the PUT", put_at.elapsed());
    let listed = second.get_json(PATH).await;
    assert_eq!(listed["customers"][0]["id"], "globex", "{listed}");

    // A replacement and a delete made on the second reach the first.
    let mut moved = globex(web.url());
    moved["services"][0]["servers"][0]["id"] = json!("globex-2");
    assert_eq!(put(&second, "globex", &moved).await.0, 200);
    wait_until(Duration::from_secs(5), "globex-2 on the first instance", || async {
        first.live.fleet().get("globex-2").is_some() && first.live.fleet().get("globex-1").is_none()
    })
    .await;
    assert_eq!(delete(&second, "globex").await, 204);
    wait_until(Duration::from_secs(5), "globex gone from the first instance", || async {
        first.live.fleet().get("globex-2").is_none()
    })
    .await;
    assert_eq!(first.send("DELETE", &format!("{PATH}/globex"), Some(OPERATOR_TOKEN), None).await.0, 404);
    second.stop().await;
    first.stop().await;
}

/// An API change touches only its customer (`fleet::change`): every other server keeps its
/// slot and count, the customer's unchanged servers keep theirs, a re-targeted one counts
/// afresh, a new one is probed, and the fleet stays in its layout (no rebuild).
#[tokio::test]
async fn an_api_change_moves_only_its_customer_and_keeps_every_count_it_does_not_change() {
    let db = TestDb::new(Backend::Sqlite).await;
    let web = FakeTarget::start(Behavior::Healthy).await;
    let refused = format!("tcp://{}", refused_addr());
    let app = TestApp::spawn(&config_toml(&db.url, SLOW, &[Srv::new("acme-1", refused.clone())])).await;
    let body = |servers: &[(&str, &str)]| {
        let servers: Vec<Value> = servers.iter().map(|(id, target)| json!({ "id": id, "target": target })).collect();
        json!({ "services": [{ "id": "web", "servers": servers }] })
    };
    let first = body(&[("g-1", &refused), ("g-2", &web.url())]);
    assert_eq!(put(&app, "globex", &first).await.0, 201);
    let failures = |id: &str| app.status(id).consecutive_failures;
    wait_until(Duration::from_secs(10), "g-1 and acme-1 failing twice, g-2 up", || async {
        failures("g-1") >= 2 && failures("acme-1") >= 2 && app.status("g-2").state.as_str() == "up"
    })
    .await;
    let fleet = app.live.fleet();
    let acme_slot = fleet.index_of("acme-1");
    let (acme_before, g1_before) = (failures("acme-1"), failures("g-1"));

    // g-1 unchanged, g-2 re-targeted to the refused address, g-3 new.
    let second = body(&[("g-1", &refused), ("g-2", &refused), ("g-3", &web.url())]);
    assert_eq!(put(&app, "globex", &second).await.0, 200);
    let next = app.live.fleet();
    assert_eq!(next.layout(), fleet.layout(), "a change, not a rebuild");
    assert_eq!(next.index_of("acme-1"), acme_slot, "another customer's server keeps its slot");
    assert!(failures("acme-1") >= acme_before, "and its count");
    assert!(failures("g-1") >= g1_before, "an unchanged server keeps its count");
    let g2 = app.status("g-2");
    assert!(g2.state.as_str() != "up" && g2.consecutive_failures < 2, "g-2 counts afresh: {g2:?}");
    wait_until(Duration::from_secs(10), "g-3 probed and up", || async { app.status("g-3").state.as_str() == "up" })
        .await;
    wait_until(Duration::from_secs(10), "g-2 failing on its new target", || async { failures("g-2") >= 1 }).await;
    assert_eq!(servers(&app), ["acme-1", "g-1", "g-2", "g-3"]);
    let (was, is) = (fleet.index_of("g-2").expect("g-2"), next.index_of("g-2").expect("g-2"));
    assert!(is > was && next.entry(was).is_none(), "a re-targeted server takes a new slot; its old one is empty");
    app.stop().await;
}
