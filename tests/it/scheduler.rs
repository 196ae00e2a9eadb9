//! The monitoring loop end to end: real targets on loopback, the real app, SQLite.

use std::time::Duration;

use firstwatch::clock::rfc3339_ms;
use firstwatch::domain::ServerState;

use crate::helpers::app::{config_toml, config_with, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"2s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_confirmed_at_retry_interval_until_the_threshold_marks_the_server_down() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let app = TestApp::spawn(&config_toml(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())])).await;

    wait_until(Duration::from_secs(5), "the first failure", || async {
        app.status("acme-eu-1").state == ServerState::Failing
    })
    .await;
    let first_failure = app.status("acme-eu-1").last_probe_at.expect("probed");
    wait_until(Duration::from_secs(5), "down", || async { app.status("acme-eu-1").state == ServerState::Down }).await;
    // Two more requests at the 100 ms retry interval, by the app's own clock (the plan itself
    // is unit-tested in `scheduler/plan.rs`); at the 2 s interval this would take 4 s.
    let down_at = app.status("acme-eu-1").last_probe_at.expect("probed");
    assert!(down_at - first_failure < 2_000, "confirmation took {} ms", down_at - first_failure);

    let status = app.status("acme-eu-1");
    assert_eq!(status.consecutive_failures, 3);
    assert_eq!(status.last_error.as_deref(), Some("http 500"));
    assert_eq!(target.hits(), 3, "no request beyond the threshold before the next interval");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answers_again_is_up_with_its_failures_reset() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let probing = "interval = \"300ms\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
    let app = TestApp::spawn(&config_toml(&db.url, probing, &[Srv::new("acme-eu-1", target.url())])).await;
    wait_until(Duration::from_secs(5), "down", || async { app.status("acme-eu-1").state == ServerState::Down }).await;

    target.set(Behavior::Healthy);
    wait_until(Duration::from_secs(5), "recovery", || async { !app.status("acme-eu-1").confirmed_down }).await;
    let status = app.status("acme-eu-1");
    assert_eq!(status.state, ServerState::Up);
    assert_eq!(status.consecutive_failures, 0);
    assert!(status.consecutive_successes >= 2, "recovery needs recovery_threshold successes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_does_not_delay_the_others() {
    let db = TestDb::new(Backend::Sqlite).await;
    let hung = FakeTarget::start(Behavior::Hang).await;
    let healthy: Vec<FakeTarget> = futures_join(3).await;
    let probing = "interval = \"200ms\"\nretry_interval = \"100ms\"\ntimeout = \"100ms\"";
    let slow = "interval = \"2s\"\nretry_interval = \"2s\"\ntimeout = \"2s\"";
    let ids = ["h-0", "h-1", "h-2"];
    let mut servers = vec![Srv::new("hung", hung.url()).with(slow)];
    servers.extend(healthy.iter().zip(ids).map(|(t, id)| Srv::new(id, t.url())));
    let app = TestApp::spawn(&config_toml(&db.url, probing, &servers)).await;

    wait_until(Duration::from_secs(5), "the hung server to be probed", || async { hung.hits() > 0 }).await;
    let before: Vec<usize> = healthy.iter().map(FakeTarget::hits).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (target, before) in healthy.iter().zip(before) {
        let during = target.hits() - before;
        assert!(during >= 6, "a healthy server got only {during} requests in 1.5 s at a 200 ms interval");
    }
    assert_eq!(
        app.status("hung").state,
        ServerState::Unknown,
        "its first request is still waiting for its 2 s timeout"
    );
    app.stop().await;
}

async fn futures_join(n: usize) -> Vec<FakeTarget> {
    let mut targets = Vec::with_capacity(n);
    for _ in 0..n {
        targets.push(FakeTarget::start(Behavior::Healthy).await);
    }
    targets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_api_shows_each_server_with_its_state() {
    let db = TestDb::new(Backend::Sqlite).await;
    let good = FakeTarget::start(Behavior::Healthy).await;
    let bad = FakeTarget::start(Behavior::Status(502)).await;
    let mut secondary = Srv::new("acme-eu-2", bad.url());
    secondary.role = "secondary";
    let app = TestApp::spawn(&config_toml(&db.url, FAST, &[Srv::new("acme-eu-1", good.url()), secondary])).await;

    let body = app.get_json("/api/v1/servers").await;
    assert_eq!(body["servers"][0]["state"], "unknown", "before the first request: {body}");
    wait_until(Duration::from_secs(5), "both probed", || async {
        app.status("acme-eu-1").state == ServerState::Up && app.status("acme-eu-2").state != ServerState::Unknown
    })
    .await;

    let body = app.get_json("/api/v1/servers").await;
    let servers = body["servers"].as_array().expect("servers array");
    assert_eq!(servers.len(), 2);
    let up = &servers[0];
    assert_eq!(up["id"], "acme-eu-1");
    assert_eq!(up["customer"], "acme");
    assert_eq!(up["service"], "storefront");
    assert_eq!(up["role"], "primary");
    assert_eq!(up["state"], "up");
    assert_eq!(up["consecutive_failures"], 0);
    let at = up["last_probe_at"].as_str().expect("last_probe_at");
    assert!(at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.', "RFC 3339 UTC with ms: {at}");
    let failing = &servers[1];
    assert_eq!(failing["role"], "secondary");
    assert_eq!(failing["last_error"], "http 502");
    assert!(failing["consecutive_failures"].as_u64() >= Some(1));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_every_family_at_start_then_count_probes_and_states() {
    let db = TestDb::new(Backend::Sqlite).await;
    let bad = FakeTarget::start(Behavior::Status(500)).await;
    let paging = "\n[[channels]]\nid = \"ops\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\n\
                  [[people]]\nid = \"alice\"\nrole = \"operations-manager\"\nchannels = [\"ops\"]\n";
    let app = TestApp::spawn(&config_with(&db.url, FAST, &[Srv::new("acme-eu-1", bad.url())], paging)).await;

    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200);
    for family in [
        "probes_total",
        "probe_duration_seconds",
        "servers",
        "cases_open",
        "cases_opened_total",
        "pages_total",
        "escalations_total",
        "customer_updates_total",
        "notifications_total",
        "notification_dead_letters_total",
        "scheduler_lag_seconds",
        "sla_breaches_total",
        "monitor_degraded",
    ] {
        assert!(text.contains(&format!("# TYPE firstwatch_{family} ")), "missing firstwatch_{family}");
    }
    assert!(text.contains("firstwatch_servers{state=\"unknown\"} 1"), "{text}");

    wait_until(Duration::from_secs(5), "down", || async { app.status("acme-eu-1").state == ServerState::Down }).await;
    let (_, text) = app.get("/metrics").await;
    assert!(text.contains("firstwatch_servers{state=\"down\"} 1"), "{text}");
    assert!(text.contains("firstwatch_servers{state=\"unknown\"} 0"), "{text}");
    assert!(text.contains("firstwatch_probes_total{kind=\"http\",result=\"failure\"} 3"), "{text}");
    assert!(text.contains("firstwatch_probe_duration_seconds_count{kind=\"http\"} 3"), "{text}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_maintenance_window_failures_count_but_the_state_is_maintenance() {
    let db = TestDb::new(Backend::Sqlite).await;
    let bad = FakeTarget::start(Behavior::Status(500)).await;
    let now = std::time::SystemTime::now();
    let start = rfc3339_ms(firstwatch::clock::unix_ms(now) - 3_600_000);
    let end = rfc3339_ms(firstwatch::clock::unix_ms(now) + 3_600_000);
    let window = format!("\n[[maintenance]]\nserver = \"acme-eu-1\"\nstart = \"{start}\"\nend = \"{end}\"\n");
    let app = TestApp::spawn(&config_with(&db.url, FAST, &[Srv::new("acme-eu-1", bad.url())], &window)).await;

    wait_until(Duration::from_secs(5), "three failures", || async {
        app.status("acme-eu-1").consecutive_failures >= 3
    })
    .await;
    assert_eq!(app.status("acme-eu-1").state, ServerState::Maintenance);
    let body = app.get_json("/api/v1/servers").await;
    assert_eq!(body["servers"][0]["state"], "maintenance");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(&config_toml(&db.url, FAST, &[])).await;
    assert_eq!(app.get("/healthz").await.0, 200);
    wait_until(Duration::from_secs(5), "ready", || async { app.get("/readyz").await.0 == 200 }).await;
    let (status, body) = app.get("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert!(body.contains("\"error\""), "{body}");
    app.stop().await;
}
