//! Page sign-in sessions over real HTTP: what the cookie and the database hold, a viewer's
//! read-only session, expiry on the app's clock, the login rate limit (also behind a trusted
//! proxy), and sign-in on a public https URL.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firstwatch::clock::ManualClock;
use reqwest::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::app::{config_toml, server_keys, Srv, TestApp, OPERATOR_TOKEN, VIEWER_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// `POST /login` with `token` (and `X-Forwarded-For: forwarded` if given): status, the cookie
/// pair it set (if any), the full `Set-Cookie` value, `Retry-After`.
async fn login(
    app: &TestApp,
    token: &str,
    forwarded: Option<&str>,
) -> (StatusCode, Option<String>, String, Option<String>) {
    let mut request = client()
        .post(format!("http://{}/login", app.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"));
    if let Some(addr) = forwarded {
        request = request.header("x-forwarded-for", addr);
    }
    let response = request.send().await.expect("login");
    let set_cookie = response.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let retry = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let pair = set_cookie.split(';').next().filter(|p| p.starts_with("fw_session=")).map(str::to_string);
    (response.status(), pair, set_cookie, retry)
}

async fn get_with_cookie(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String, String) {
    let response =
        client().get(format!("http://{}{path}", app.addr)).header("cookie", cookie).send().await.expect("get");
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (response.status(), location, response.text().await.expect("body"))
}

async fn app_with(db: &TestDb, target: &FakeTarget, server: &str, clock: Option<Arc<ManualClock>>) -> TestApp {
    let text = server_keys(&config_toml(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())]), server);
    match clock {
        Some(clock) => TestApp::spawn_with_clock(&text, clock).await,
        None => TestApp::spawn(&text).await,
    }
}

async fn a_session_holds_no_token_and_ends_on_time(backend: Backend) {
    let db = TestDb::new(backend).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let app = app_with(&db, &target, "session_ttl = \"1h\"", Some(clock.clone())).await;

    let (status, pair, set_cookie, _) = login(&app, VIEWER_TOKEN, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let pair = pair.expect("a session cookie");
    assert!(set_cookie.contains("Max-Age=3600"), "{set_cookie}");
    assert!(!set_cookie.contains(VIEWER_TOKEN) && !set_cookie.contains(OPERATOR_TOKEN), "{set_cookie}");
    // The database keeps the id's hash, never the id or the token.
    let id = pair.trim_start_matches("fw_session=");
    assert_eq!(app.store.session_count().await.expect("sessions"), 1, "one session row");
    if backend == Backend::Sqlite {
        let file = db.url.trim_start_matches("sqlite://").to_string();
        let mut dump = std::fs::read(&file).expect("read the database file");
        dump.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
        let dump = String::from_utf8_lossy(&dump);
        assert!(!dump.contains(id) && !dump.contains(VIEWER_TOKEN), "the session id or token is stored in clear");
    }

    let (status, _, body) = get_with_cookie(&app, "/", &pair).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("id=\"logout\""), "a session can sign out");
    let (status, _, _) = get_with_cookie(&app, "/api/v1/servers", &pair).await;
    assert_eq!(status, StatusCode::OK, "the session cookie opens the API's reads too");

    clock.advance(Duration::from_secs(3599));
    assert_eq!(get_with_cookie(&app, "/", &pair).await.0, StatusCode::OK, "still within its hour");
    clock.advance(Duration::from_secs(2));
    let (status, location, _) = get_with_cookie(&app, "/", &pair).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/login?next=%2F"),
        "an expired session is refused"
    );
    assert_eq!(get_with_cookie(&app, "/api/v1/servers", &pair).await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

on_both_backends!(a_session_holds_no_token_and_ends_on_time);

async fn a_viewer_session_reads_but_never_writes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let app = app_with(&db, &target, "", None).await;
    crate::helpers::app::wait_until(Duration::from_secs(10), "a case", || async {
        app.store.latest_cases().await.map(|c| !c.is_empty()).unwrap_or(false)
    })
    .await;
    let pair = login(&app, VIEWER_TOKEN, None).await.1.expect("a session");
    let (status, _, page) = get_with_cookie(&app, "/cases/FW-000001", &pair).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"read-only\"") && !page.contains("action-ack"), "no action forms for a viewer");
    let (status, _, page) = get_with_cookie(&app, "/maintenance", &pair).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("add-window-form"));
    let ack = client()
        .post(format!("http://{}/cases/FW-000001/ack", app.addr))
        .header("cookie", &pair)
        .send()
        .await
        .expect("ack");
    assert_eq!(ack.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_json("/api/v1/cases/FW-000001").await["case"]["status"], "open", "nothing changed");
    app.stop().await;
}

