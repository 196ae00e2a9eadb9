//! Several `firstwatch run` processes on one PostgreSQL (PRODUCT.md section 12), hurt the way
//! production hurts them: `kill -9` of the instance probing a failing server, `SIGSTOP` past
//! the lease and `SIGCONT`, and every instance restarted in turn during an open Severity 1
//! case. Whatever happens, one case, one notice, one page, one escalation, and no count or
//! roll-up written twice or by a former owner.

use std::path::Path;
use std::time::Duration;

use firstwatch::domain::shard::shard_of;
use firstwatch::domain::ServerState;
use firstwatch::store::{CaseRow, OutboxRow, Store};
use tokio::process::Child;
use tokio::time::Instant;

use crate::helpers::app::{config_paging, run_binary, server_keys, wait_until, Srv};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

/// The helper configs' lease time.
const LEASE_TTL: Duration = Duration::from_secs(2);
const HEALTHY: usize = 12;
const VICTIM: &str = "victim-1";

/// A fleet of healthy servers (one target each) and the victim, whose target the test breaks.
struct Fleet {
    healthy: Vec<FakeTarget>,
    victim: FakeTarget,
    ids: Vec<String>,
}

impl Fleet {
    async fn start() -> Fleet {
        let mut healthy = Vec::new();
        for _ in 0..HEALTHY {
            healthy.push(FakeTarget::start(Behavior::Healthy).await);
        }
        let ids = (0..HEALTHY).map(|i| format!("s-{i:02}")).collect();
        Fleet { healthy, victim: FakeTarget::start(Behavior::Healthy).await, ids }
    }

    /// Write the config (probing and `[cases]` keys given) and return its path's folder.
    fn config(&self, db: &TestDb, probing: &str, cases: &str) -> (tempfile::TempDir, String) {
        let mut servers: Vec<Srv<'_>> =
            self.ids.iter().zip(&self.healthy).map(|(id, t)| Srv::new(id, t.url())).collect();
        servers.push(Srv { customer: "victim", service: "shop", ..Srv::new(VICTIM, self.victim.url()) });
        let text = config_paging(&db.url, probing, &servers, cases, "");
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join("firstwatch.toml"), server_keys(&text, "listen = \"127.0.0.1:0\""))
            .expect("write config");
        (dir, text)
    }

    /// Every target with its server id.
    fn all(&self) -> Vec<(&str, &FakeTarget)> {
        let mut all: Vec<(&str, &FakeTarget)> = self.ids.iter().map(String::as_str).zip(&self.healthy).collect();
        all.push((VICTIM, &self.victim));
        all
    }
}

/// The process id in an instance id (`host-pid-random`).
fn pid_of(instance: &str) -> Option<u32> {
    instance.rsplit('-').nth(1)?.parse().ok()
}

async fn signal(pid: u32, signal: &str) {
    let sent = tokio::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .await
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// (live instances, shards held by each), from the lease rows.
async fn split(store: &Store) -> Vec<usize> {
    store.lease_table().await.map(|t| t.instances.iter().map(|(_, n)| *n).collect()).unwrap_or_default()
}

/// Start `n` instances and wait until they share the shards evenly.
async fn start_cluster(dir: &Path, store: &Store, n: usize) -> Vec<Child> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(run_binary(&dir.join("firstwatch.toml")));
    }
    let even = vec![256 / n; n];
    wait_until(Duration::from_secs(20), "the instances share the shards", || async { split(store).await == even })
        .await;
    nodes
}

/// The process of `nodes` whose instance holds the victim's shard.
async fn victims_owner(store: &Store, nodes: &[Child]) -> usize {
    let owner = store.shard_owner(shard_of(VICTIM)).await.expect("owner").expect("the victim's shard is held");
    let pid = pid_of(&owner).expect("a pid in the instance id");
    nodes.iter().position(|n| n.id() == Some(pid)).unwrap_or_else(|| panic!("{owner} is none of ours"))
}

async fn victim_status(store: &Store) -> Option<firstwatch::store::StoredStatus> {
    store.load_statuses().await.expect("statuses").into_iter().find(|s| s.server_id == VICTIM)
}

async fn the_case(store: &Store) -> Option<CaseRow> {
    store.cases(&[], 10).await.expect("cases").into_iter().next()
}

fn count(outbox: &[OutboxRow], event: &str) -> usize {
    outbox.iter().filter(|r| r.event == event).count()
}

