//! On-call through real HTTP (PRODUCT.md section 14): `GET /api/v1/oncall` says who holds
//! each pager now, until when and who is next; an override added with
//! `POST /api/v1/oncall/overrides` is stored and changes who is paged, and removing it gives
//! the pager back.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firstwatch::clock::{rfc3339_ms, ManualClock};

use crate::helpers::app::{wait_until, TestApp, OPERATOR_TOKEN, VIEWER_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::receiver::Receiver;
use crate::helpers::targets::{Behavior, FakeTarget};
use crate::paging::config;

const T0: u64 = 1_796_000_000;

fn role<'a>(oncall: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    oncall["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["role"] == name))
        .unwrap_or_else(|| panic!("no role {name} in {oncall}"))
}

/// Who was paged, once the first page is queued (the target is failing by then).
async fn paged_once_down(app: &TestApp) -> Vec<String> {
    let pages = || async {
        let rows = app.store.outbox(None).await.expect("outbox");
        rows.into_iter().filter(|r| r.event == "page").map(|r| r.recipient_id).collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(15), "the page", || async { !pages().await.is_empty() }).await;
    pages().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_changes_who_is_paged_and_removing_it_gives_the_pager_back() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let text = config(&db.url, &target, &pager, &others, "").replacen(
        "[[people]]",
        "[[people]]\nid = \"bob\"\nname = \"Bob\"\nrole = \"night-cover\"\nchannels = [\"mail\"]\n\n[[people]]",
        1,
    );
    let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0)));
    let app = TestApp::spawn_with_clock(&text, clock.clone()).await;
    let ms = |s: i64| rfc3339_ms((T0 as i64 + s) * 1000);

    let oncall = app.get_json("/api/v1/oncall").await;
    let om = role(&oncall, "operations-manager");
    assert_eq!(
        (&om["now"]["id"], &om["override"], &om["until"]),
        (&"alice".into(), &false.into(), &None::<String>.into())
    );

    // Refused: a viewer, an unknown person or role, an end before the start or in the past.
    let body = |role: &str, person: &str, start: i64, end: i64| {
        serde_json::json!({"role": role, "person": person, "start": ms(start), "end": ms(end)}).to_string()
    };
    let path = "/api/v1/oncall/overrides";
    let good = body("operations-manager", "bob", -3600, 3600);
    assert_eq!(app.post_json(path, Some(VIEWER_TOKEN), Some(&good)).await.0, 403);
    for (bad, says) in [
        (body("operations-manager", "nobody", -3600, 3600), "person"),
        (body("janitor", "bob", -3600, 3600), "role"),
        (body("operations-manager", "bob", 3600, -3600), "end"),
        (body("operations-manager", "bob", -7200, -3600), "end"),
    ] {
        let (code, answer) = app.post_json(path, Some(OPERATOR_TOKEN), Some(&bad)).await;
        assert!(code == 400 && answer["error"].as_str().is_some_and(|e| e.starts_with(says)), "{bad}: {answer}");
    }
    assert_eq!(app.get_json("/api/v1/oncall").await["overrides"], serde_json::json!([]), "nothing was stored");

    let (code, added) = app.post_json(path, Some(OPERATOR_TOKEN), Some(&good)).await;
    assert_eq!(code, 201, "{added}");
    assert_eq!(
        (&added["person"], &added["source"], &added["created_by"]),
        (&"bob".into(), &"api".into(), &"test-operator".into())
    );
    let oncall = app.get_json("/api/v1/oncall").await;
    let om = role(&oncall, "operations-manager");
    assert_eq!((&om["now"]["id"], &om["override"]), (&"bob".into(), &true.into()), "{oncall}");
    assert_eq!((&om["until"], &om["next"]["id"]), (&ms(3600).into(), &"alice".into()), "{oncall}");

    // The outage pages Bob, not Alice.
    target.set(Behavior::Status(503));
    assert_eq!(paged_once_down(&app).await, ["bob"], "the override holds the pager");

    // The operations page says so too.
    let (_, page) = app.get("/").await;
    assert!(
        page.contains("data-role=\"operations-manager\" data-now=\"bob\"") && page.contains("(override)"),
        "{page}"
    );

    // Removed: Alice holds it again; a second removal finds nothing.
    let id = added["id"].as_i64().expect("an id");
    assert_eq!(app.send("DELETE", &format!("{path}/{id}"), Some(OPERATOR_TOKEN), None).await.0, 204);
    assert_eq!(app.send("DELETE", &format!("{path}/{id}"), Some(OPERATOR_TOKEN), None).await.0, 404);
    let oncall = app.get_json("/api/v1/oncall").await;
    assert_eq!(role(&oncall, "operations-manager")["now"]["id"], "alice");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_added_on_one_instance_pages_from_every_instance_on_postgresql() {
    let db = TestDb::new(Backend::Postgres).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let text = config(&db.url, &target, &pager, &others, "").replacen(
        "[[people]]",
        "[[people]]\nid = \"bob\"\nname = \"Bob\"\nrole = \"night-cover\"\nchannels = [\"mail\"]\n\n[[people]]",
        1,
    );
    let first = TestApp::spawn(&text).await;
    let second = TestApp::spawn(&text).await;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis() as i64;
    let body = serde_json::json!({
        "role": "operations-manager", "person": "bob",
        "start": rfc3339_ms(now - 60_000), "end": rfc3339_ms(now + 3_600_000),
    })
    .to_string();
    assert_eq!(first.post_json("/api/v1/oncall/overrides", Some(OPERATOR_TOKEN), Some(&body)).await.0, 201);
    // Stored, so the other instance says so at once and pages by it, whichever one opens the case.
    assert_eq!(role(&second.get_json("/api/v1/oncall").await, "operations-manager")["now"]["id"], "bob");
    target.set(Behavior::Status(503));
    assert_eq!(paged_once_down(&first).await, ["bob"]);
    second.stop().await;
    first.stop().await;
}