on_both_backends!(a_viewer_session_reads_but_never_writes);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_failed_logins_a_minute_lock_the_address_out_for_a_minute() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = app_with(&db, &target, "trusted_proxies = [\"127.0.0.0/8\"]", None).await;
    let (attacker, bystander) = (Some("203.0.113.7"), Some("198.51.100.20"));
    for attempt in 1..=10 {
        let (status, pair, _, _) = login(&app, "guess", attacker).await;
        assert_eq!((status, pair), (StatusCode::FORBIDDEN, None), "attempt {attempt}");
    }
    let (status, pair, _, retry) = login(&app, OPERATOR_TOKEN, attacker).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even the right token waits");
    assert!(pair.is_none());
    let retry: u64 = retry.and_then(|r| r.parse().ok()).expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Another client behind the same trusted proxy is not locked out.
    let (status, pair, _, _) = login(&app, OPERATOR_TOKEN, bystander).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(pair.is_some());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_public_https_url_the_cookie_is_secure() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = app_with(&db, &target, "public_url = \"https://status.example.test\"", None).await;
    let (status, _, set_cookie, _) = login(&app, OPERATOR_TOKEN, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bearer_tokens_count_as_failed_sign_ins() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = app_with(&db, &target, "", None).await;
    for attempt in 1..=10 {
        assert_eq!(app.get_as("/api/v1/servers", Some("guess")).await.0, 403, "attempt {attempt}");
    }
    let (status, body) = app.get_as("/api/v1/servers", Some(VIEWER_TOKEN)).await;
    assert_eq!(status, 429, "locked out whatever token it presents: {body}");
    assert!(!body.contains("acme"), "{body}");
    assert_eq!(login(&app, OPERATOR_TOKEN, None).await.0, StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_write_from_another_origin_is_refused_on_the_api_too() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = app_with(&db, &target, "", None).await;
    let pair = login(&app, OPERATOR_TOKEN, None).await.1.expect("a session");
    let now = firstwatch::clock::unix_ms(SystemTime::now());
    let window = format!(
        r#"{{"server": "acme-eu-1", "start": "{}", "end": "{}"}}"#,
        firstwatch::clock::rfc3339_ms(now),
        firstwatch::clock::rfc3339_ms(now + 3_600_000)
    );
    let post = |origin: Option<String>| {
        let mut request = client()
            .post(format!("http://{}/api/v1/maintenance", app.addr))
            .header("cookie", &pair)
            .header("content-type", "application/json")
            .body(window.clone());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let foreign = post(Some("https://other.example.test".to_string())).await.expect("post");
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_json("/api/v1/maintenance").await["windows"], serde_json::json!([]), "nothing added");
    let ours = post(Some(format!("http://{}", app.addr))).await.expect("post");
    assert_eq!(ours.status(), StatusCode::CREATED);
    app.stop().await;
}

/// A session lives in the database across restarts, and ends when the token that started it
/// is no longer in the config (removed, or rotated under the same name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_a_restart_but_not_its_token_leaving_the_config() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = app_with(&db, &target, "", None).await;
    let pair = login(&app, OPERATOR_TOKEN, None).await.1.expect("a session");
    app.stop().await;

    let app = app_with(&db, &target, "", None).await;
    assert_eq!(get_with_cookie(&app, "/", &pair).await.0, StatusCode::OK, "kept across the restart");
    app.stop().await;

    let rotated = config_toml(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())])
        .replace("token = \"op-secret\"", "token = \"op-secret-2\"");
    let app = TestApp::spawn(&rotated).await;
    let (status, location, _) = get_with_cookie(&app, "/", &pair).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/login?next=%2F"), "its token is gone");
    app.stop().await;
}
