//! Decisions that survive faults (PRODUCT.md section 10, "Decisions follow state" and
//! "Database trouble"): the database locked from outside for longer than every statement
//! timeout while a decision falls due, a graceful stop between a transition and its decision,
//! and `kill -9` again and again through one outage. Each test reads what a user would see
//! afterwards: the case row, its timeline, the outbox, the counts.

use std::time::Duration;

use firstwatch::domain::ServerState;
use firstwatch::store::{CaseRow, OutboxRow, Store};
use sqlx::{Connection, Executor};

use crate::helpers::app::{config_paging, run_binary, server_keys, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str =
    "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\nrecovery_threshold = 2\ntimeout = \"100ms\"";
/// Longer than every statement timeout of the store (SQLite's busy timeout is 5 s,
/// PostgreSQL's statement timeout 10 s).
const LOCKED_FOR: Duration = Duration::from_secs(12);
/// After the lock is gone, a decision must land within this (the sweep runs every second).
const DECIDED_WITHIN: Duration = Duration::from_secs(5);

on_both_backends!(a_raise_and_a_recovery_due_while_the_database_is_locked_happen_once_it_is_free);

/// A lock taken from outside the app, as a backup tool or a long write would: SQLite's
/// `BEGIN EXCLUSIVE` on the file, or PostgreSQL's `ACCESS EXCLUSIVE` on the cases table.
pub enum OutsideLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl OutsideLock {
    pub async fn take(url: &str) -> OutsideLock {
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("second connection to the file");
            conn.execute("BEGIN EXCLUSIVE").await.expect("BEGIN EXCLUSIVE");
            OutsideLock::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("second connection to PostgreSQL");
            conn.execute("BEGIN").await.expect("BEGIN");
            conn.execute("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE").await.expect("LOCK TABLE");
            OutsideLock::Postgres(conn)
        }
    }

    pub async fn release(self) {
        match self {
            OutsideLock::Sqlite(mut c) => c.execute("ROLLBACK").await.map(drop).expect("release the SQLite lock"),
            OutsideLock::Postgres(mut c) => c.execute("ROLLBACK").await.map(drop).expect("release the table lock"),
        }
    }
}

async fn only_case(store: &Store) -> CaseRow {
    let cases = store.cases(&[], 10).await.expect("list cases");
    assert_eq!(cases.len(), 1, "exactly one case: {cases:#?}");
    cases.into_iter().next().expect("one case")
}

fn count(rows: &[OutboxRow], event: &str) -> usize {
    rows.iter().filter(|r| r.event == event).count()
}

