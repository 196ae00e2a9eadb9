//! Reloading the config files while running (PRODUCT.md section 13): `POST /api/v1/reload`
//! and `SIGHUP` put a good file in force with state following the server id, a bad file
//! changes nothing, and the reload gauges say how the last one went.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::app::{config_paging, config_toml, wait_until, Srv, TestApp, OPERATOR_TOKEN, VIEWER_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{refused_addr, Behavior, FakeTarget};

/// Failures are confirmed every 100 ms, but a server takes 1,000 of them to go down: its
/// count climbs steadily through the test.
const SLOW_DOWN: &str =
    "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 1000\nrecovery_threshold = 2\ntimeout = \"100ms\"";
/// Down after two failures 100 ms apart.
const QUICK_DOWN: &str =
    "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 2\nrecovery_threshold = 2\ntimeout = \"100ms\"";

fn refused() -> String {
    format!("tcp://{}", refused_addr())
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in the exposition"))
}

async fn reload(app: &TestApp) -> (u16, Value) {
    app.post_json("/api/v1/reload", Some(OPERATOR_TOKEN), None).await
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the config file");
}

#[tokio::test]
async fn a_reload_keeps_counts_adds_and_removes_servers_and_a_bad_file_changes_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let web = FakeTarget::start(Behavior::Healthy).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("firstwatch.toml");
    let failing = refused();
    write(&path, &config_toml(&db.url, SLOW_DOWN, &[Srv::new("a", &failing), Srv::new("b", web.url())]));
    let app = TestApp::spawn_file(&path).await;
    wait_until(Duration::from_secs(10), "a counting failures", || async { app.status("a").consecutive_failures >= 3 })
        .await;
    assert_eq!(metric(&app, "firstwatch_config_last_reload_successful").await, 1.0);

    // b leaves, c joins, a stays as it is.
    let c_target = refused();
    write(&path, &config_toml(&db.url, SLOW_DOWN, &[Srv::new("a", &failing), Srv::new("c", &c_target)]));
    let before = app.status("a");
    let (status, body) = reload(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["servers"].as_u64(), body["added"].as_u64(), body["removed"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(body["retargeted"].as_u64(), Some(0));
    let after = app.status("a");
    assert!(
        after.consecutive_failures >= before.consecutive_failures && after.state_since == before.state_since,
        "a kept its count and phase: {before:?} then {after:?}"
    );
    assert!(app.live.fleet().get("b").is_none(), "b is gone");
    wait_until(Duration::from_secs(10), "c probed", || async { app.status("c").consecutive_failures >= 1 }).await;
    wait_until(Duration::from_secs(10), "a still counting", || async {
        app.status("a").consecutive_failures > after.consecutive_failures + 2
    })
    .await;
    let servers = app.get_json("/api/v1/servers").await;
    let ids: Vec<&str> = servers["servers"].as_array().into_iter().flatten().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    let down = metric(&app, "firstwatch_servers{state=\"failing\"}").await;
    assert_eq!(down, 2.0, "the state gauges follow the new fleet");
    let stamp = metric(&app, "firstwatch_config_last_reload_success_timestamp_seconds").await;

    // A viewer may not reload.
    let (status, _) = app.post_json("/api/v1/reload", Some(VIEWER_TOKEN), None).await;
    assert_eq!(status, 403);

    // A bad file: 422 at its key path, nothing changes, the gauge drops to 0.
    write(&path, &config_toml(&db.url, SLOW_DOWN, &[Srv::new("a", "ftp://127.0.0.1/x"), Srv::new("d", &c_target)]));
    let count = app.status("a").consecutive_failures;
    let (status, body) = reload(&app).await;
    assert_eq!(status, 422, "{body}");
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors.iter().any(|e| e["path"] == "customers[0].services[0].servers[0].target"),
        "the key path of the problem: {body}"
    );
    assert!(app.live.fleet().get("d").is_none() && app.live.fleet().get("c").is_some(), "nothing changed");
    assert!(app.status("a").consecutive_failures >= count, "a goes on counting");
    assert_eq!(metric(&app, "firstwatch_config_last_reload_successful").await, 0.0);
    assert_eq!(metric(&app, "firstwatch_config_last_reload_success_timestamp_seconds").await, stamp);

    // Fixed again: the gauge is back to 1.
    write(&path, &config_toml(&db.url, SLOW_DOWN, &[Srv::new("a", &failing), Srv::new("c", &c_target)]));
    let (status, body) = reload(&app).await;
    assert_eq!((status, body["added"].as_u64(), body["removed"].as_u64()), (200, Some(0), Some(0)), "{body}");
    assert_eq!(metric(&app, "firstwatch_config_last_reload_successful").await, 1.0);
    app.stop().await;
}

