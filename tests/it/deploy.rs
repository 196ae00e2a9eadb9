//! The deploy kit's promises (PRODUCT.md section 15) that need the real binary: `backup` of a
//! live SQLite database under write load gives a file that opens and holds the cases,
//! `healthcheck` follows `/readyz` (exit 1 while PostgreSQL is down), and every command, path
//! and endpoint the alert runbooks name exists. The files under `deploy/` themselves (unit,
//! compose stacks, image) are checked by `scripts/test-deploy`.

use std::process::Output;
use std::time::Duration;

use firstwatch::domain::CaseStatus;
use sqlx::{Connection, Row};

use crate::helpers::app::{config_toml, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::pg_cluster::PgCluster;
use crate::helpers::targets::{refused_addr, Behavior, FakeTarget};

fn firstwatch(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_firstwatch"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run firstwatch")
}

async fn firstwatch_async(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        firstwatch(&args)
    })
    .await
    .expect("firstwatch task")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

const FAST: &str = "interval = \"100ms\"\nretry_interval = \"100ms\"\nfailure_threshold = 1\nrecovery_threshold = 1\ntimeout = \"100ms\"";

#[tokio::test]
async fn a_backup_of_a_live_sqlite_database_under_write_load_opens_and_holds_its_cases() {
    let db = TestDb::new(Backend::Sqlite).await;
    let healthy = FakeTarget::start(Behavior::Healthy).await;
    let down = refused_addr();
    // 40 servers probed ten times a second keep the writer busy; three failing services open
    // three cases.
    let ids: Vec<String> = (0..40).map(|i| format!("h{i}")).collect();
    let mut servers: Vec<Srv<'_>> = ids.iter().map(|id| Srv::new(id, healthy.url())).collect();
    let broken = ["db", "mail", "queue"];
    for service in broken {
        servers.push(Srv { service, ..Srv::new(service, format!("tcp://{down}")) });
    }
    let config = config_toml(&db.url, FAST, &servers);
    let dir = tempfile::tempdir().expect("temporary folder");
    let config_path = dir.path().join("firstwatch.toml");
    std::fs::write(&config_path, &config).expect("write config");
    let app = TestApp::spawn(&config).await;
    wait_until(Duration::from_secs(20), "three cases open and every status stored", || async {
        let cases = app.store.cases(&CaseStatus::active(), 10).await.map(|c| c.len()).unwrap_or(0);
        let statuses = app.store.statuses_written_since(i64::MIN).await.map(|s| s.0.len()).unwrap_or(0);
        cases == 3 && statuses == 43
    })
    .await;

    let copy = dir.path().join("backup.db");
    let (config_arg, copy_arg) = (config_path.to_str().expect("utf-8"), copy.to_str().expect("utf-8"));
    let backup = ["backup", "--config", config_arg, "--to", copy_arg];
    let out = firstwatch_async(&backup).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("3 cases up to FW-"), "{}", text(&out));

    // The copy is a database of its own: it opens, passes the integrity check and holds the
    // cases and statuses of the moment it was taken.
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", copy.display())).await.expect("open copy");
    let verdict: String = sqlx::query("PRAGMA integrity_check").fetch_one(&mut conn).await.expect("check").get(0);
    assert_eq!(verdict, "ok");
    let services: Vec<String> = sqlx::query("SELECT service FROM cases ORDER BY service")
        .fetch_all(&mut conn)
        .await
        .expect("cases")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(services, broken);
    let statuses: i64 =
        sqlx::query("SELECT COUNT(*) FROM server_status").fetch_one(&mut conn).await.expect("count").get(0);
    assert_eq!(statuses, 43, "every server's status, as stored when the copy was taken");
    conn.close().await.expect("close copy");

    // A second backup to the same file is refused and leaves it alone.
    let size = std::fs::metadata(&copy).expect("copy").len();
    let again = firstwatch_async(&backup).await;
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("never overwrites"), "{}", text(&again));
    assert_eq!(std::fs::metadata(&copy).expect("copy").len(), size);
    app.stop().await;
}