/// Wait for `check` on the only case; returns how long it took.
async fn case_becomes(store: &Store, within: Duration, what: &str, check: impl Fn(&CaseRow) -> bool) -> Duration {
    let start = tokio::time::Instant::now();
    loop {
        if let Ok(cases) = store.cases(&[], 10).await {
            if cases.iter().any(&check) {
                return start.elapsed();
            }
        }
        assert!(start.elapsed() < within, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_raise_and_a_recovery_due_while_the_database_is_locked_happen_once_it_is_free(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (primary, secondary) = (FakeTarget::start(Behavior::Healthy).await, FakeTarget::start(Behavior::Healthy).await);
    let mut second = Srv::new("acme-eu-2", secondary.url());
    second.role = "secondary";
    let servers = [Srv::new("acme-eu-1", primary.url()), second];
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &servers, "", "")).await;
    wait_until(Duration::from_secs(10), "both servers up", || async {
        app.status("acme-eu-1").state == ServerState::Up && app.status("acme-eu-2").state == ServerState::Up
    })
    .await;
    primary.set(Behavior::Status(500));
    case_becomes(&app.store, Duration::from_secs(10), "a Severity 2 case", |c| c.severity.number() == 2).await;

    // (a) The last serving server fails while the database is locked.
    let lock = OutsideLock::take(&db.url).await;
    secondary.set(Behavior::Status(500));
    wait_until(Duration::from_secs(10), "the secondary down", || async {
        app.status("acme-eu-2").state == ServerState::Down
    })
    .await;
    tokio::time::sleep(LOCKED_FOR).await;
    assert_eq!(app.status("acme-eu-1").state, ServerState::Down, "probing went on under the lock");
    lock.release().await;
    let raised =
        case_becomes(&app.store, DECIDED_WITHIN, "the raise after the lock", |c| c.severity.number() == 1).await;
    let case = only_case(&app.store).await;
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!(count(&outbox, "case.severity_raised"), 1, "raised once");
    assert_eq!(count(&outbox, "page"), 1, "the raise's page, once: {outbox:#?}");

    // (b) Every server recovers while the database is locked.
    let lock = OutsideLock::take(&db.url).await;
    primary.set(Behavior::Healthy);
    secondary.set(Behavior::Healthy);
    wait_until(Duration::from_secs(10), "both servers back", || async {
        !app.status("acme-eu-1").confirmed_down && !app.status("acme-eu-2").confirmed_down
    })
    .await;
    tokio::time::sleep(LOCKED_FOR).await;
    lock.release().await;
    let resolved =
        case_becomes(&app.store, DECIDED_WITHIN, "the resolution after the lock", |c| c.status.as_str() == "resolved")
            .await;
    let case = only_case(&app.store).await;
    assert!(case.recovered_at.is_some());
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!(count(&outbox, "case.recovered"), 2, "the contact and the feed, once each");
    assert_eq!(count(&outbox, "case.resolved"), 2, "the contact and the feed, once each");
    eprintln!("{backend:?}: raise {raised:?} after the lock was released, resolution {resolved:?}");
    app.stop().await;
}

/// PostgreSQL only: the lock is on the cases table, so statuses persist and the decision does
/// not. SIGTERM reaches the binary between the transition and its decision; it stops cleanly
/// within its drain deadline (the engine does not wait for the stuck statement), and the
/// restarted app decides from the stored statuses without any new edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_between_a_transition_and_its_decision_decides_after_the_restart() {
    let db = TestDb::new(Backend::Postgres).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let config = config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", "");
    let dir = tempfile::tempdir().expect("temporary folder");
    let config_path = dir.path().join("firstwatch.toml");
    std::fs::write(&config_path, server_keys(&config, "listen = \"127.0.0.1:0\"")).expect("write config");
    let store = Store::connect(&db.url).await.expect("migrate first, so there is a table to lock");
    let lock = OutsideLock::take(&db.url).await;
    let mut process = run_binary(&config_path);
    wait_until(Duration::from_secs(15), "the down status persisted", || async {
        store.load_statuses().await.is_ok_and(|s| s.iter().any(|s| s.state == ServerState::Down))
    })
    .await;
    let pid = process.id().expect("a running process").to_string();
    let sent = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill -TERM");
    assert!(sent.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), process.wait()).await.expect("stops").expect("reap");
    assert!(exit.success(), "a clean stop after SIGTERM: {exit:?}");
    lock.release().await;
    assert!(store.cases(&[], 10).await.expect("cases").is_empty(), "no decision before the stop");

    // The target still fails, but the threshold was crossed before the stop: no new edge.
    let second = TestApp::spawn(&config).await;
    let took = case_becomes(&second.store, DECIDED_WITHIN, "the case after the restart", |_| true).await;
    let case = only_case(&second.store).await;
    let outbox = second.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!((case.severity.number(), count(&outbox, "page")), (1, 1), "Severity 1, paged once");
    eprintln!("case opened {took:?} after the restart");
    second.stop().await;
    store.close().await;
}

/// 100 `kill -9` at random moments through one outage, through the binary: one case, one
/// distinct notice and one distinct page per recipient, and a count never reset and never
/// above the requests the server received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_kill_9_through_one_outage_open_one_case_and_send_nothing_twice() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let config_path = dir.path().join("firstwatch.toml");
    let probing = "interval = \"200ms\"\nretry_interval = \"100ms\"\nfailure_threshold = 10\ntimeout = \"100ms\"";
    let config = config_paging(&db.url, probing, &[Srv::new("acme-eu-1", target.url())], "", "");
    std::fs::write(&config_path, server_keys(&config, "listen = \"127.0.0.1:0\"")).expect("write config");
    let run = || run_binary(&config_path);
    // A fixed seed: the "random" moments are the same on every run, spread over 0-400 ms.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut previous = 0i64;
    for _ in 0..100 {
        let mut process = run();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(seed % 400)).await;
        process.start_kill().expect("kill -9");
        process.wait().await.expect("reap");
        let store = Store::connect(&db.url).await.expect("open the database");
        let count = store.load_statuses().await.expect("statuses").first().map_or(0, |s| s.consecutive_failures);
        store.close().await;
        assert!(count >= previous, "the count went back from {previous} to {count}");
        let hits = i64::try_from(target.hits()).expect("small");
        assert!(count <= hits, "counted {count} failures of {hits} requests");
        previous = count;
    }
    // One clean run to let whatever is due happen.
    let app = TestApp::spawn(&config).await;
    case_becomes(&app.store, Duration::from_secs(20), "the case", |_| true).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let case = only_case(&app.store).await;
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    let mut keys: Vec<(&str, &str, &str)> =
        outbox.iter().map(|r| (r.event.as_str(), r.recipient_id.as_str(), r.idempotency_key.as_str())).collect();
    keys.sort_unstable();
    keys.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    assert_eq!(keys.len(), outbox.len(), "one message per event and recipient: {outbox:#?}");
    assert_eq!(count(&outbox, "customer.notice"), 1);
    assert_eq!(count(&outbox, "page"), 1);
    let status = app.status("acme-eu-1");
    app.stop().await;
    let hits = u32::try_from(target.hits()).expect("small");
    assert!(status.consecutive_failures <= hits, "{} counted of {hits}", status.consecutive_failures);
    assert!(i64::from(status.consecutive_failures) >= previous, "never reset");
}

