//! Cases end to end: real targets on loopback, the real app, real databases. Each test reads
//! what an operator or a receiver would see: case rows, timelines, outbox rows, metrics.

use std::time::Duration;

use firstwatch::cases::{CaseError, OperatorAction};
use firstwatch::domain::{CaseNumber, ServerState};
use firstwatch::store::{CaseRow, OutboxRow, Store};

use crate::helpers::app::{config_paging, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str =
    "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\nrecovery_threshold = 2\ntimeout = \"100ms\"";

async fn cases(store: &Store) -> Vec<CaseRow> {
    store.cases(&[], 100).await.expect("list cases")
}

async fn wait_for_case(app: &TestApp, what: &str, check: impl Fn(&CaseRow) -> bool) -> CaseRow {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(case) = cases(&app.store).await.into_iter().find(|c| check(c)) {
            return case;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {:#?}", cases(&app.store).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn events<'a>(rows: &'a [OutboxRow], event: &str) -> Vec<&'a OutboxRow> {
    rows.iter().filter(|r| r.event == event).collect()
}

fn pair<'a>(primary: &'a str, secondary: &'a str, p: &FakeTarget, s: &FakeTarget) -> Vec<Srv<'a>> {
    let mut second = Srv::new(secondary, s.url());
    second.role = "secondary";
    vec![Srv::new(primary, p.url()), second]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_opens_at_the_threshold_as_severity_1_and_pages_the_operations_manager() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(503)).await;
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", "")).await;

    let case = wait_for_case(&app, "a case", |_| true).await;
    assert_eq!(target.hits(), 3, "opened at exactly the third failure, not later");
    assert_eq!((case.id, case.severity.number(), case.status.as_str()), (1, 1, "open"));
    assert_eq!(
        (case.customer.as_str(), case.service.as_str(), case.server.as_str()),
        ("acme", "storefront", "acme-eu-1")
    );
    assert_eq!((case.consecutive_failures, case.last_error.as_deref()), (3, Some("http 503")));

    let timeline = app.store.timeline(case.id).await.expect("timeline");
    assert_eq!(timeline[0].kind.as_str(), "opened");
    assert!(timeline[0].text.starts_with("FW-000001 opened, Severity 1"), "{}", timeline[0].text);

    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    let notice = events(&outbox, "customer.notice");
    assert_eq!(notice.len(), 1);
    assert_eq!(
        (notice[0].recipient_kind.as_str(), notice[0].recipient_id.as_str()),
        ("customer_contact", "ops-acme@example.test")
    );
    assert_eq!(events(&outbox, "case.opened").len(), 1, "the feed");
    let pages = events(&outbox, "page");
    assert_eq!(pages.len(), 1, "only the on-call Operations Manager at once: {outbox:#?}");
    assert_eq!(pages[0].recipient_id, "alice");

    let body: serde_json::Value = serde_json::from_str(&notice[0].body).expect("JSON body");
    assert_eq!(body["event"], "customer.notice");
    assert_eq!(body["idempotency_key"], notice[0].idempotency_key.as_str());
    assert_eq!(body["recipient"]["kind"], "customer_contact");
    assert_eq!(body["case"]["id"], "FW-000001");
    assert_eq!(body["case"]["severity"], 1);
    assert_eq!(body["case"]["status"], "open");
    assert_eq!(body["case"]["server"], "acme-eu-1");
    assert_eq!(body["case"]["consecutive_failures"], 3);
    assert_eq!(body["case"]["last_error"], "http 503");
    assert!(body["text"].as_str().is_some_and(|t| t.contains("FW-000001")), "the notice carries the case number");
    assert!(body["occurred_at"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24));

    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("firstwatch_cases_opened_total{severity=\"1\"} 1"), "{metrics}");
    assert!(metrics.contains("firstwatch_pages_total{role=\"operations-manager\"} 1"), "{metrics}");
    wait_until(Duration::from_secs(3), "the open-case gauge", || async {
        app.get("/metrics").await.1.contains("firstwatch_cases_open{severity=\"1\"} 1")
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_2_while_the_secondary_serves_then_raised_to_1_when_it_fails_too() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (primary, secondary) = (FakeTarget::start(Behavior::Healthy).await, FakeTarget::start(Behavior::Healthy).await);
    let app =
        TestApp::spawn(&config_paging(&db.url, FAST, &pair("acme-eu-1", "acme-eu-2", &primary, &secondary), "", ""))
            .await;
    // The secondary must be known to serve before the primary fails: each server's first
    // request comes at its own offset within the interval.
    wait_until(Duration::from_secs(5), "both up", || async {
        ["acme-eu-1", "acme-eu-2"].iter().all(|id| app.status(id).state == ServerState::Up)
    })
    .await;
    primary.set(Behavior::Status(500));

    let case = wait_for_case(&app, "a Severity 2 case", |_| true).await;
    assert_eq!(case.severity.number(), 2, "the secondary still serves");
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert!(events(&outbox, "page").is_empty(), "Severity 2 pages nobody");
    assert_eq!(events(&outbox, "customer.notice").len(), 1);

    secondary.set(Behavior::Status(500));
    let case = wait_for_case(&app, "the raise", |c| c.severity.number() == 1).await;
    assert_eq!(cases(&app.store).await.len(), 1, "still one case for the service");
    let timeline = app.store.timeline(case.id).await.expect("timeline");
    let mut kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    // The raise is decided (by the hint or by the sweep, whichever looks first); the note
    // about the second server is told by the hint: either may come first on the timeline.
    kinds[1..].sort_unstable();
    assert_eq!(kinds, ["opened", "server_down", "severity_raised"]);
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!(events(&outbox, "case.severity_raised").len(), 1);
    assert_eq!(events(&outbox, "customer.notice").len(), 2, "opened, then raised");
    assert_eq!(events(&outbox, "page").len(), 1, "raising to Severity 1 pages the Operations Manager");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_resolves_the_case_and_a_new_outage_within_the_window_reopens_it() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let app = TestApp::spawn(&config_paging(
        &db.url,
        FAST,
        &[Srv::new("acme-eu-1", target.url())],
        "reopen_window = \"1h\"",
        "",
    ))
    .await;
    let case = wait_for_case(&app, "a case", |_| true).await;

    target.set(Behavior::Healthy);
    let case = wait_for_case(&app, "resolution", |c| c.id == case.id && c.status.as_str() == "resolved").await;
    assert!(case.recovered_at.is_some() && case.resolved_at.is_some());
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!(events(&outbox, "case.recovered").len(), 2, "the contact and the feed");
    assert_eq!(events(&outbox, "case.resolved").len(), 2, "the contact and the feed");

    target.set(Behavior::Status(502));
    let reopened = wait_for_case(&app, "reopening", |c| c.status.as_str() == "reopened").await;
    assert_eq!(reopened.id, case.id, "the same case, not a new one");
    assert_eq!(cases(&app.store).await.len(), 1);
    assert_eq!(reopened.last_error.as_deref(), Some("http 502"));
    let kinds: Vec<String> =
        app.store.timeline(case.id).await.expect("timeline").into_iter().map(|e| e.kind.to_string()).collect();
    // `server_recovered` is the per-server note beside the case's own steps; where it lands
    // among them depends on which sweep saw the server first, so only the case's steps are
    // held to their order.
    let steps: Vec<&str> = kinds.iter().map(String::as_str).filter(|k| *k != "server_recovered").collect();
    assert_eq!(steps, ["opened", "recovered", "resolved", "reopened"], "{kinds:?}");
    assert!(kinds.iter().filter(|k| *k == "server_recovered").count() <= 1, "{kinds:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_work_a_case_through_its_life_cycle_and_illegal_steps_are_refused() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", "")).await;
    let case = wait_for_case(&app, "a case", |_| true).await;
    let n = CaseNumber(case.id);

    let refused = app.engine.act(n, "alice", OperatorAction::Close).await;
    assert!(matches!(refused, Err(CaseError::Illegal(_))), "{refused:?}");
    assert_eq!(refused.map(|_| ()).map_err(|e| e.to_string()), Err("cannot close a case that is open".to_string()));
    assert!(matches!(
        app.engine.act(CaseNumber(99), "alice", OperatorAction::Acknowledge(firstwatch::outbox::AckVia::Api)).await,
        Err(CaseError::NotFound(_))
    ));
    assert!(matches!(app.engine.act(n, "alice", OperatorAction::Note("  ".into())).await, Err(CaseError::Invalid(_))));

    let acked =
        app.engine.act(n, "alice", OperatorAction::Acknowledge(firstwatch::outbox::AckVia::Api)).await.expect("ack");
    assert_eq!((acked.status.as_str(), acked.acknowledged_by.as_deref()), ("acknowledged", Some("alice")));
    assert!(
        app.engine.act(n, "alice", OperatorAction::Acknowledge(firstwatch::outbox::AckVia::Api)).await.is_err(),
        "acknowledged twice"
    );
    let noted =
        app.engine.act(n, "alice", OperatorAction::Note("Restarting the load balancer".into())).await.expect("note");
    assert_eq!(noted.status.as_str(), "in_progress");
    let resolved = app.engine.act(n, "alice", OperatorAction::Resolve).await.expect("resolve");
    assert_eq!(resolved.status.as_str(), "resolved");
    let closed = app.engine.act(n, "alice", OperatorAction::Close).await.expect("close");
    assert_eq!(closed.status.as_str(), "closed");
    assert!(
        app.engine.act(n, "alice", OperatorAction::Acknowledge(firstwatch::outbox::AckVia::Api)).await.is_err(),
        "closed is final"
    );

    let timeline = app.store.timeline(case.id).await.expect("timeline");
    let steps: Vec<(&str, &str)> = timeline.iter().map(|e| (e.kind.as_str(), e.actor.as_str())).collect();
    assert_eq!(
        steps,
        [
            ("opened", "firstwatch"),
            ("acknowledged", "alice"),
            ("note", "alice"),
            ("resolved", "alice"),
            ("closed", "alice")
        ]
    );
    assert_eq!(timeline[2].text, "Restarting the load balancer");
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!(events(&outbox, "case.resolved").len(), 2, "resolution notice to the contact and the feed");
    app.engine.run_due().await.expect("a sweep after the close");
    assert_eq!(cases(&app.store).await.len(), 1, "a case an operator closed during the outage is not opened again");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_response_target_is_a_timeline_event_and_a_metric() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let targets = "\n[cases.response_targets]\nseverity_1 = \"200ms\"\n";
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", targets)).await;
    let case = wait_for_case(&app, "a breached case", |c| c.sla_breached).await;
    assert_eq!(case.response_due_at - case.opened_at, 200);
    let timeline = app.store.timeline(case.id).await.expect("timeline");
    assert!(timeline.iter().any(|e| e.kind.as_str() == "sla_breach"), "{timeline:?}");
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("firstwatch_sla_breaches_total{severity=\"1\"} 1"), "{metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_opens_no_case_until_the_window_ends_with_the_server_still_down() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let now = firstwatch::clock::unix_ms(std::time::SystemTime::now());
    let window = format!(
        "\n[[maintenance]]\nserver = \"acme-eu-1\"\nstart = \"{}\"\nend = \"{}\"\n",
        firstwatch::clock::rfc3339_ms(now - 60_000),
        firstwatch::clock::rfc3339_ms(now + 2_500)
    );
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", &window)).await;
    wait_until(Duration::from_secs(5), "the threshold inside the window", || async {
        app.status("acme-eu-1").consecutive_failures >= 3
    })
    .await;
    // One sweep now: it would open the case if the window did not hold it back.
    app.engine.run_due().await.expect("the engine's sweep");
    assert_eq!(app.status("acme-eu-1").state, ServerState::Maintenance);
    assert!(cases(&app.store).await.is_empty(), "no case inside the window");
    assert!(app.store.outbox(None).await.expect("outbox").is_empty(), "nobody paged");

    let case = wait_for_case(&app, "a case after the window", |_| true).await;
    assert!(case.opened_at >= now + 2_500, "opened after the window ended");
    assert_eq!(case.severity.number(), 1);
    app.stop().await;
}

fn storm_fleet(target: &FakeTarget) -> (Vec<String>, Vec<(String, String)>) {
    let ids: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
    let owners: Vec<(String, String)> =
        (0..200).map(|i| (format!("c{}", i / 4), format!("svc{}", (i % 4) / 2))).collect();
    let _ = target;
    (ids, owners)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_that_takes_the_canary_down_opens_no_case_and_pages_about_the_monitor_once() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let canary = FakeTarget::start(Behavior::Status(500)).await;
    let (ids, owners) = storm_fleet(&target);
    let url = target.url();
    let servers: Vec<Srv<'_>> = ids
        .iter()
        .zip(&owners)
        .map(|(id, (customer, service))| Srv { customer, service, id, role: "primary", target: url.clone(), extra: "" })
        .collect();
    let guard = format!("\n[guard]\ncanaries = [\"{}\"]\nmax_failing_fraction = 0.5\n", canary.url());
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &servers, "", &guard)).await;

    wait_until(Duration::from_secs(15), "all 200 servers down", || async {
        app.fleet.iter().all(|(_, e)| e.status().state == ServerState::Down)
    })
    .await;
    app.engine.run_due().await.expect("a sweep during the storm");
    assert!(cases(&app.store).await.is_empty(), "no customer case during the storm");
    let outbox = app.store.outbox(None).await.expect("outbox");
    let degraded = events(&outbox, "monitor.degraded");
    assert_eq!(degraded.len(), 2, "once, to the Operations Manager and the feed: {outbox:#?}");
    assert_eq!(outbox.len(), 2, "nothing else");
    assert!(app.get("/metrics").await.1.contains("\nfirstwatch_monitor_degraded 1\n"));

    canary.set(Behavior::Healthy);
    target.set(Behavior::Healthy);
    wait_until(Duration::from_secs(15), "the guard to heal", || async {
        events(&app.store.outbox(None).await.expect("outbox"), "monitor.recovered").len() == 2
    })
    .await;
    assert!(app.get("/metrics").await.1.contains("\nfirstwatch_monitor_degraded 0\n"));
    assert!(cases(&app.store).await.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_that_outlasts_the_guard_still_opens_its_case_once_the_guard_heals() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let canary = FakeTarget::start(Behavior::Close).await;
    let guard = format!("\n[guard]\ncanaries = [\"{}\"]\n", canary.url());
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", &guard)).await;
    wait_until(Duration::from_secs(10), "the guard to trip", || async {
        app.get("/metrics").await.1.contains("\nfirstwatch_monitor_degraded 1\n")
    })
    .await;
    assert!(cases(&app.store).await.is_empty());

    canary.set(Behavior::Healthy);
    let case = wait_for_case(&app, "the case after the heal", |_| true).await;
    assert_eq!(case.server, "acme-eu-1");
    let outbox = app.store.outbox(None).await.expect("outbox");
    let summary: Vec<(&str, &str)> = outbox.iter().map(|r| (r.event.as_str(), r.recipient_id.as_str())).collect();
    assert_eq!(events(&outbox, "monitor.recovered").len(), 2, "{summary:?}");
    assert_eq!(events(&outbox, "customer.notice").len(), 1, "{summary:?}");
    app.stop().await;
}

on_both_backends!(a_crash_during_an_open_case_keeps_one_case_and_sends_no_notice_twice);

async fn a_crash_during_an_open_case_keeps_one_case_and_sends_no_notice_twice(backend: Backend) {
    let db = TestDb::new(backend).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let config = config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", "");
    let first = TestApp::spawn(&config).await;
    let case = wait_for_case(&first, "a case", |_| true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let store = first.store.clone();
    first.crash().await;
    let timeline_before = store.timeline(case.id).await.expect("timeline");
    let outbox_before = store.outbox(None).await.expect("outbox");

    let second = TestApp::spawn(&config).await;
    wait_until(Duration::from_secs(10), "more failures after the restart", || async {
        second.status("acme-eu-1").consecutive_failures >= 5
    })
    .await;
    second.engine.run_due().await.expect("a sweep after the restart");
    assert_eq!(cases(&second.store).await.len(), 1, "still one case");
    assert_eq!(second.store.timeline(case.id).await.expect("timeline"), timeline_before, "timeline intact");
    let outbox = second.store.outbox(None).await.expect("outbox");
    assert_eq!(events(&outbox, "customer.notice").len(), 1, "no duplicated notice");
    let messages =
        |rows: &[OutboxRow]| rows.iter().map(|r| (r.idempotency_key.clone(), r.body.clone())).collect::<Vec<_>>();
    assert_eq!(messages(&outbox), messages(&outbox_before), "the same messages, none added (delivery attempts aside)");

    target.set(Behavior::Healthy);
    wait_for_case(&second, "resolution", |c| c.status.as_str() == "resolved").await;
    second.crash().await;
    let third = TestApp::spawn(&config).await;
    third.engine.run_due().await.expect("a sweep after the restart");
    let outbox = third.store.outbox(None).await.expect("outbox");
    assert_eq!(events(&outbox, "case.resolved").len(), 2, "the resolution notice went out once");
    assert_eq!(cases(&third.store).await.len(), 1);
    third.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_postgres_database_open_exactly_one_case() {
    let db = TestDb::new(Backend::Postgres).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let config = config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", "");
    let (one, two) = (TestApp::spawn(&config).await, TestApp::spawn(&config).await);
    wait_until(Duration::from_secs(10), "both engines to see the outage", || async {
        one.status("acme-eu-1").state == ServerState::Down && two.status("acme-eu-1").state == ServerState::Down
    })
    .await;
    for engine in [&one.engine, &two.engine] {
        engine.run_due().await.expect("a sweep of each engine");
    }
    let all = cases(&one.store).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    let outbox = one.store.outbox(None).await.expect("outbox");
    assert_eq!(events(&outbox, "customer.notice").len(), 1, "{outbox:#?}");
    assert_eq!(events(&outbox, "page").len(), 1);
    one.stop().await;
    two.stop().await;
}