#[test]
fn a_backup_of_postgresql_says_to_use_pg_dump_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let config_path = dir.path().join("firstwatch.toml");
    std::fs::write(&config_path, config_toml("postgres://fw@127.0.0.1:9/fw", FAST, &[])).expect("write config");
    let copy = dir.path().join("backup.db");
    let out = firstwatch(&[
        "backup",
        "--config",
        config_path.to_str().expect("utf-8"),
        "--to",
        copy.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("pg_dump"), "{}", text(&out));
    assert!(!copy.exists());
}

#[tokio::test]
async fn healthcheck_exits_0_while_ready_and_1_while_the_database_is_unreachable() {
    let pg = PgCluster::start();
    let healthy = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&config_toml(&pg.url(), FAST, &[Srv::new("web-1", healthy.url())])).await;
    let url = format!("http://{}/readyz", app.addr);

    let ready = firstwatch_async(&["healthcheck", "--url", &url]).await;
    assert_eq!(ready.status.code(), Some(0), "{}", text(&ready));
    assert!(text(&ready).contains("ready"), "{}", text(&ready));

    pg.stop();
    let down = firstwatch_async(&["healthcheck", "--url", &url]).await;
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
    assert!(text(&down).contains("503") && text(&down).contains("database"), "{}", text(&down));

    pg.start_again();
    wait_until(Duration::from_secs(20), "ready again", || async {
        firstwatch_async(&["healthcheck", "--url", &url]).await.status.code() == Some(0)
    })
    .await;
    app.stop().await;

    let nobody = firstwatch_async(&["healthcheck", "--url", &format!("http://{}/readyz", refused_addr())]).await;
    assert_eq!(nobody.status.code(), Some(1), "{}", text(&nobody));
    let bad = firstwatch_async(&["healthcheck", "--url", "ftp://127.0.0.1/readyz"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

/// Every `backticked` span of the alert rules' texts, whitespace folded (YAML folds them too).
fn backticked(rules: &str) -> Vec<String> {
    let folded = rules.split_whitespace().collect::<Vec<_>>().join(" ");
    folded.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

#[test]
fn every_command_path_and_endpoint_the_runbooks_name_exists() {
    let root = env!("CARGO_MANIFEST_DIR");
    let rules = std::fs::read_to_string(format!("{root}/deploy/prometheus/firstwatch-rules.yml")).expect("rules");
    let spans = backticked(&rules);
    assert!(spans.len() >= 6, "the runbooks name commands: {spans:?}");
    let routes: Vec<(String, String)> =
        firstwatch::web::access::table().iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    let unit = std::path::Path::new(root).join("deploy/systemd/firstwatch.service");
    for span in &spans {
        let words: Vec<&str> = span.split(' ').collect();
        match words.as_slice() {
            ["firstwatch", rest @ ..] => {
                // The verb is every word before the first flag; each flag must be the verb's.
                let verb: Vec<&str> = rest.iter().copied().take_while(|w| !w.starts_with('-')).collect();
                assert!(!verb.is_empty(), "{span:?} names no verb");
                let mut args = verb.clone();
                args.push("--help");
                let help = firstwatch(&args);
                assert_eq!(
                    help.status.code(),
                    Some(0),
                    "{span:?}: `firstwatch {}` is not a verb: {}",
                    verb.join(" "),
                    text(&help)
                );
                for flag in rest.iter().filter(|w| w.starts_with("--")) {
                    assert!(
                        text(&help).contains(flag),
                        "{span:?}: {flag} is not a flag of `firstwatch {}`",
                        verb.join(" ")
                    );
                }
            }
            [method @ ("GET" | "POST" | "PUT" | "DELETE"), path] => {
                assert!(
                    routes.iter().any(|(m, p)| m == method && p == path),
                    "{span:?}: no such route in firstwatch::web::access::table"
                );
            }
            ["systemctl", _, "firstwatch"] | ["journalctl", "-u", "firstwatch"] => {
                assert!(unit.is_file(), "{span:?}: deploy/systemd/firstwatch.service is missing");
            }
            _ => panic!("the runbooks name {span:?}, which this test does not know how to check: add a rule"),
        }
    }
}
