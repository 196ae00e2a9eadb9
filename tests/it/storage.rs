//! Persistence on both backends: counts that survive a crash or `kill -9`, history kept as
//! roll-ups and state changes, retention, and the ordering guard on status writes.

use std::time::Duration;

use firstwatch::domain::ServerState;
use firstwatch::store::{Batch, FailureRow, RollupDelta, StateChangeRow, Store, StoredStatus};

use crate::helpers::app::{config_toml, run_binary, server_keys, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

on_both_backends!(
    service_day_totals_sum_every_server_of_the_service_and_an_older_database_is_filled_once,
    failure_counts_continue_after_the_engine_is_dropped_mid_sequence,
    failure_counts_continue_after_kill_9,
    results_roll_up_per_hour_and_state_changes_are_kept,
    history_past_retention_is_pruned,
    a_prune_of_many_rows_goes_in_chunks_and_keeps_what_is_recent,
    a_stale_write_never_moves_a_count_backwards,
);

/// Slow enough that a count stays below the threshold for the whole test.
const COUNTING: &str = "interval = \"5s\"\nretry_interval = \"100ms\"\nfailure_threshold = 1000\ntimeout = \"100ms\"";
/// The write-behind window of the test config (100 ms) holds at most this many results of one
/// server probed every 100 ms, plus the one in flight.
const MAX_LOST: usize = 3;

async fn persisted_failures(url: &str, id: &str) -> i64 {
    let store = Store::connect(url).await.expect("open the database again");
    let count = store
        .load_statuses()
        .await
        .expect("load statuses")
        .into_iter()
        .find(|s| s.server_id == id)
        .map(|s| s.consecutive_failures)
        .unwrap_or(0);
    store.close().await;
    count
}

async fn failure_counts_continue_after_the_engine_is_dropped_mid_sequence(backend: Backend) {
    let db = TestDb::new(backend).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let config = config_toml(&db.url, COUNTING, &[Srv::new("acme-eu-1", target.url())]);

    let first = TestApp::spawn(&config).await;
    wait_until(Duration::from_secs(10), "eight failures", || async {
        first.status("acme-eu-1").consecutive_failures >= 8
    })
    .await;
    first.crash().await;
    let seen = target.hits();
    let persisted = persisted_failures(&db.url, "acme-eu-1").await;
    assert!(persisted >= 5, "the count was persisted while running, got {persisted}");
    let persisted = usize::try_from(persisted).expect("a small count");
    assert!(persisted <= seen, "counted {persisted} of {seen} requests: a result counted twice");
    assert!(seen - persisted <= MAX_LOST, "lost {} results, more than the write-behind window", seen - persisted);

    let second = TestApp::spawn(&config).await;
    // The restarted scheduler may already have applied a request or two (the server was due
    // at once): the count is the persisted one plus at most those, never less.
    let restored = second.status("acme-eu-1").consecutive_failures as usize;
    let since_restart = target.hits() - seen;
    assert!(
        (persisted..=persisted + since_restart).contains(&restored),
        "the restart continues from the persisted count {persisted} (+{since_restart} new requests), not from {restored}"
    );
    wait_until(Duration::from_secs(10), "five more failures", || async { target.hits() >= seen + 5 }).await;
    second.stop().await;
    let after = usize::try_from(persisted_failures(&db.url, "acme-eu-1").await).expect("a small count");
    let new_requests = target.hits() - seen;
    // Every new request is counted once; at most the one in flight at shutdown is not.
    assert!(
        after + 1 >= persisted + new_requests && after <= persisted + new_requests,
        "persisted {persisted} + {new_requests} new requests, stored {after}"
    );
}

async fn failure_counts_continue_after_kill_9(backend: Backend) {
    let db = TestDb::new(backend).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let config_path = dir.path().join("firstwatch.toml");
    let config = config_toml(&db.url, COUNTING, &[Srv::new("acme-eu-1", target.url())]);
    std::fs::write(&config_path, server_keys(&config, "listen = \"127.0.0.1:0\"")).expect("write config");

    let run = || run_binary(&config_path);
    let mut process = run();
    wait_until(Duration::from_secs(20), "eight requests", || async { target.hits() >= 8 }).await;
    process.start_kill().expect("kill -9");
    process.wait().await.expect("reap");
    let seen = target.hits();
    let persisted = usize::try_from(persisted_failures(&db.url, "acme-eu-1").await).expect("a small count");
    assert!(persisted >= 4, "the count was persisted while running, got {persisted} of {seen}");
    assert!(persisted <= seen && seen - persisted <= MAX_LOST, "persisted {persisted} of {seen} requests");

    let mut process = run();
    wait_until(Duration::from_secs(20), "the count to move on after the restart", || async {
        persisted_failures(&db.url, "acme-eu-1").await as usize > persisted
    })
    .await;
    process.start_kill().expect("kill -9");
    process.wait().await.expect("reap");
    let after = usize::try_from(persisted_failures(&db.url, "acme-eu-1").await).expect("a small count");
    let total = target.hits();
    assert!(after > persisted, "never reset to zero: {after} after {persisted}");
    assert!(after <= total, "never counted twice: {after} counted, {total} requests in all");
}

async fn results_roll_up_per_hour_and_state_changes_are_kept(backend: Backend) {
    let db = TestDb::new(backend).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let probing = "interval = \"5s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
    let app = TestApp::spawn(&config_toml(&db.url, probing, &[Srv::new("acme-eu-1", target.url())])).await;
    wait_until(Duration::from_secs(10), "down", || async { app.status("acme-eu-1").state == ServerState::Down }).await;
    let store = app.store.clone();
    app.stop().await;

    let store = Store::connect(&db.url).await.unwrap_or(store);
    let rollups = store.rollups("acme-eu-1", 0).await.expect("rollups");
    let probes: i64 = rollups.iter().map(|r| r.probes).sum();
    let failures: i64 = rollups.iter().map(|r| r.failures).sum();
    assert_eq!(probes, i64::try_from(target.hits()).expect("small"));
    assert_eq!(failures, probes);
    assert!(rollups.iter().all(|r| r.hour % 3_600_000 == 0), "keyed by the start of the hour");

    let changes = store.state_changes("acme-eu-1", 10).await.expect("state changes");
    let path: Vec<(ServerState, ServerState)> = changes.iter().rev().map(|c| (c.from, c.to)).collect();
    assert_eq!(path, vec![(ServerState::Unknown, ServerState::Failing), (ServerState::Failing, ServerState::Down)]);
    assert_eq!(changes[0].consecutive_failures, 3);
    assert_eq!(changes[0].error.as_deref(), Some("http 500"));
    let failure_rows = store.failures("acme-eu-1", 100).await.expect("failures");
    assert_eq!(failure_rows.len(), usize::try_from(failures).expect("small"));
    assert!(failure_rows.iter().all(|f| f.error == "http 500"));
    store.close().await;
}

fn status(seq: i64, failures: i64) -> StoredStatus {
    StoredStatus {
        server_id: "acme-eu-1".into(),
        state: ServerState::Failing,
        consecutive_failures: failures,
        consecutive_successes: 0,
        confirmed_down: false,
        last_error: Some("timeout after 10s".into()),
        last_probe_at: Some(seq),
        state_since: 0,
        seq,
    }
}

async fn history_past_retention_is_pruned(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    let old_hour = 3_600_000;
    let new_hour = 100 * 3_600_000;
    let failure = |at| FailureRow { server_id: "acme-eu-1".into(), at, error: "http 500".into(), duration_ms: 3 };
    let change = |at| StateChangeRow {
        server_id: "acme-eu-1".into(),
        at,
        from: ServerState::Up,
        to: ServerState::Failing,
        consecutive_failures: 1,
        error: None,
    };
    let rollup = |hour| RollupDelta {
        server_id: "acme-eu-1".into(),
        hour,
        probes: 4,
        failures: 1,
        latency_sum_ms: 8,
        latency_max_ms: 3,
        ..RollupDelta::default()
    };
    let batch = Batch {
        statuses: vec![status(1, 1)],
        changes: vec![change(old_hour), change(new_hour)],
        failures: vec![failure(old_hour), failure(new_hour)],
        rollups: vec![rollup(old_hour), rollup(new_hour)],
        ..Batch::default()
    };
    store.save_batch(&batch).await.expect("save");
    store.save_batch(&Batch { rollups: vec![rollup(new_hour)], ..Batch::default() }).await.expect("save again");

    let removed = store.prune_history(50 * 3_600_000).await.expect("prune");
    assert_eq!(removed, 3);
    let rollups = store.rollups("acme-eu-1", 0).await.expect("rollups");
    assert_eq!(rollups.len(), 1);
    assert_eq!((rollups[0].probes, rollups[0].failures, rollups[0].latency_sum_ms), (8, 2, 16), "roll-ups add up");
    assert_eq!(store.failures("acme-eu-1", 10).await.expect("failures").len(), 1);
    assert_eq!(store.state_changes("acme-eu-1", 10).await.expect("changes").len(), 1);
    assert_eq!(store.load_statuses().await.expect("statuses").len(), 1, "the current status is never pruned");
    store.close().await;
}

async fn service_day_totals_sum_every_server_of_the_service_and_an_older_database_is_filled_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    let day = 86_400_000;
    let delta = |server: &str, service: &str, hour: i64, probes: i64, failures: i64| RollupDelta {
        server_id: server.into(),
        customer: "acme".into(),
        service: service.into(),
        hour,
        probes,
        failures,
        ..RollupDelta::default()
    };
    let rollups = vec![
        delta("web-1", "web", day + 3_600_000, 4, 1),
        delta("web-2", "web", day + 7_200_000, 4, 0),
        delta("api-1", "api", day + 3_600_000, 2, 2),
        delta("web-1", "web", 2 * day, 1, 0),
    ];
    store.save_batch(&Batch { rollups, ..Batch::default() }).await.expect("save");
    let totals = |rows: Vec<firstwatch::store::ServiceDay>| {
        let mut rows: Vec<(String, i64, i64, i64)> =
            rows.into_iter().map(|r| (r.service, r.day, r.probes, r.failures)).collect();
        rows.sort();
        rows
    };
    let stored = totals(store.service_days(0, i64::MAX).await.expect("service days"));
    assert_eq!(
        stored,
        [("api".into(), day, 2, 2), ("web".into(), day, 8, 1), ("web".into(), 2 * day, 1, 0)],
        "one row per service and day, the servers' probes summed"
    );
    assert_eq!(totals(store.service_days(2 * day, 3 * day).await.expect("one day")).len(), 1);
    // A service's day totals are kept no longer than the roll-ups they sum.
    store.prune_history(2 * day).await.expect("prune");
    assert_eq!(totals(store.service_days(0, i64::MAX).await.expect("after prune")), [("web".into(), 2 * day, 1, 0)]);
    let service_of =
        |id: &str| Some(("acme".to_string(), if id.starts_with("web") { "web" } else { "api" }.to_string()));
    assert_eq!(store.fill_service_days(service_of).await.expect("fill"), 0, "totals exist: nothing to fill");

    // An older database: per-server roll-ups only.
    let older = TestDb::new(backend).await;
    let store = Store::connect(&older.url).await.expect("connect");
    let rollups = vec![
        RollupDelta { server_id: "web-1".into(), hour: day, probes: 3, failures: 1, ..RollupDelta::default() },
        RollupDelta {
            server_id: "web-2".into(),
            hour: day + 3_600_000,
            probes: 3,
            failures: 0,
            ..RollupDelta::default()
        },
    ];
    store.save_batch(&Batch { rollups, ..Batch::default() }).await.expect("save");
    assert!(store.service_days(0, i64::MAX).await.expect("none yet").is_empty());
    assert_eq!(store.fill_service_days(service_of).await.expect("fill"), 1);
    assert_eq!(totals(store.service_days(0, i64::MAX).await.expect("filled")), [("web".into(), day, 6, 1)]);
    assert_eq!(store.fill_service_days(service_of).await.expect("fill again"), 0, "once");
    store.close().await;
}

