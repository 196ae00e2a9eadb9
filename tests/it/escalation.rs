//! Escalation levels and customer updates follow the plan and the case's real state
//! (PRODUCT.md section 10, "Updates follow the plan"): stepped with an injected clock through
//! the engine's single step `run_due`, with a real server failing and recovering on loopback.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use firstwatch::clock::{from_unix_ms, ManualClock};
use firstwatch::store::{CaseRow, OutboxRow};

use crate::helpers::app::{wait_until, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::receiver::Receiver;
use crate::helpers::targets::{Behavior, FakeTarget};
use crate::paging::config;

const HOUR: i64 = 3_600_000;

/// Messages of `event` through `channel` (the customer's contact has two channels).
fn count(rows: &[OutboxRow], event: &str, channel: &str) -> usize {
    rows.iter().filter(|r| r.event == event && r.channel == channel).count()
}

async fn the_case(app: &TestApp) -> Option<CaseRow> {
    app.store.cases(&[], 10).await.expect("cases").into_iter().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_follow_the_plan_and_nothing_escalates_once_every_server_has_recovered() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let (pager, others) = (Receiver::ok().await, Receiver::ok().await);
    let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)));
    let cases = "ack_timeout = \"3h\"\nupdate_interval = \"1h\"\nauto_resolve = false";
    let app = TestApp::spawn_with_clock(&config(&db.url, &target, &pager, &others, cases), clock.clone()).await;
    wait_until(Duration::from_secs(10), "a Severity 1 case", || async { the_case(&app).await.is_some() }).await;
    let case = the_case(&app).await.expect("a case");
    let since = case.severity1_since.expect("Severity 1 from the start");
    let step = |at: i64| {
        clock.set(from_unix_ms(at));
        let engine = app.engine.clone();
        async move { engine.run_due().await.expect("run_due") }
    };
    let outbox = || async { app.store.outbox(Some(case.id)).await.expect("outbox") };

    // The first update goes out ten minutes late; the second is still due on the plan.
    step(since + HOUR + 10 * 60_000).await;
    assert_eq!(count(&outbox().await, "customer.update", "mail"), 1);
    step(since + 2 * HOUR + 1_000).await;
    assert_eq!(count(&outbox().await, "customer.update", "mail"), 2, "due at since + 2 × interval, not 2h10m");
    let update = outbox().await.into_iter().rfind(|r| r.event == "customer.update").expect("an update");
    assert!(update.body.contains("has been down for 2h"), "{}", update.body);

    // Every server recovers; with auto_resolve off the case stays open.
    target.set(Behavior::Healthy);
    wait_until(Duration::from_secs(10), "the recovery recorded", || async {
        the_case(&app).await.is_some_and(|c| c.recovered_at.is_some())
    })
    .await;
    step(since + 3 * HOUR + 1_000).await;
    step(since + 6 * HOUR).await;
    let rows = outbox().await;
    assert_eq!(the_case(&app).await.map(|c| c.status.to_string()), Some("open".to_string()), "nobody resolved it");
    assert_eq!(count(&rows, "escalation", "pager"), 0, "no VP page for a service that is back: {rows:#?}");
    assert_eq!(count(&rows, "customer.call", "phone"), 0, "no call to the customer either");
    assert_eq!(count(&rows, "customer.update", "mail"), 2, "updates stop with the recovery");
    assert_eq!(
        count(&rows, "case.recovered", "mail") + count(&rows, "case.recovered", "feed"),
        2,
        "the customer and the feed heard it is back"
    );
    app.stop().await;
}