/// One row per event, recipient and key: nothing was queued twice under another key.
fn assert_no_duplicates(outbox: &[OutboxRow]) {
    let mut per: Vec<(&str, &str)> = outbox
        .iter()
        .filter(|r| r.event != "customer.update")
        .map(|r| (r.event.as_str(), r.recipient_id.as_str()))
        .collect();
    let n = per.len();
    per.sort_unstable();
    per.dedup();
    assert_eq!(per.len(), n, "one message per event and recipient: {outbox:#?}");
}

/// Each server's roll-ups count no more requests than its target received: nothing was
/// counted twice (by two owners, or by a former owner's late write).
async fn assert_rollups_counted_once(store: &Store, fleet: &Fleet) {
    let rollups = store.daily_rollups(0, i64::MAX).await.expect("roll-ups");
    for (id, target) in fleet.all() {
        let probes: i64 = rollups.iter().filter(|r| r.server_id == id).map(|r| r.probes).sum();
        let hits = i64::try_from(target.hits()).expect("small");
        assert!(probes <= hits, "{id}: {probes} requests in the roll-ups, {hits} received");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_owner_during_an_outage_hands_over_within_the_lease_and_pages_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let fleet = Fleet::start().await;
    let probing = "interval = \"500ms\"\nretry_interval = \"200ms\"\nfailure_threshold = 10\ntimeout = \"100ms\"";
    let (dir, _) = fleet.config(&db, probing, "");
    let store = Store::connect(&db.url).await.expect("connect");
    let mut nodes = start_cluster(dir.path(), &store, 2).await;
    let owner = victims_owner(&store, &nodes).await;

    fleet.victim.set(Behavior::Status(500));
    wait_until(Duration::from_secs(10), "a few failures counted", || async {
        victim_status(&store).await.is_some_and(|s| s.consecutive_failures >= 3)
    })
    .await;
    nodes[owner].start_kill().expect("kill -9");
    nodes[owner].wait().await.expect("reap");
    let killed = Instant::now();
    let counted = victim_status(&store).await.map_or(0, |s| s.consecutive_failures);
    let before: Vec<usize> = fleet.all().iter().map(|(_, t)| t.hits()).collect();
    wait_until(Duration::from_secs(15), "every server probed again", || async {
        fleet.all().iter().zip(&before).all(|((_, t), b)| t.hits() > *b)
    })
    .await;
    let gap = killed.elapsed();
    eprintln!("take-over gap after kill -9: {gap:?} (lease {LEASE_TTL:?})");
    assert!(gap < LEASE_TTL + Duration::from_secs(5), "probed again {gap:?} after the kill");

    wait_until(Duration::from_secs(15), "the case", || async { the_case(&store).await.is_some() }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let case = the_case(&store).await.expect("a case");
    let hits = i64::try_from(fleet.victim.hits()).expect("small");
    assert!(case.consecutive_failures >= 10 && case.consecutive_failures <= hits, "{case:?} of {hits}");
    let status = victim_status(&store).await.expect("stored");
    assert!(status.consecutive_failures >= counted, "the count went on from {counted}: {status:?}");
    let outbox = store.outbox(Some(case.id)).await.expect("outbox");
    assert_no_duplicates(&outbox);
    assert_eq!((count(&outbox, "customer.notice"), count(&outbox, "page")), (1, 1), "{outbox:#?}");
    assert_eq!(store.cases(&[], 10).await.expect("cases").len(), 1);
    assert_rollups_counted_once(&store, &fleet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_paused_past_its_lease_writes_nothing_stale_sends_nothing_and_rejoins() {
    let db = TestDb::new(Backend::Postgres).await;
    let fleet = Fleet::start().await;
    let probing = "interval = \"500ms\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
    let (dir, _) = fleet.config(&db, probing, "");
    let store = Store::connect(&db.url).await.expect("connect");
    let nodes = start_cluster(dir.path(), &store, 2).await;
    let paused = nodes[victims_owner(&store, &nodes).await].id().expect("running");

    // The victim's owner stops dead; its server breaks while it sleeps.
    signal(paused, "STOP").await;
    fleet.victim.set(Behavior::Status(500));
    wait_until(Duration::from_secs(20), "the survivor holds every shard", || async { split(&store).await == [256] })
        .await;
    wait_until(Duration::from_secs(15), "the case, opened by the survivor", || async {
        the_case(&store).await.is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = store.outbox(None).await.expect("outbox").len();

    // It wakes up believing the victim healthy, with a count of 0 and results queued.
    signal(paused, "CONT").await;
    let mut previous = victim_status(&store).await.expect("stored");
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(3) {
        let now = victim_status(&store).await.expect("stored");
        assert_eq!(now.state, ServerState::Down, "a stale write moved the victim out of down: {now:?}");
        assert!(now.consecutive_failures >= previous.consecutive_failures, "{previous:?} then {now:?}");
        previous = now;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_until(Duration::from_secs(20), "the paused instance rejoins and gets shards again", || async {
        split(&store).await == [128, 128]
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outbox = store.outbox(None).await.expect("outbox");
    assert_no_duplicates(&outbox);
    let case = the_case(&store).await.expect("the case");
    let of_case: Vec<OutboxRow> = outbox.iter().filter(|r| r.case_id == Some(case.id)).cloned().collect();
    assert_eq!((count(&of_case, "customer.notice"), count(&of_case, "page")), (1, 1), "{of_case:#?}");
    assert_eq!(outbox.len(), sent, "nothing more was queued after the pause: {outbox:#?}");
    assert_eq!(store.cases(&[], 10).await.expect("cases").len(), 1);
    assert_rollups_counted_once(&store, &fleet).await;
    // The victim's recorded state changes form one chain: no "up → failing" from the former
    // owner's stale view after the survivor's "failing → down".
    let mut changes = store.state_changes(VICTIM, 100).await.expect("state changes");
    changes.reverse();
    for pair in changes.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "a stale state change was written: {changes:#?}");
    }
    drop(nodes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_every_instance_in_turn_during_a_severity_1_case_escalates_once_and_updates_on_plan() {
    const ACK_TIMEOUT: i64 = 8_000;
    const UPDATE_EVERY: i64 = 3_000;
    let db = TestDb::new(Backend::Postgres).await;
    let fleet = Fleet::start().await;
    let probing = "interval = \"500ms\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
    let cases = "ack_timeout = \"8s\"\nupdate_interval = \"3s\"\nauto_resolve = false";
    let (dir, _) = fleet.config(&db, probing, cases);
    let store = Store::connect(&db.url).await.expect("connect");
    let mut nodes = start_cluster(dir.path(), &store, 2).await;
    fleet.victim.set(Behavior::Status(500));
    wait_until(Duration::from_secs(15), "a Severity 1 case", || async { the_case(&store).await.is_some() }).await;
    let case = the_case(&store).await.expect("a case");
    let since = case.severity1_since.expect("Severity 1 from the start");

    for node in &mut nodes {
        let pid = node.id().expect("running");
        signal(pid, "TERM").await;
        let exit = tokio::time::timeout(Duration::from_secs(15), node.wait()).await.expect("stops").expect("reap");
        assert!(exit.success(), "a clean stop: {exit:?}");
        *node = run_binary(&dir.path().join("firstwatch.toml"));
        wait_until(Duration::from_secs(20), "two instances again", || async { split(&store).await == [128, 128] })
            .await;
    }
    let wall = || firstwatch::clock::Clock::now_ms(&firstwatch::clock::SystemClock);
    while wall() < since + ACK_TIMEOUT + 2 * UPDATE_EVERY {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outbox = store.outbox(Some(case.id)).await.expect("outbox");
    assert_no_duplicates(&outbox);
    assert_eq!(count(&outbox, "page"), 1, "the Operations Manager paged once: {outbox:#?}");
    assert!(count(&outbox, "escalation") >= 1, "the VP paged after the ack timeout: {outbox:#?}");
    let escalated = outbox.iter().find(|r| r.event == "escalation").expect("escalation");
    assert!(escalated.created_at >= since + ACK_TIMEOUT, "not before the ack timeout: {escalated:?}");
    // Updates at since + k × 3 s, each once; the last may still be on its way.
    let due = (wall() - since) / UPDATE_EVERY;
    let updates: Vec<&OutboxRow> = outbox.iter().filter(|r| r.event == "customer.update").collect();
    let mut keys: Vec<&str> = updates.iter().map(|r| r.idempotency_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), updates.len(), "no update queued twice: {updates:#?}");
    let mut recipients: Vec<&str> = updates.iter().map(|r| r.recipient_id.as_str()).collect();
    recipients.sort_unstable();
    recipients.dedup();
    let rounds = i64::try_from(updates.len() / recipients.len().max(1)).expect("small");
    assert!(rounds >= due - 1 && rounds <= due, "{rounds} rounds of updates, {due} due: {updates:#?}");
    drop(nodes);
}