async fn a_prune_of_many_rows_goes_in_chunks_and_keeps_what_is_recent(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    // Two and a half chunks of old failure rows, and a few recent ones.
    let old = usize::try_from(firstwatch::store::PRUNE_CHUNK * 5 / 2).expect("small");
    let failures: Vec<FailureRow> = (0..old + 3)
        .map(|i| FailureRow {
            server_id: format!("s{}", i % 50),
            at: if i < old { 1_000 } else { 10_000_000 },
            error: "HTTP 500".into(),
            duration_ms: 1,
        })
        .collect();
    store.save_batch(&Batch { failures, ..Batch::default() }).await.expect("save");
    let removed = store.prune_history(5_000_000).await.expect("prune");
    assert_eq!(removed, u64::try_from(old).expect("small"), "every old row, over several chunks");
    let left: usize = futures_util::future::join_all((0..50).map(|i| {
        let store = store.clone();
        async move { store.failures(&format!("s{i}"), 100).await.expect("failures").len() }
    }))
    .await
    .into_iter()
    .sum();
    assert_eq!(left, 3, "the recent rows stay");
    store.close().await;
}

async fn a_stale_write_never_moves_a_count_backwards(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    store.save_batch(&Batch { statuses: vec![status(7, 7)], ..Batch::default() }).await.expect("save");
    store.save_batch(&Batch { statuses: vec![status(5, 5)], ..Batch::default() }).await.expect("save stale");
    assert_eq!(store.load_statuses().await.expect("load"), vec![status(7, 7)]);
    store.save_batch(&Batch { statuses: vec![status(8, 8)], ..Batch::default() }).await.expect("save newer");
    assert_eq!(store.load_statuses().await.expect("load"), vec![status(8, 8)]);
    store.close().await;
}