/// The active case of acme/storefront, if any.
async fn active(app: &TestApp) -> Option<firstwatch::store::CaseRow> {
    let cases = app.store.latest_cases().await.expect("read the cases");
    cases.into_iter().find(|c| c.service == "storefront" && c.status.is_active())
}

async fn case_detail(app: &TestApp, id: i64) -> Value {
    app.get_json(&format!("/api/v1/cases/FW-{id:06}")).await
}

fn timeline_has(detail: &Value, kind: &str, actor: &str, text: &str) -> bool {
    detail["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["kind"] == kind && e["actor"] == actor && e["text"].as_str().is_some_and(|t| t.contains(text)))
}

#[tokio::test]
async fn a_changed_target_counts_afresh_and_a_removed_server_resolves_its_case_with_actor_inventory() {
    let db = TestDb::new(Backend::Sqlite).await;
    let web = FakeTarget::start(Behavior::Healthy).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("firstwatch.toml");
    let (first, second) = (refused(), refused());
    let servers = |a_target: &str| {
        let mut b = Srv::new("b", web.url());
        b.service = "api";
        config_paging(&db.url, QUICK_DOWN, &[Srv::new("a", a_target), b], "auto_resolve = false", "")
    };
    write(&path, &servers(&first));
    let app = TestApp::spawn_file(&path).await;
    wait_until(Duration::from_secs(10), "a's case", || async { active(&app).await.is_some() }).await;
    let case = active(&app).await.expect("a case");
    let down_since = app.status("a").state_since;

    // The target changes: a counts afresh, and the case says why.
    write(&path, &servers(&second));
    let (status, body) = reload(&app).await;
    assert_eq!((status, body["retargeted"].as_u64()), (200, Some(1)), "{body}");
    let fresh = app.status("a");
    assert!(fresh.state_since > down_since, "a fresh status, not the old count: {fresh:?}");
    wait_until(Duration::from_secs(10), "the timeline note", || async {
        timeline_has(
            &case_detail(&app, case.id).await,
            "inventory",
            "inventory",
            &format!("changed from {first} to {second}"),
        )
    })
    .await;
    wait_until(Duration::from_secs(10), "a down again at its new target", || async {
        app.status("a").state == firstwatch::domain::ServerState::Down
    })
    .await;
    assert!(active(&app).await.is_some_and(|c| c.id == case.id), "still the same case");

    // a leaves the inventory: its case is resolved by the inventory, auto_resolve = false
    // notwithstanding.
    let mut b = Srv::new("b", web.url());
    b.service = "api";
    write(&path, &config_paging(&db.url, QUICK_DOWN, &[b], "auto_resolve = false", ""));
    let (status, body) = reload(&app).await;
    assert_eq!((status, body["removed"].as_u64()), (200, Some(1)), "{body}");
    wait_until(Duration::from_secs(10), "the case resolved", || async { active(&app).await.is_none() }).await;
    let detail = case_detail(&app, case.id).await;
    assert_eq!(detail["case"]["status"], "resolved", "{detail}");
    assert!(timeline_has(&detail, "inventory", "inventory", "a left storefront in the inventory"), "{detail}");
    assert!(timeline_has(&detail, "resolved", "inventory", "resolved by inventory"), "{detail}");
    app.stop().await;
}

/// A server leaves a service whose other server is down too: the case goes on as the other's
/// (resolving it would end an outage the service is still in, and no new case would open).
#[tokio::test]
async fn a_removed_server_hands_its_case_to_another_down_server_of_the_service() {
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("firstwatch.toml");
    let (a, c) = (refused(), refused());
    let servers = |list: &[(&'static str, &str)]| {
        let servers: Vec<Srv<'_>> = list.iter().map(|&(id, target)| Srv::new(id, target)).collect();
        config_paging(&db.url, QUICK_DOWN, &servers, "auto_resolve = false", "")
    };
    write(&path, &servers(&[("a", &a), ("c", &c)]));
    let app = TestApp::spawn_file(&path).await;
    wait_until(Duration::from_secs(10), "a case", || async { active(&app).await.is_some() }).await;
    let case = active(&app).await.expect("a case");
    // The case's server leaves; the other stays, down.
    let (primary, other, other_target) = if case.server == "a" { ("a", "c", &c) } else { ("c", "a", &a) };
    wait_until(Duration::from_secs(10), "both down", || async {
        [primary, other].iter().all(|id| app.status(id).state == firstwatch::domain::ServerState::Down)
    })
    .await;
    write(&path, &servers(&[(other, other_target)]));
    let (status, body) = reload(&app).await;
    assert_eq!((status, body["removed"].as_u64()), (200, Some(1)), "{body}");
    wait_until(Duration::from_secs(10), "the case handed on", || async {
        active(&app).await.is_some_and(|c| c.id == case.id && c.server == other)
    })
    .await;
    let detail = case_detail(&app, case.id).await;
    assert!(
        timeline_has(&detail, "inventory", "inventory", &format!("{primary} left storefront in the inventory")),
        "{detail}"
    );
    assert!(timeline_has(&detail, "inventory", "inventory", &format!("goes on as the case of {other}")), "{detail}");
    app.stop().await;
}

/// `SIGHUP` to a running `firstwatch run` reloads the file: a failing server keeps its count,
/// a new one appears.
#[tokio::test]
async fn sighup_reloads_the_file_of_a_running_monitor_and_keeps_counts() {
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("firstwatch.toml");
    let failing = refused();
    let port = refused_addr().port();
    let listen = format!("listen = \"127.0.0.1:{port}\"");
    let text =
        |servers: &[Srv<'_>]| crate::helpers::app::server_keys(&config_toml(&db.url, SLOW_DOWN, servers), &listen);
    write(&path, &text(&[Srv::new("a", &failing)]));
    let mut child = crate::helpers::app::run_binary(&path);
    let client = reqwest::Client::new();
    let servers = || async {
        let response = client
            .get(format!("http://127.0.0.1:{port}/api/v1/servers"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .ok()?;
        serde_json::from_str::<Value>(&response.text().await.ok()?).ok()
    };
    let failures = |list: &Value, id: &str| {
        list["servers"].as_array()?.iter().find(|s| s["id"] == id)?["consecutive_failures"].as_u64()
    };
    wait_until(Duration::from_secs(20), "a counting in the running monitor", || async {
        servers().await.and_then(|l| failures(&l, "a")).unwrap_or(0) >= 3
    })
    .await;
    let before = servers().await.and_then(|l| failures(&l, "a")).expect("a's count");
    write(&path, &text(&[Srv::new("a", &failing), Srv::new("new", refused())]));
    let pid = child.id().expect("pid");
    let status = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().expect("kill -HUP");
    assert!(status.success());
    wait_until(Duration::from_secs(10), "the new server after SIGHUP", || async {
        servers().await.is_some_and(|l| failures(&l, "new").is_some())
    })
    .await;
    let list = servers().await.expect("servers");
    assert!(failures(&list, "a").unwrap_or(0) >= before, "a kept its count through the reload: {list}");
    assert!(child.try_wait().expect("child state").is_none(), "still running");
    let _ = child.kill().await;
}
