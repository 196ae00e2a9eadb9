//! The HTML pages in a real headless Chromium (see `helpers/browser.rs`), against the real app
//! with one failing server (`acme-eu-1`, case `FW-000001`) and one healthy server of another
//! customer (`globex-us-1`). Screenshots land in `test-artifacts/screenshots/`.

use std::time::Duration;

use crate::helpers::app::{wait_until, TestApp};
use crate::helpers::browser::{pages_config, Browser, ACME_TOKEN, OPERATOR_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

struct Scene {
    app: TestApp,
    base: String,
    _targets: (FakeTarget, FakeTarget),
    _db: TestDb,
}

/// The app with case `FW-000001` open for `acme-eu-1`, and a browser, started side by side.
async fn scene() -> (Scene, Browser) {
    let db = TestDb::new(Backend::Sqlite).await;
    let failing = FakeTarget::start(Behavior::Status(500)).await;
    let healthy = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&pages_config(&db.url, &failing.url(), &healthy.url())).await;
    let (browser, ()) = tokio::join!(Browser::start(), async {
        wait_until(Duration::from_secs(10), "case FW-000001 to open", || async {
            app.get_json("/api/v1/cases?status=open").await["cases"][0]["id"] == "FW-000001"
        })
        .await;
        wait_until(Duration::from_secs(10), "globex-us-1 to be up", || async {
            let servers = app.get_json("/api/v1/servers").await;
            let globex =
                servers["servers"].as_array().and_then(|s| s.iter().find(|s| s["id"] == "globex-us-1").cloned());
            globex.is_some_and(|s| s["state"] == "up")
        })
        .await;
    });
    let base = format!("http://{}", app.addr);
    (Scene { app, base, _targets: (failing, healthy), _db: db }, browser)
}

