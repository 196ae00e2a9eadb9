//! The operator verbs `firstwatch cases …` and `firstwatch maintenance …`, run as the real
//! binary against a real SQLite file: cases are opened by the real app first, then an operator
//! works them from the command line with no instance running.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, SystemTime};

use firstwatch::clock::{rfc3339_ms, unix_ms};
use firstwatch::domain::ServerState;

use crate::helpers::app::{config_paging, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str =
    "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\nrecovery_threshold = 2\ntimeout = \"100ms\"";

/// What one run of the binary printed and how it exited.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// The binary pointed at one config file (written from the same text the app ran with).
struct Operator {
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Operator {
    fn new(config_text: &str) -> Operator {
        let dir = tempfile::tempdir().expect("temporary folder");
        let config = dir.path().join("firstwatch.toml");
        std::fs::write(&config, config_text).expect("write config");
        Operator { config, _dir: dir }
    }

    /// Run `firstwatch ARGS --config FILE` as user `bob` (the default actor).
    async fn run(&self, args: &[&str]) -> Run {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_firstwatch"));
        command.args(args).arg("--config").arg(&self.config).env_remove("RUST_LOG").env("USER", "bob");
        let output: Output =
            tokio::task::spawn_blocking(move || command.output().expect("run firstwatch")).await.expect("join");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Run the real app until it has opened a case for the failing server, then stop it.
async fn open_a_case(config_text: &str) {
    let app = TestApp::spawn(config_text).await;
    wait_until(Duration::from_secs(10), "a case", || async {
        !app.store.cases(&[], 10).await.expect("list cases").is_empty()
    })
    .await;
    app.stop().await;
}

/// The timeline line of `cases show` with this kind and actor.
fn timeline_line<'a>(show: &'a str, kind: &str, actor: &str) -> Option<&'a str> {
    show.lines().find(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.len() > 3 && words[1] == kind && words[2] == actor
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_a_case_from_open_to_closed_on_the_command_line() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let config = config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", "");
    open_a_case(&config).await;
    let op = Operator::new(&config);

    let list = op.run(&["cases", "list"]).await;
    assert_eq!(list.code, Some(0), "{list:?}");
    let header = list.stdout.lines().next().unwrap_or_default();
    for column in ["CASE", "SEV", "STATUS", "CUSTOMER/SERVICE", "SERVER", "OPENED AT", "AGE", "ACKNOWLEDGED BY"] {
        assert!(header.contains(column), "{list:?}");
    }
    let row: Vec<&str> = list.stdout.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(row[..5], ["FW-000001", "1", "open", "acme/storefront", "acme-eu-1"], "{list:?}");
    assert!(row[5].ends_with('Z') && row[5].len() == 24, "opened at, RFC 3339: {list:?}");
    assert_eq!(row.last(), Some(&"-"), "nobody acknowledged yet: {list:?}");

    let ack = op.run(&["cases", "ack", "1", "--as", "alice"]).await;
    assert_eq!(ack.code, Some(0), "{ack:?}");
    assert_eq!(ack.stdout, "FW-000001 acknowledged by alice; status: acknowledged\n");
    let list = op.run(&["cases", "list"]).await;
    assert!(list.stdout.lines().nth(1).is_some_and(|row| row.ends_with("alice")), "{list:?}");

    let show = op.run(&["cases", "show", "FW-000001"]).await;
    assert_eq!(show.code, Some(0), "{show:?}");
    assert!(show.stdout.starts_with("FW-000001  Severity 1  acknowledged\n"), "{show:?}");
    assert!(show.stdout.contains("acknowledged by       alice"), "{show:?}");
    assert!(show.stdout.contains("last error            http 500"), "{show:?}");
    assert!(timeline_line(&show.stdout, "opened", "firstwatch").is_some(), "{show:?}");
    let acked = timeline_line(&show.stdout, "acknowledged", "alice").unwrap_or_else(|| panic!("{show:?}"));
    assert!(acked.contains("alice acknowledged the case"), "{show:?}");
    let notice = show
        .stdout
        .lines()
        .find(|l| l.contains("customer.notice") && l.contains("customer_contact:ops-acme@example.test"))
        .unwrap_or_else(|| panic!("the customer's notice is listed: {show:?}"));
    assert!(["pending", "delivered", "dead"].iter().any(|state| notice.contains(state)), "{notice}");
    assert!(notice.contains("attempt"), "{notice}");
    assert!(show.stdout.lines().any(|l| l.contains(" page ") && l.contains("person:alice")), "{show:?}");

    let note = op.run(&["cases", "note", "fw-1", "Restarting the load balancer"]).await;
    assert_eq!(note.code, Some(0), "{note:?}");
    assert_eq!(note.stdout, "FW-000001 note added by bob; status: in_progress\n", "USER is the default actor");

    let refused = op.run(&["cases", "close", "1", "--as", "alice"]).await;
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(refused.stderr.contains("cannot close a case that is in_progress"), "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");

    let resolved = op.run(&["cases", "resolve", "FW-000001", "--as", "alice"]).await;
    assert_eq!((resolved.code, resolved.stdout.as_str()), (Some(0), "FW-000001 resolved by alice; status: resolved\n"));
    let closed = op.run(&["cases", "close", "1", "--as", "alice"]).await;
    assert_eq!((closed.code, closed.stdout.as_str()), (Some(0), "FW-000001 closed by alice; status: closed\n"));

    let show = op.run(&["cases", "show", "1"]).await;
    let kinds: Vec<&str> = show
        .stdout
        .lines()
        .skip_while(|l| *l != "Timeline")
        .skip(2)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(kinds, ["opened", "acknowledged", "note", "resolved", "closed"], "{show:?}");
    let noted = timeline_line(&show.stdout, "note", "bob").unwrap_or_else(|| panic!("{show:?}"));
    assert!(noted.ends_with("Restarting the load balancer"), "{show:?}");
    assert!(show.stdout.contains("case.resolved"), "resolving told the customer and the feed: {show:?}");

    assert_eq!(op.run(&["cases", "list"]).await.stdout, "no active cases\n");
    assert_eq!(op.run(&["cases", "list", "--status", "open"]).await.stdout, "no open cases\n");
    for status in ["closed", "all"] {
        let list = op.run(&["cases", "list", "--status", status]).await;
        assert!(list.stdout.lines().nth(1).is_some_and(|row| row.starts_with("FW-000001")), "{status}: {list:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_case_exits_1_and_a_malformed_argument_or_config_exits_2() {
    let db = TestDb::new(Backend::Sqlite).await;
    let op =
        Operator::new(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", "http://127.0.0.1:9/health")], "", ""));

    let empty = op.run(&["cases", "list"]).await;
    assert_eq!((empty.code, empty.stdout.as_str()), (Some(0), "no active cases\n"), "{empty:?}");

    for args in
        [&["cases", "show", "FW-000099"][..], &["cases", "ack", "99", "--as", "alice"], &["cases", "close", "fw-99"]]
    {
        let out = op.run(args).await;
        assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
        assert!(out.stderr.contains("no case FW-000099"), "{args:?}: {out:?}");
    }

    let banana = op.run(&["cases", "show", "banana"]).await;
    assert_eq!(banana.code, Some(2), "{banana:?}");
    assert!(banana.stderr.contains("not a case number"), "{banana:?}");
    let bad_status = op.run(&["cases", "list", "--status", "sleeping"]).await;
    assert_eq!(bad_status.code, Some(2), "{bad_status:?}");
    assert!(bad_status.stderr.contains("unknown status \"sleeping\""), "{bad_status:?}");
    let empty_note = op.run(&["cases", "note", "1", "   "]).await;
    assert_eq!(empty_note.code, Some(2), "{empty_note:?}");
    let nobody = op.run(&["cases", "ack", "1", "--as", " "]).await;
    assert_eq!(nobody.code, Some(2), "{nobody:?}");

    let dir = tempfile::tempdir().expect("temporary folder");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[probing]\nfailure_threshold = 0\n").expect("write config");
    let bad = bad.to_str().expect("utf-8 path");
    for args in [&["cases", "list", "--config", bad][..], &["maintenance", "list", "--config", bad]] {
        let out = tokio::task::spawn_blocking({
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            move || std::process::Command::new(env!("CARGO_BIN_EXE_firstwatch")).args(args).output()
        })
        .await
        .expect("join")
        .expect("run firstwatch");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("probing.failure_threshold"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_add_refuses_an_unknown_scope_or_a_bad_window_with_exit_2_and_stores_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let op =
        Operator::new(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", "http://127.0.0.1:9/health")], "", ""));
    let now = unix_ms(SystemTime::now());
    let (start, end) = (rfc3339_ms(now + 60_000), rfc3339_ms(now + 3_600_000));
    let past = rfc3339_ms(now - 60_000);

    let cases: [(&[&str], &str); 8] = [
        (&["--server", "nope", "--start", &start, "--end", &end], "unknown server \"nope\""),
        (&["--customer", "initech", "--start", &start, "--end", &end], "unknown customer \"initech\""),
        (&["--server", "acme-eu-1", "--customer", "acme", "--start", &start, "--end", &end], "cannot be used with"),
        (&["--start", &start, "--end", &end], "--server"),
        (&["--server", "acme-eu-1", "--start", &end, "--end", &start], "must end after it starts"),
        (&["--server", "acme-eu-1", "--start", "2020-01-01T00:00:00Z", "--end", &past], "in the past"),
        (&["--server", "acme-eu-1", "--start", "2030-01-01T00:00:00", "--end", &end], "has no time zone"),
        (&["--server", "acme-eu-1", "--start", "tomorrow", "--end", &end], "not an RFC 3339 time"),
    ];
    for (args, why) in cases {
        let out = op.run(&[&["maintenance", "add"][..], args].concat()).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.contains(why), "{args:?} should say {why:?}: {out:?}");
    }
    let list = op.run(&["maintenance", "list"]).await;
    assert_eq!((list.code, list.stdout.as_str()), (Some(0), "no maintenance windows\n"), "{list:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_added_on_the_command_line_is_listed_and_the_next_start_honours_it() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let in_config = r#"
[[maintenance]]
customer = "acme"
start = "2030-01-01T02:00:00Z"
end = "2030-01-01T04:00:00Z"
reason = "yearly upgrade"
"#;
    let config = config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", in_config);
    let op = Operator::new(&config);
    let now = unix_ms(SystemTime::now());
    let (start, end) = (rfc3339_ms(now - 1_000), rfc3339_ms(now + 3_600_000));

    let add = op
        .run(&[
            "maintenance",
            "add",
            "--server",
            "acme-eu-1",
            "--start",
            &start,
            "--end",
            &end,
            "--reason",
            "disk swap",
        ])
        .await;
    assert_eq!(add.code, Some(0), "{add:?}");
    assert_eq!(add.stdout, format!("maintenance window #1 added: server acme-eu-1 from {start} to {end}\n"));

    let list = op.run(&["maintenance", "list"]).await;
    assert_eq!(list.code, Some(0), "{list:?}");
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header, the config window, the stored one: {list:?}");
    for column in ["SCOPE", "START", "END", "STATE", "REASON", "SOURCE"] {
        assert!(lines[0].contains(column), "{list:?}");
    }
    assert!(lines[1].starts_with("customer acme ") && lines[1].ends_with("config"), "{list:?}");
    assert!(lines[1].contains("2030-01-01T02:00:00.000Z") && lines[1].contains("yearly upgrade"), "{list:?}");
    assert!(lines[1].contains("upcoming"), "{list:?}");
    assert!(lines[2].starts_with("server acme-eu-1 ") && lines[2].contains(&start) && lines[2].contains(&end));
    assert!(lines[2].contains("active") && lines[2].contains("disk swap"), "{list:?}");
    assert!(lines[2].contains("#1 added by bob at "), "{list:?}");

    let app = TestApp::spawn(&config).await;
    wait_until(Duration::from_secs(10), "three failures", || async {
        app.status("acme-eu-1").consecutive_failures >= 3
    })
    .await;
    assert_eq!(app.status("acme-eu-1").state, ServerState::Maintenance);
    // One sweep now: it would open the case if the window did not hold it back.
    app.engine.run_due().await.expect("the engine's sweep");
    assert!(app.store.cases(&[], 10).await.expect("list cases").is_empty(), "no case inside the window");
    app.stop().await;
}
