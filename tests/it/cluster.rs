//! Several instances on one PostgreSQL (PRODUCT.md section 12): shards split between live
//! instances, each server probed by one of them, a dead instance's shards taken over, and
//! one instance per SQLite file.

use std::time::Duration;

use firstwatch::app::App;
use firstwatch::config::Config;

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
    let second = TestApp::spawn(&text).await;
    wait_until(Duration::from_secs(15), "the shards split 128/128", || async { shards_of(&first).await == [128, 128] })
        .await;
    // Each server at a 300 ms interval gets ~10 requests in 3 s, from one instance; two
    // instances probing it would double that.
    let before: Vec<usize> = targets.iter().map(FakeTarget::hits).collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let total: usize = targets.iter().zip(before).map(|(t, b)| t.hits() - b).sum();
    let expected = SERVERS * 10;
    assert!(
        total * 10 >= expected * 7 && total * 10 <= expected * 13,
        "{total} requests in 3 s for {SERVERS} servers at 300 ms (≈{expected} expected)"
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