/// Sign in through the `/login` form.
async fn log_in(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/login")).await;
    let field = browser.find("input[name=\"token\"]").await;
    assert_eq!(field.attr("type").await.ok().flatten().as_deref(), Some("password"), "the token field hides input");
    field.send_keys(OPERATOR_TOKEN).await.expect("type the token");
    browser.click("form button[type=\"submit\"], form input[type=\"submit\"]").await;
    browser.wait_for_path("/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_page_shows_the_failing_server_and_its_open_case_only_to_a_signed_in_user() {
    let (scene, browser) = scene().await;
    browser.goto(&format!("{}/", scene.base)).await;
    assert!(browser.path().await.starts_with("/login"), "the operations page asks for a sign-in first");
    log_in(&browser, &scene.base).await;
    let server = "section tr.server[data-server=\"acme-eu-1\"]";
    assert_eq!(browser.attr(server, "data-state").await.as_deref(), Some("down"));
    assert!(
        browser.find_all("tr.server[data-server=\"globex-us-1\"]").await.is_empty(),
        "only non-up servers are rows"
    );

    let case = "section#open-cases tr.case[data-case=\"FW-000001\"]";
    assert_eq!(browser.attr(case, "data-status").await.as_deref(), Some("open"));
    assert_eq!(browser.attr(case, "data-severity").await.as_deref(), Some("1"));
    assert!(browser.text(case).await.contains("acme-eu-1"), "the case row names its server");

    for customer in ["acme", "globex"] {
        browser.find(&format!("section#customers div.customer[data-customer=\"{customer}\"]")).await;
    }
    let bars = browser.find_all("section#customers span.day").await.len();
    assert!(bars >= 2 * 90 && bars % 90 == 0, "90 uptime bars per service, got {bars}");
    browser.screenshot("ops-page").await;

    // Signing out ends the session: the page asks for a sign-in again.
    browser.click("#logout").await;
    browser.wait_for_path("/login").await;
    browser.goto(&format!("{}/", scene.base)).await;
    assert!(browser.path().await.starts_with("/login"), "signed out: asked to sign in again");
    // A customer's page still opens with its token link, and shows only that customer.
    browser.goto(&format!("{}/status/acme?token={ACME_TOKEN}", scene.base)).await;
    browser.wait_for_path("/status/acme").await;
    assert!(browser.text("body").await.contains("acme-eu-1"));
    assert!(!browser.source().await.contains("globex"), "another customer's servers are not shown");
    browser.close().await;
    scene.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_page_shows_only_its_own_servers_and_refuses_a_wrong_token() {
    let (scene, browser) = scene().await;
    browser.goto(&format!("{}/status/acme?token={ACME_TOKEN}", scene.base)).await;
    browser.wait_for_path("/status/acme").await;
    assert_eq!(browser.attr("tr.server[data-server=\"acme-eu-1\"]", "data-state").await.as_deref(), Some("down"));
    browser.find("tr.case[data-case=\"FW-000001\"]").await;
    let source = browser.source().await;
    assert!(!source.contains("globex"), "another customer shows on acme's page:\n{source}");
    assert!(!source.contains(ACME_TOKEN), "the token stays out of the page");
    browser.screenshot("customer-page").await;

    // The cookie from the first visit lets a reload in without the token.
    browser.goto(&format!("{}/status/acme", scene.base)).await;
    browser.find("tr.server[data-server=\"acme-eu-1\"]").await;

    // A wrong token: refused, and nothing of the customer's shows.
    let wrong = format!("/status/acme?token=not-{ACME_TOKEN}");
    assert_eq!(scene.app.get(&wrong).await.0, 403);
    browser.client.delete_all_cookies().await.expect("forget the good visit's cookie");
    browser.goto(&format!("{}{wrong}", scene.base)).await;
    let refused = browser.text("body").await.to_lowercase();
    let says_refused = ["access denied", "forbidden", "refused", "not valid"].iter().any(|w| refused.contains(w));
    assert!(says_refused, "the page says it is refused: {refused}");
    assert!(!browser.text("p.error").await.is_empty(), "the refusal is shown as an error");
    assert!(browser.find_all("tr.server").await.is_empty() && !refused.contains("acme-eu-1"), "{refused}");
    browser.screenshot("customer-refused").await;
    browser.close().await;
    scene.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_logs_in_and_acknowledges_a_case_on_its_page() {
    let (scene, browser) = scene().await;
    log_in(&browser, &scene.base).await;
    browser.goto(&format!("{}/cases/FW-000001", scene.base)).await;
    browser.find("table#timeline tr.event[data-kind=\"opened\"]").await;
    browser.find("textarea#note-text").await;
    browser.find("button#add-note").await;

    browser.click("#ack").await;
    browser.wait_for_path("/cases/FW-000001").await;
    browser.find("table#timeline tr.event[data-kind=\"acknowledged\"]").await;
    assert!(browser.find_all("p.error").await.is_empty(), "no error after ack: {}", browser.source().await);
    assert!(browser.text("body").await.contains("acknowledged"), "the page shows the new status");
    browser.screenshot("case-page").await;

    let detail = scene.app.get_json("/api/v1/cases/FW-000001").await;
    assert_eq!(detail["case"]["status"], "acknowledged", "{detail}");
    browser.close().await;
    scene.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paged_person_acknowledges_from_the_ack_page_without_signing_in() {
    let (scene, browser) = scene().await;
    let case = scene.app.store.cases(&[], 10).await.expect("cases").into_iter().next().expect("a case");
    let page = scene.app.store.outbox(Some(case.id)).await.expect("outbox").into_iter().find(|r| r.event == "page");
    let body: serde_json::Value = serde_json::from_str(&page.expect("a page").body).expect("JSON body");
    let url = body["ack_url"].as_str().expect("the page carries an ack link").to_string();
    let path = &url[url.find("/ack/").expect("an /ack/ link")..];

    browser.goto(&format!("{}{path}", scene.base)).await;
    assert!(browser.text("body").await.contains("FW-000001"), "the case is shown: {}", browser.source().await);
    assert_eq!(
        scene.app.get_json("/api/v1/cases/FW-000001").await["case"]["status"],
        "open",
        "opening changes nothing"
    );
    browser.screenshot("ack-page").await;
    browser.click("form button[type=\"submit\"]").await;
    browser.find("h1#acknowledged").await;
    browser.screenshot("ack-done").await;

    let detail = scene.app.get_json("/api/v1/cases/FW-000001").await;
    assert_eq!(detail["case"]["status"], "acknowledged", "{detail}");
    let taken = detail["timeline"].as_array().and_then(|t| t.iter().find(|e| e["kind"] == "acknowledged").cloned());
    assert_eq!(taken.map(|e| e["actor"].clone()), Some(serde_json::json!("alice")), "as the paged person: {detail}");
    browser.close().await;
    scene.app.stop().await;
}
