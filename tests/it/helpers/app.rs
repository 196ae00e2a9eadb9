//! The real app under test: `TestApp::spawn` boots the production `App` on 127.0.0.1:0 with a
//! config written for the test, and offers ways to stop it cleanly, crash it, and look at it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use firstwatch::app::App;
use firstwatch::cases::CaseEngine;
use firstwatch::config::Config;
use firstwatch::fleet::Fleet;
use firstwatch::store::Store;
use firstwatch::tracker::Status;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One server of a test fleet.
pub struct Srv<'a> {
    pub customer: &'a str,
    pub service: &'a str,
    pub id: &'a str,
    pub role: &'a str,
    pub target: String,
    /// Extra TOML lines for the server table, e.g. per-server overrides.
    pub extra: &'a str,
}

impl<'a> Srv<'a> {
    pub fn new(id: &'a str, target: impl Into<String>) -> Srv<'a> {
        Srv { customer: "acme", service: "storefront", id, role: "primary", target: target.into(), extra: "" }
    }

    pub fn with(mut self, extra: &'a str) -> Srv<'a> {
        self.extra = extra;
        self
    }
}

/// A config with `[probing]` set from `probing` (TOML lines) and the given servers.
pub fn config_toml(db_url: &str, probing: &str, servers: &[Srv<'_>]) -> String {
    config_with(db_url, probing, servers, "")
}

/// Like [`config_toml`], with `tail` (more TOML tables, e.g. `[[maintenance]]`) appended.
pub fn config_with(db_url: &str, probing: &str, servers: &[Srv<'_>], tail: &str) -> String {
    build(db_url, probing, servers, tail, false)
}

/// The paging set-up of [`config_paging`]: a webhook channel `ops` (nothing listens on it),
/// which is the feed; Alice the on-call Operations Manager; Victor the VP of Operations.
pub const PAGING: &str = r#"
[[channels]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"

[[people]]
id = "alice"
name = "Alice Example"
role = "operations-manager"
channels = ["ops"]

[[people]]
id = "victor"
name = "Victor Example"
role = "vp-operations"
channels = ["ops"]
"#;

/// A config with [`PAGING`], one contact per customer (`ops-<customer>@example.test` through
/// `ops`), `[cases]` with `feed = ["ops"]` plus `cases` (more keys), and `tail` appended.
pub fn config_paging(db_url: &str, probing: &str, servers: &[Srv<'_>], cases: &str, tail: &str) -> String {
    build(db_url, probing, servers, &format!("\n[cases]\nfeed = [\"ops\"]\n{cases}\n{PAGING}\n{tail}"), true)
}

/// The operator token of every helper config (name `test-operator`).
pub const OPERATOR_TOKEN: &str = "op-secret";
/// The viewer token of every helper config (name `test-viewer`); [`TestApp::get`] sends it.
pub const VIEWER_TOKEN: &str = "viewer-secret";

/// The `[server]` table every helper config starts with.
pub const SERVER: &str = "[server]\noperator_tokens = [{ name = \"test-operator\", token = \"op-secret\" }]\n\
                      viewer_tokens = [{ name = \"test-viewer\", token = \"viewer-secret\" }]\n";

/// `text` (a helper config) with more `[server]` keys (TOML lines).
pub fn server_keys(text: &str, keys: &str) -> String {
    assert!(text.starts_with("[server]\n"), "not a helper config: {text}");
    text.replacen("[server]\n", &format!("[server]\n{keys}\n"), 1)
}

fn build(db_url: &str, probing: &str, servers: &[Srv<'_>], tail: &str, contacts: bool) -> String {
    let mut text =
        format!("{SERVER}\n[database]\nurl = \"{db_url}\"\nwrite_behind = \"100ms\"\n\n[cluster]\nlease_ttl = \"2s\"\n\n[probing]\n{probing}\n");
    let mut customers: Vec<&str> = servers.iter().map(|s| s.customer).collect();
    customers.dedup();
    for customer in customers {
        text.push_str(&format!("\n[[customers]]\nid = \"{customer}\"\nname = \"{customer}\"\n"));
        if contacts {
            text.push_str(&format!(
                "contacts = [{{ name = \"Ops of {customer}\", email = \"ops-{customer}@example.test\", phone = \"+15550100\", channels = [\"ops\"] }}]\n"
            ));
        }
        let mut services: Vec<&str> = servers.iter().filter(|s| s.customer == customer).map(|s| s.service).collect();
        services.dedup();
        for service in services {
            text.push_str(&format!("\n[[customers.services]]\nid = \"{service}\"\nname = \"{service}\"\n"));
            for s in servers.iter().filter(|s| s.customer == customer && s.service == service) {
                text.push_str(&format!(
                    "\n[[customers.services.servers]]\nid = \"{}\"\ntarget = \"{}\"\nrole = \"{}\"\n{}\n",
                    s.id, s.target, s.role, s.extra
                ));
            }
        }
    }
    text.push_str(tail);
    text
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The fleet at start (a reload puts another in force: see [`TestApp::live`]).
    pub fleet: Arc<Fleet>,
    /// The config and fleet in force now.
    pub live: Arc<firstwatch::live::Live>,
    pub store: Store,
    pub engine: Arc<CaseEngine>,
    /// A handle on the app's outbox worker, for stepping delivery (`try_deliver_next`).
    pub worker: firstwatch::outbox::worker::Worker,
    shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn spawn(config_text: &str) -> TestApp {
        TestApp::spawn_with_clock(config_text, Arc::new(firstwatch::clock::SystemClock)).await
    }

    /// [`TestApp::spawn`] with the app's wall clock injected (a `ManualClock` for rules that
    /// run on hours: escalation levels, customer updates).
    pub async fn spawn_with_clock(config_text: &str, clock: Arc<dyn firstwatch::clock::Clock>) -> TestApp {
        let config = Config::from_toml(config_text, |_| None).unwrap_or_else(|e| panic!("test config refused: {e}"));
        TestApp::boot(config, clock).await
    }

    /// Boot from a config file (which a reload reads again).
    pub async fn spawn_file(path: &std::path::Path) -> TestApp {
        let config = Config::load(path).unwrap_or_else(|e| panic!("test config refused: {e}"));
        TestApp::boot(config, Arc::new(firstwatch::clock::SystemClock)).await
    }

    async fn boot(config: Config, clock: Arc<dyn firstwatch::clock::Clock>) -> TestApp {
        let app = App::build_with_clock(config, clock).await.expect("app builds");
        let (fleet, live, store, engine, worker) = (app.fleet(), app.live(), app.store(), app.engine(), app.worker());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let addr = listener.local_addr().expect("app address");
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
        TestApp { addr, fleet, live, store, engine, worker, shutdown, handle }
    }

    /// Stop through the normal shutdown path (pending results are flushed).
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.expect("app task").expect("app stops cleanly");
    }

    /// Drop the app without any shutdown: tasks aborted mid-flight, nothing flushed.
    pub async fn crash(self) {
        self.handle.abort();
        let _ = self.handle.await;
        // Let aborted tasks unwind, and a commit already sent to the database server land
        // (it does after a real kill -9 too), before anyone reads what was persisted.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    pub fn status(&self, id: &str) -> Status {
        self.live.fleet().get(id).unwrap_or_else(|| panic!("no server {id}")).status()
    }

    /// `GET path` as the helper configs' viewer.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.get_as(path, Some(VIEWER_TOKEN)).await
    }

    /// `GET path` with `token` as bearer (none: no credential at all); redirects not followed.
    pub async fn get_as(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let mut request = client.get(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request to app");
        let status = response.status().as_u16();
        (status, response.text().await.expect("response body"))
    }

    /// `POST path` with `token` as bearer (if any) and a JSON `body` (if any); the status and
    /// the JSON answer (every answer of the API is JSON, errors included).
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, serde_json::Value) {
        let (status, text) = self.send("POST", path, token, body).await;
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path} answered non-JSON ({e}): {text}")))
    }

    /// Any `method` on `path` with `token` as bearer and a JSON `body` (if any); the status and
    /// the answer as text (empty for a 204).
    pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = reqwest::Client::new().request(method, format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("request to app");
        let status = response.status().as_u16();
        (status, response.text().await.expect("response body"))
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {body}"))
    }
}

/// Poll `check` every 20 ms until it holds; panic with `what` after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Start `firstwatch run --config <path>` from this build, output discarded; killed (-9) when
/// dropped.
pub fn run_binary(config_path: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_firstwatch"))
        .args(["run", "--config"])
        .arg(config_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start firstwatch run")
}
