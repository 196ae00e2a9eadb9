//! The `firstwatch` binary as an operator uses it: exit statuses and what it prints.

use std::process::Output;

use crate::helpers::targets::{refused_addr, Behavior, FakeTarget};

fn firstwatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_firstwatch"));
    command.args(args).env_remove("RUST_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run firstwatch")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const EXAMPLE_ENV: [(&str, &str); 4] = [
    ("FIRSTWATCH_OPERATOR_TOKEN", "op-token"),
    ("FIRSTWATCH_WEBHOOK_SECRET", "hook-secret"),
    ("FIRSTWATCH_ACME_TOKEN", "acme-token"),
    ("FIRSTWATCH_GLOBEX_TOKEN", "globex-token"),
];

#[test]
fn check_config_accepts_the_example_and_summarises_it() {
    let out = firstwatch(&["check-config", "--config", "config/firstwatch.toml"], &EXAMPLE_ENV);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(stdout.contains("servers"), "{stdout}");
    // The detection arithmetic of the seed defaults (10 requests a minute apart after the first
    // failure, a two-hour escalation).
    assert!(
        stdout.contains("an outage is confirmed within 9m 10s of the first failed request")
            && stdout.contains("role:vp-operations is paged 2h later if nobody acknowledges"),
        "{stdout}"
    );
    assert!(!stdout.contains("hook-secret") && !stdout.contains("op-token"), "secrets never printed: {stdout}");
}

#[test]
fn a_reader_that_goes_away_is_not_a_panic_and_keeps_the_exit_status() {
    // `firstwatch check-config … | head -n 1`: stdout is a pipe whose reader is gone.
    for (config, status) in [("config/firstwatch.toml", 0), ("no/such/file.toml", 2)] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_firstwatch"));
        command.args(["check-config", "--config", config]).env_remove("RUST_LOG");
        for (key, value) in EXAMPLE_ENV {
            command.env(key, value);
        }
        let out = command.stdout(writer).output().expect("run firstwatch");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{config}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{config}: {stderr}");
    }
}

#[test]
fn check_config_refuses_a_bad_file_with_the_key_path_and_exit_status_2() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[customers]]\nid = \"acme\"\n[[customers]]\nid = \"globex\"\n[[customers.services]]\nid = \"web\"\n\
         [[customers.services.servers]]\nid = \"g1\"\ntarget = \"ftp://files.globex.test\"\n",
    )
    .expect("write config");
    let out = firstwatch(&["check-config", "--config", path.to_str().expect("utf-8 path")], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("customers[1].services[0].servers[0].target: unsupported scheme \"ftp\""), "{stderr}");
}

/// Probes plus client connections must fit in the open-file limit: with the hard limit at
/// 2048, the defaults (2048 probes + 1024 connections) are refused, and smaller ones pass.
#[test]
fn check_config_refuses_what_does_not_fit_in_the_open_file_limit() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("big.toml");
    let check = |config: &str| {
        std::fs::write(&path, config).expect("write config");
        // `ulimit -n` in sh sets the soft and the hard limit of what it then runs.
        let script = format!("ulimit -n 2048 && exec \"$0\" check-config --config '{}'", path.display());
        std::process::Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_firstwatch")])
            .env_remove("RUST_LOG")
            .output()
            .expect("run firstwatch under a lower limit")
    };
    let out = check("");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "server.max_connections: 1024 connections + probing.max_concurrency 2048 + 128 reserved = 3200 open files, \
             more than the open-file limit of 2048"
        ),
        "{stderr}"
    );
    let out = check("[server]\nmax_connections = 256\n[probing]\nmax_concurrency = 1024\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn run_with_a_bad_config_exits_2_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("bad.toml");
    let db = dir.path().join("data/firstwatch.db");
    std::fs::write(
        &path,
        format!("[database]\nurl = \"sqlite://{}\"\n[probing]\nfailure_threshold = 0\n", db.display()),
    )
    .expect("write config");
    let out = firstwatch(&["run", "--config", path.to_str().expect("utf-8 path")], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("probing.failure_threshold"), "{stderr}");
    assert!(!db.exists() && !dir.path().join("data").exists(), "nothing is created for a refused config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_prints_the_outcome_and_exits_by_it() {
    let healthy = FakeTarget::start(Behavior::Healthy).await;
    let url = healthy.url();
    let out = tokio::task::spawn_blocking(move || firstwatch(&["probe", &url], &[])).await.expect("join");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("up (HTTP 200) in "), "{stdout}");

    let refused = format!("tcp://{}", refused_addr());
    let out = tokio::task::spawn_blocking(move || firstwatch(&["probe", &refused], &[])).await.expect("join");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("failed after") && stdout.contains("connection refused"), "{stdout}");

    let out = firstwatch(&["probe", "ftp://files.acme.test"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unsupported scheme"), "{}", text(&out.stderr));
}

#[test]
fn demo_runs_a_scripted_outage_on_loopback_and_stops_by_itself() {
    let out = firstwatch(&["demo", "--for", "6s", "--listen", "127.0.0.1:0"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("acme-web-1") && stdout.contains("failing -> down"), "{stdout}");
    assert!(stdout.contains("THRESHOLD REACHED"), "{stdout}");
    assert!(stdout.contains("demo stopped"), "{stdout}");
    // The story alone: no log lines in between, no colour codes, and a summary at the end.
    let stderr = text(&out.stderr);
    assert!(!stderr.contains(" INFO ") && !stderr.contains('\u{1b}'), "no log without --verbose: {stderr}");
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    let summary = stdout.split("summary after").nth(1).unwrap_or_else(|| panic!("a summary: {stdout}"));
    assert!(summary.contains("confirmed") && summary.contains("(opened or reopened"), "{summary}");
    assert!(summary.contains("/pager") || summary.contains("phone"), "what the receivers got: {summary}");
    assert!(summary.contains("where to look next"), "{summary}");

    // --verbose adds the monitor's log on stderr, still without colour codes off a terminal.
    let out = firstwatch(&["demo", "--for", "1s", "--listen", "127.0.0.1:0", "--verbose"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("INFO") && !stderr.contains('\u{1b}'), "{stderr}");
}
