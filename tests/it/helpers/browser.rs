//! A real headless Chromium driven over WebDriver: `Browser::start` runs Debian's `chromedriver`
//! on a free loopback port (plain HTTP, no TLS) and opens one fantoccini session in
//! `/usr/bin/chromium` with a fresh profile. One browser per test.
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages, which
//! `scripts/test` installs; if either is missing, `Browser::start` panics (the test fails, it
//! never passes without a browser). Screenshots go to `test-artifacts/screenshots/<name>.png`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::process::{Child, Command};

use super::app::{config_paging, Srv};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Flags for Chromium on this machine: no sandbox (tests may run as root), no GPU, and nothing
/// that reaches for the network beyond loopback.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// How long a wait for an element or a page may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Browser {
    pub client: Client,
    driver: Option<Child>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver and a Chromium session. Panics (with what to install) when Chromium or
    /// chromedriver is missing.
    pub async fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: browser tests need Debian's `{package}` package \
                 (scripts/test installs it; by hand: apt-get install chromium chromium-driver)"
            );
        }
        let profile = tempfile::tempdir().expect("browser profile dir");
        let port = free_port();
        let log = profile.path().join("chromedriver.log");
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Chromium goes with it on drop (see `Drop`).
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        wait_for_driver(&mut driver, &url, &log).await;

        let user_data_dir = profile.path().join("chromium");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", user_data_dir.display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "chrome".into());
        capabilities.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": CHROMIUM, "args": args }));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}\n{}", tail(&log)));
        Browser { client, driver: Some(driver), _profile: profile }
    }

    /// Load `url` and wait until the page has loaded.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
    }

    /// The first element matching `css`, waiting up to [`WAIT`] for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                let source = self.source().await;
                panic!("no element `{css}` on {url} after {WAIT:?} ({e}); page source:\n{source}")
            }
        }
    }

    /// Every element matching `css` now (no waiting).
    pub async fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap_or_else(|e| panic!("find_all `{css}`: {e}"))
    }

    /// The attribute `name` of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.unwrap_or_else(|e| panic!("attribute {name} of `{css}`: {e}"))
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_else(|e| panic!("text of `{css}`: {e}"))
    }

    /// Click the first element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// The current page's HTML, as the browser has it.
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_else(|e| panic!("page source: {e}"))
    }

    /// The current URL's path and query, e.g. `/status/acme`.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap_or_else(|e| panic!("current url: {e}"));
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Wait until the current path is `path` (after a redirect or a form post).
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "still on {now} after {WAIT:?}, expected {path}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Save the whole page (not only the 1280x900 viewport, up to 4000 px tall) as
    /// `test-artifacts/screenshots/<name>.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // The window includes some browser frame even headless: grow it by the page's overflow.
        let sizes = self
            .client
            .execute("return [document.documentElement.scrollHeight, window.innerHeight, window.outerHeight];", vec![])
            .await
            .ok();
        let size = |i: usize| sizes.as_ref().and_then(|s| s[i].as_u64()).unwrap_or(0);
        let (page, inner, outer) = (size(0), size(1), size(2));
        let resized = page > inner
            && outer > 0
            && self.client.set_window_size(1280, (outer + page - inner).min(4000) as u32).await.is_ok();
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        if resized {
            let _ = self.client.set_window_size(1280, 900).await;
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts").join("screenshots");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// End the WebDriver session (Chromium quits), then stop chromedriver.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.clone().close()).await;
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.kill().await;
        }
    }
}

impl Drop for Browser {
    /// A test that panicked never reached `close`: kill chromedriver's whole process group, so
    /// that no Chromium outlives the test.
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            if let Some(pid) = driver.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind for a free port");
    listener.local_addr().expect("free port").port()
}

/// Poll chromedriver's `/status` until it says ready.
async fn wait_for_driver(driver: &mut Child, url: &str, log: &Path) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let client = reqwest::Client::new();
    loop {
        if let Ok(Some(status)) = driver.try_wait() {
            panic!("chromedriver exited at start ({status})\n{}", tail(log));
        }
        if let Ok(response) = client.get(format!("{url}/status")).send().await {
            let body = response.text().await.unwrap_or_default();
            if let Ok(body) = serde_json::from_str::<serde_json::Value>(&body) {
                if body["value"]["ready"] == true {
                    return;
                }
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "chromedriver not ready after {WAIT:?}\n{}", tail(log));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last lines of chromedriver's log, for failure messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(30);
    format!("chromedriver log ({}):\n{}", log.display(), lines[start..].join("\n"))
}

/// The operator token of [`pages_config`].
pub const OPERATOR_TOKEN: &str = crate::helpers::app::OPERATOR_TOKEN;
/// The status token of customer `acme` in [`pages_config`].
pub const ACME_TOKEN: &str = "acme-status-secret";

/// A config for the pages: `[server] operator_tokens = [OPERATOR_TOKEN]`, customer `acme` (status
/// token [`ACME_TOKEN`]) with server `acme-eu-1` probing `acme_target`, and customer `globex`
/// with server `globex-us-1` probing `globex_target`; fast probing (3 failures in about 0.3 s
/// open a case) and the paging set-up of [`config_paging`].
pub fn pages_config(db_url: &str, acme_target: &str, globex_target: &str) -> String {
    let probing = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
    let mut globex = Srv::new("globex-us-1", globex_target);
    globex.customer = "globex";
    globex.service = "checkout";
    let text = config_paging(db_url, probing, &[Srv::new("acme-eu-1", acme_target), globex], "", "");
    let acme = "[[customers]]\nid = \"acme\"\nname = \"acme\"\n";
    assert!(text.contains(acme), "config_paging changed its customer table: {text}");
    let text = text.replacen(acme, &format!("{acme}status_token = \"{ACME_TOKEN}\"\n"), 1);
    text
}
