//! Several instances on one PostgreSQL (PRODUCT.md section 12): shards split between live
//! instances, each server probed by one of them, a dead instance's shards taken over, and
//! one instance per SQLite file.

use std::time::Duration;

use firstwatch::app::App;
use firstwatch::config::Config;
use firstwatch::domain::shard::shard_of;
use firstwatch::domain::ServerState;
use firstwatch::store::{Batch, Lease, Store, StoreError, StoredStatus};

use crate::helpers::app::{config_toml, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const PROBING: &str = "interval = \"300ms\"\nretry_interval = \"300ms\"\ntimeout = \"200ms\"";
const SERVERS: usize = 16;

async fn fleet() -> (Vec<FakeTarget>, Vec<String>) {
    let mut targets = Vec::new();
    for _ in 0..SERVERS {
        targets.push(FakeTarget::start(Behavior::Healthy).await);
    }
    let ids = (0..SERVERS).map(|i| format!("s-{i:02}")).collect();
    (targets, ids)
}

fn config(db: &TestDb, targets: &[FakeTarget], ids: &[String]) -> String {
    let servers: Vec<Srv<'_>> = ids.iter().zip(targets).map(|(id, t)| Srv::new(id, t.url())).collect();
    config_toml(&db.url, PROBING, &servers)
}

async fn shards_of(app: &TestApp) -> Vec<usize> {
    let table = app.store.lease_table().await.expect("lease table");
    table.instances.iter().map(|(_, n)| *n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_split_the_shards_and_probe_each_server_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let (targets, ids) = fleet().await;
    let text = config(&db, &targets, &ids);
    let first = TestApp::spawn(&text).await;
    assert_eq!(shards_of(&first).await, [256], "a lone instance holds every shard");
    let joined = tokio::time::Instant::now();
    let second = TestApp::spawn(&text).await;
    wait_until(Duration::from_secs(15), "the shards split 128/128", || async { shards_of(&first).await == [128, 128] })
        .await;
    // Two renewal rounds (lease 2 s: every 667 ms) plus the hand-over grace; generous for CI.
    let took = joined.elapsed();
    eprintln!("the joining instance had its share {took:?} after it started");
    assert!(took < Duration::from_secs(4), "the joining instance waited {took:?} for its share");
    // Each server at a 300 ms interval gets ~20 requests in 6 s, from one instance; two
    // instances probing it would double that. (One interval first, for the hand-over's
    // re-planned requests to pass.)
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before: Vec<usize> = targets.iter().map(FakeTarget::hits).collect();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let total: usize = targets.iter().zip(before).map(|(t, b)| t.hits() - b).sum();
    let expected = SERVERS * 20;
    assert!(
        total * 10 >= expected * 9 && total * 10 <= expected * 11,
        "{total} requests in 6 s for {SERVERS} servers at 300 ms (≈{expected} expected, within 10 %)"
    );
    let table = first.store.lease_table().await.expect("lease table");
    let leader = table.leader.clone().unwrap_or_else(|| panic!("one instance leads: {table:?}"));
    for app in [&first, &second] {
        let (status, body) = app.get("/readyz").await;
        let ready: serde_json::Value = serde_json::from_str(&body).expect("/readyz is JSON");
        assert_eq!((status, &ready["cluster"]["shards_owned"]), (200, &serde_json::json!(128)), "{body}");
        assert_eq!(ready["cluster"]["leader_instance"], serde_json::json!(leader), "{body}");
        let me = ready["cluster"]["instance"].as_str().unwrap_or_default();
        assert_eq!(ready["cluster"]["leader"], serde_json::json!(me == leader), "{body}");
    }
    second.stop().await;
    wait_until(Duration::from_secs(10), "the remaining instance takes every shard back", || async {
        shards_of(&first).await == [256]
    })
    .await;
    first.stop().await;
    let store = Store::connect(&db.url).await.expect("connect");
    // Every request is in the roll-ups once: none counted by both instances, none lost at the
    // hand-over (at most the one in flight per server when an instance stopped).
    let rollups = store.daily_rollups(0, i64::MAX).await.expect("roll-ups");
    for (id, target) in ids.iter().zip(&targets) {
        let stored: i64 = rollups.iter().filter(|r| &r.server_id == id).map(|r| r.probes).sum();
        let hits = i64::try_from(target.hits()).expect("small");
        assert!(stored <= hits && stored >= hits - 2, "{id}: {stored} in the roll-ups, {hits} requests received");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_instances_shards_are_taken_over_within_the_lease() {
    let db = TestDb::new(Backend::Postgres).await;
    let (targets, ids) = fleet().await;
    let text = config(&db, &targets, &ids);
    let first = TestApp::spawn(&text).await;
    let second = TestApp::spawn(&text).await;
    wait_until(Duration::from_secs(15), "the shards split", || async { shards_of(&first).await == [128, 128] }).await;
    second.crash().await;
    // lease_ttl = 2s in the helper config: the crashed instance's leases expire, then the
    // next renewal round (every ttl / 3) claims them.
    wait_until(Duration::from_secs(8), "every shard held by the survivor", || async {
        let table = first.store.lease_table().await.expect("lease table");
        table.instances.iter().any(|(_, n)| *n == 256)
    })
    .await;
    let before: Vec<usize> = targets.iter().map(FakeTarget::hits).collect();
    wait_until(Duration::from_secs(5), "every server probed again", || async {
        targets.iter().zip(&before).all(|(t, b)| t.hits() > *b)
    })
    .await;
    let metrics = first.get("/metrics").await.1;
    assert!(metrics.contains("\nfirstwatch_shards_owned 256\n"), "{metrics}");
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_one_sqlite_file_refuses_to_start_and_names_the_holder() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (targets, ids) = fleet().await;
    let text = config(&db, &targets[..1], &ids[..1]);
    let first = TestApp::spawn(&text).await;
    let config = Config::from_toml(&text, |_| None).expect("config");
    let refused = App::build(config).await.map(|_| ()).map_err(|e| format!("{e:#}"));
    let pid = format!("pid {}", std::process::id());
    assert!(
        refused.as_ref().err().is_some_and(|e| e.contains("in use by another firstwatch") && e.contains(&pid)),
        "{refused:?}"
    );
    first.stop().await;
}

/// The storm fleet of `cases.rs`: 200 servers behind one target, 4 per customer, 2 per service.
fn storm_servers(url: &str) -> (Vec<String>, Vec<(String, String)>, String) {
    let ids: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
    let owners = (0..200).map(|i| (format!("c{}", i / 4), format!("svc{}", (i % 4) / 2))).collect();
    (ids, owners, url.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_on_three_instances_opens_no_case_and_pages_about_the_monitor_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let canary = FakeTarget::start(Behavior::Status(500)).await;
    let (ids, owners, url) = storm_servers(&target.url());
    let servers: Vec<Srv<'_>> = ids
        .iter()
        .zip(&owners)
        .map(|(id, (customer, service))| Srv { customer, service, id, role: "primary", target: url.clone(), extra: "" })
        .collect();
    let probing =
        "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\nrecovery_threshold = 2\ntimeout = \"100ms\"";
    let guard = format!("\n[guard]\ncanaries = [\"{}\"]\nmax_failing_fraction = 0.5\n", canary.url());
    let text = crate::helpers::app::config_paging(&db.url, probing, &servers, "", &guard);
    let apps = [TestApp::spawn(&text).await, TestApp::spawn(&text).await, TestApp::spawn(&text).await];
    let store = &apps[0].store;
    wait_until(Duration::from_secs(15), "three instances share the shards", || async {
        let table = store.lease_table().await.expect("lease table");
        table.instances.len() == 3 && table.instances.iter().map(|(_, n)| n).sum::<usize>() == 256
    })
    .await;
    let events = |event: &'static str| async move {
        let outbox = store.outbox(None).await.expect("outbox");
        outbox.iter().filter(|r| r.event == event).count()
    };
    wait_until(Duration::from_secs(20), "the guard to trip", || async { events("monitor.degraded").await > 0 }).await;
    wait_until(Duration::from_secs(20), "every instance to see all 200 servers down", || async {
        apps.iter().all(|app| app.fleet.iter().all(|(_, e)| e.status().state == ServerState::Down))
    })
    .await;
    for app in &apps {
        app.engine.run_due().await.expect("a sweep during the storm");
    }
    let cases = store.cases(&[], 100).await.expect("cases");
    assert!(cases.is_empty(), "no customer case during the storm: {cases:#?}");
    assert_eq!(events("monitor.degraded").await, 2, "once, to the Operations Manager and the feed");

    canary.set(Behavior::Healthy);
    target.set(Behavior::Healthy);
    wait_until(Duration::from_secs(20), "the guard to heal", || async { events("monitor.recovered").await > 0 }).await;
    wait_until(Duration::from_secs(20), "every server up again", || async {
        apps.iter().all(|app| app.fleet.iter().all(|(_, e)| e.status().state == ServerState::Up))
    })
    .await;
    // A few more sweeps on every instance: nobody trips it again or opens a case.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(events("monitor.degraded").await, 2, "no second trip");
    assert_eq!(events("monitor.recovered").await, 2, "recovered once, to the Operations Manager and the feed");
    assert!(store.cases(&[], 100).await.expect("cases").is_empty(), "no case after the storm either");
    for app in apps {
        app.stop().await;
    }
}

fn stored(id: &str, seq: i64) -> StoredStatus {
    StoredStatus {
        server_id: id.into(),
        state: ServerState::Failing,
        consecutive_failures: seq,
        consecutive_successes: 0,
        confirmed_down: false,
        last_error: Some("HTTP 500".into()),
        last_probe_at: Some(seq),
        state_since: 0,
        seq,
    }
}

on_both_backends!(a_former_owner_writes_nothing_for_a_shard_taken_over_and_decides_nothing);

async fn a_former_owner_writes_nothing_for_a_shard_taken_over_and_decides_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let plain = Store::connect(&db.url).await.expect("connect");
    plain.ensure_leases().await.expect("lease rows");
    let (a, b) = (plain.clone().fenced("a"), plain.clone().fenced("b"));
    assert_eq!(a.claim_shards("a", 256, 60_000).await.expect("claim").len(), 256);
    assert!(a.lead("a", 60_000).await.expect("lead").is_some());
    let (lost, kept) = ("s-lost", "s-kept");
    assert_ne!(shard_of(lost), shard_of(kept));
    // `a` pauses; its lease on one shard goes to `b` (released here, as an expiry would).
    a.release_shards("a", &[shard_of(lost)]).await.expect("release");
    let taken = b.claim_shards("b", 1, 60_000).await.expect("claim");
    assert_eq!(taken.iter().map(|h| h.shard).collect::<Vec<_>>(), [shard_of(lost)]);
    assert!(taken[0].epoch >= 2, "a take-over is a new epoch: {taken:?}");

    // `a` wakes up and writes what it had queued: only the shard it still holds lands.
    let batch = Batch { statuses: vec![stored(lost, 7), stored(kept, 7)], ..Batch::default() };
    a.save_batch(&batch).await.expect("a fenced write is not an error");
    let ids: Vec<String> = plain.load_statuses().await.expect("load").into_iter().map(|s| s.server_id).collect();
    assert_eq!(ids, [kept], "the stale owner's row for the lost shard was refused");

    // The shard comes back to `a` (epoch + 1): rows queued under its former epoch stay out,
    // rows of the new epoch land.
    b.release_shards("b", &[shard_of(lost)]).await.expect("release");
    let again = a.claim_shards("a", 1, 60_000).await.expect("claim again");
    assert_eq!(again.iter().map(|h| (h.shard, h.epoch)).collect::<Vec<_>>(), [(shard_of(lost), taken[0].epoch + 1)]);
    let epochs = |epoch: i64| [(shard_of(lost), epoch)].into_iter().collect();
    let stale = Batch { statuses: vec![stored(lost, 8)], epochs: epochs(taken[0].epoch - 1), ..Batch::default() };
    a.save_batch(&stale).await.expect("save");
    assert_eq!(plain.load_statuses().await.expect("load").len(), 1, "rows of a former epoch are refused");
    let fresh = Batch { statuses: vec![stored(lost, 9)], epochs: epochs(again[0].epoch), ..Batch::default() };
    a.save_batch(&fresh).await.expect("save");
    assert_eq!(plain.load_statuses().await.expect("load").len(), 2, "rows of the epoch held land");
    a.release_shards("a", &[shard_of(lost)]).await.expect("release");
    b.claim_shards("b", 1, 60_000).await.expect("b takes it once more");

    // Its decisions for the lost shard are refused inside the transaction; the leader's
    // work is refused for an instance that does not lead.
    let mut tx = a.begin().await.expect("begin");
    assert!(matches!(tx.hold(Lease::Shard(shard_of(lost))).await, Err(StoreError::Fenced)));
    drop(tx);
    let mut tx = a.begin().await.expect("begin");
    tx.hold(Lease::Shard(shard_of(kept))).await.expect("still held");
    tx.hold(Lease::Leader).await.expect("a leads");
    drop(tx);
    let mut tx = b.begin().await.expect("begin");
    tx.hold(Lease::Shard(shard_of(lost))).await.expect("the new owner decides");
    assert!(matches!(tx.hold(Lease::Leader).await, Err(StoreError::Fenced)), "b does not lead");
    drop(tx);
    // An expired lease fences too, even before anyone else took it.
    a.renew_shards("a", -1).await.expect("renew into the past");
    let mut tx = a.begin().await.expect("begin");
    assert!(matches!(tx.hold(Lease::Shard(shard_of(kept))).await, Err(StoreError::Fenced)));
}

on_both_backends!(another_instance_reads_only_the_statuses_written_since_its_last_look);

async fn another_instance_reads_only_the_statuses_written_since_its_last_look(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .save_batch(&Batch { statuses: vec![stored("a", 1), stored("b", 1)], ..Batch::default() })
        .await
        .expect("save");
    let (all, first_look) = store.statuses_written_since(i64::MIN).await.expect("read");
    assert_eq!(all.len(), 2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (none, _) = store.statuses_written_since(first_look + 10).await.expect("read");
    assert!(none.is_empty(), "nothing written since: {none:?}");
    store
        .save_batch(&Batch { statuses: vec![stored("b", 2), stored("c", 1)], ..Batch::default() })
        .await
        .expect("save");
    let (changed, _) = store.statuses_written_since(first_look + 10).await.expect("read");
    let mut ids: Vec<(String, i64)> = changed.into_iter().map(|s| (s.server_id, s.seq)).collect();
    ids.sort();
    assert_eq!(ids, [("b".to_string(), 2), ("c".to_string(), 1)], "an update and an insert, not the untouched row");
    store.close().await;
}