/// One sample of `/metrics` (a line `name value`, or `name{labels} value`).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(series) && l[series.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// PostgreSQL stopped for 60 s under 2,000 servers: the process stays up, probing goes on at
/// the planned rate with little lag, `/readyz` says 503 and why, and an outage that began
/// meanwhile opens its case once the database is back, with one notice and one page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_a_minute_under_2000_servers_stops_neither_probing_nor_decisions() {
    const OUTAGE: Duration = Duration::from_secs(60);
    let pg = crate::helpers::pg_cluster::PgCluster::start();
    let healthy = FakeTarget::start(Behavior::Healthy).await;
    let victim = FakeTarget::start(Behavior::Healthy).await;
    let ids: Vec<String> = (0..2000).map(|i| format!("s{i}")).collect();
    let customers: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
    let mut servers: Vec<Srv<'_>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Srv {
            customer: &customers[i / 20],
            service: "web",
            id,
            role: "primary",
            target: healthy.url(),
            extra: "",
        })
        .collect();
    servers.push(Srv { customer: "victim", service: "shop", ..Srv::new("victim-1", victim.url()) });
    let probing = "interval = \"10s\"\nretry_interval = \"200ms\"\nfailure_threshold = 3\ntimeout = \"200ms\"";
    let app = TestApp::spawn(&config_paging(&pg.url(), probing, &servers, "", "")).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().expect("client");
    let readyz = |client: reqwest::Client, addr| async move {
        let started = tokio::time::Instant::now();
        let response = client.get(format!("http://{addr}/readyz")).send().await.expect("/readyz answers");
        (response.status().as_u16(), response.text().await.unwrap_or_default(), started.elapsed())
    };
    wait_until(Duration::from_secs(10), "ready", || async { readyz(client.clone(), app.addr).await.0 == 200 }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    tokio::task::block_in_place(|| pg.stop());
    let started = tokio::time::Instant::now();
    let probes_before = sample(&app.get("/metrics").await.1, "firstwatch_probes_total");
    victim.set(Behavior::Status(500));
    let mut slowest_readyz = Duration::ZERO;
    while started.elapsed() < OUTAGE {
        let (status, body, took) = readyz(client.clone(), app.addr).await;
        assert_eq!(status, 503, "not ready while the database is away: {body}");
        assert!(body.contains("database"), "says why: {body}");
        slowest_readyz = slowest_readyz.max(took);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let probed = sample(&app.get("/metrics").await.1, "firstwatch_probes_total") - probes_before;
    let planned = 2000.0 / 10.0 * elapsed;
    assert!(probed >= 0.9 * planned, "probed {probed} of {planned:.0} planned during the outage");
    assert_eq!(app.status("victim-1").state, ServerState::Down, "the outage was seen meanwhile");
    assert!(slowest_readyz < Duration::from_secs(2), "/readyz took {slowest_readyz:?}");

    tokio::task::block_in_place(|| pg.start_again());
    let back = tokio::time::Instant::now();
    wait_until(Duration::from_secs(20), "ready again", || async { readyz(client.clone(), app.addr).await.0 == 200 })
        .await;
    let ready_after = back.elapsed();
    let decided = case_becomes(&app.store, Duration::from_secs(20), "the victim's case", |c| c.customer == "victim")
        .await
        + ready_after;
    let case = only_case(&app.store).await;
    let outbox = app.store.outbox(Some(case.id)).await.expect("outbox");
    assert_eq!((count(&outbox, "customer.notice"), count(&outbox, "page")), (1, 1), "{outbox:#?}");
    let metrics = app.get("/metrics").await.1;
    let within_1s = sample(&metrics, "firstwatch_scheduler_lag_seconds_bucket{le=\"1\"}");
    let all = sample(&metrics, "firstwatch_scheduler_lag_seconds_count");
    assert!(within_1s >= 0.99 * all, "scheduler lag p99 above 1 s: {within_1s} of {all} within 1 s");
    eprintln!(
        "probed {probed} of {planned:.0} planned in {elapsed:.1}s; /readyz slowest {slowest_readyz:?}; \
         ready {ready_after:?} and the case {decided:?} after PostgreSQL came back; lag <= 1 s: {within_1s}/{all}"
    );
    app.stop().await;
}
