//! The HTML pages over real HTTP: the operations overview with its counts, server rows and
//! uptime bars (also with 2,000 servers), a customer's status page and its token rules,
//! operator sign-in and case actions through forms, and the maintenance form.

use std::time::{Duration, Instant};

use firstwatch::domain::ServerState;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION, SET_COOKIE};

use crate::helpers::app::{config_paging, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{refused_addr, Behavior, FakeTarget};

const FAST: &str = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
const TOKEN: &str = "op-secret";
/// The viewer credential of the helper configs, as a header.
const AS_VIEWER: [(&str, &str); 1] = [("Authorization", "Bearer viewer-secret")];

/// A plain HTTP client that shows redirects instead of following them and keeps no cookies.
struct Web {
    base: String,
    client: reqwest::Client,
}

struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    fn set_cookie(&self) -> &str {
        self.headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl Web {
    fn new(app: &TestApp) -> Web {
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client");
        Web { base: format!("http://{}", app.addr), client }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let response = request.send().await.expect("request to app");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Page { status, headers, body: response.text().await.expect("body") }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).expect("header"));
        }
        self.send(request).await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).expect("header"));
        }
        self.send(request).await
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The opening tags `<tag …>` whose class list has `class`.
fn tags<'a>(html: &'a str, tag: &str, class: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start..];
        let Some(end) = after.find('>') else { break };
        let element = &after[..=end];
        let boundary = after.as_bytes().get(open.len()).copied();
        if matches!(boundary, Some(b' ' | b'>'))
            && attr(element, "class").is_some_and(|c| c.split_whitespace().any(|c| c == class))
        {
            found.push(element);
        }
        rest = &after[end..];
    }
    found
}

/// The value of attribute `name` in an opening tag.
fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = element.find(&key)? + key.len();
    let len = element[start..].find('"')?;
    Some(&element[start..start + len])
}

/// The `data-count` of the `span.count` whose `key` attribute is `value`.
fn count(html: &str, key: &str, value: &str) -> Option<usize> {
    tags(html, "span", "count")
        .into_iter()
        .find(|t| attr(t, key) == Some(value))
        .and_then(|t| attr(t, "data-count"))
        .and_then(|n| n.parse().ok())
}

/// Four servers of three customers: acme's storefront fails, everything else is healthy.
/// acme and globex have status tokens; initech has none.
fn config(db: &str, failing: &FakeTarget, healthy: &FakeTarget) -> String {
    let servers = [
        Srv::new("acme-eu-1", failing.url()),
        Srv { service: "api", ..Srv::new("acme-api-1", healthy.url()) },
        Srv { customer: "globex", service: "web", ..Srv::new("globex-web-1", healthy.url()) },
        Srv { customer: "initech", service: "web", ..Srv::new("initech-1", healthy.url()) },
    ];
    config_paging(db, FAST, &servers, "", "")
        .replace(
            "id = \"acme\"\nname = \"acme\"\n",
            "id = \"acme\"\nname = \"Acme Corp\"\nstatus_token = \"acme-token\"\n",
        )
        .replace(
            "id = \"globex\"\nname = \"globex\"\n",
            "id = \"globex\"\nname = \"Globex\"\nstatus_token = \"globex-token\"\n",
        )
}

struct Fixture {
    _db: TestDb,
    _failing: FakeTarget,
    _healthy: FakeTarget,
    app: TestApp,
    web: Web,
}

/// The app with acme-eu-1 down and its case FW-000001 open, every other server up.
async fn with_open_case(backend: Backend) -> Fixture {
    let db = TestDb::new(backend).await;
    let failing = FakeTarget::start(Behavior::Status(500)).await;
    let healthy = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&config(&db.url, &failing, &healthy)).await;
    wait_until(Duration::from_secs(15), "a case and the healthy servers up", || async {
        let up = ["acme-api-1", "globex-web-1", "initech-1"].iter().all(|id| app.status(id).state == ServerState::Up);
        up && app.get_json("/api/v1/cases?status=open").await["cases"].as_array().is_some_and(|c| !c.is_empty())
    })
    .await;
    let web = Web::new(&app);
    Fixture { _db: db, _failing: failing, _healthy: healthy, app, web }
}

async fn ops_page_shows_problems_counts_and_uptime(backend: Backend) {
    let f = with_open_case(backend).await;
    // Let the failures reach the hourly roll-ups before the page reads them.
    wait_until(Duration::from_secs(10), "roll-ups with failures", || async {
        f.app.store.rollups("acme-eu-1", 0).await.expect("roll-ups").iter().any(|r| r.failures > 0)
    })
    .await;
    let page = f.web.get("/", &AS_VIEWER).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.headers["content-type"].to_str().unwrap_or("").starts_with("text/html"));
    let html = &page.body;

    let servers = tags(html, "tr", "server");
    assert_eq!(servers.len(), 1, "only the server that is not up is listed: {servers:?}");
    assert_eq!((attr(servers[0], "data-server"), attr(servers[0], "data-state")), (Some("acme-eu-1"), Some("down")));

    let cases = tags(html, "tr", "case");
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(attr(cases[0], "data-case"), Some("FW-000001"));
    assert_eq!(attr(cases[0], "data-severity"), Some("1"));
    assert_eq!(attr(cases[0], "data-status"), Some("open"));
    assert!(html.contains("href=\"/cases/FW-000001\""));
    assert!(html.contains("<section id=\"open-cases\">"));

    assert_eq!(count(html, "data-state", "down"), Some(1));
    assert_eq!(count(html, "data-state", "up"), Some(3));
    assert_eq!(count(html, "data-state", "total"), Some(4));
    assert_eq!(count(html, "data-severity", "1"), Some(1));
    assert_eq!(count(html, "data-severity", "2"), Some(0));
    assert!(!html.contains("monitor-degraded"), "the guard is not tripped");

    let customers: Vec<_> = tags(html, "div", "customer").iter().filter_map(|t| attr(t, "data-customer")).collect();
    assert_eq!(customers, ["acme", "globex", "initech"]);
    let services = tags(html, "div", "service");
    assert_eq!(services.len(), 4);
    let days = tags(html, "span", "day");
    assert_eq!(days.len(), 90 * services.len(), "90 days per service");
    // acme's storefront is the first service; its last day is today and saw failures.
    let today = attr(days[89], "title").unwrap_or("");
    let date: String = firstwatch::clock::rfc3339_ms(firstwatch::clock::unix_ms(std::time::SystemTime::now()))
        .chars()
        .take(10)
        .collect();
    assert!(today.starts_with(&format!("{date}: ")) && today.contains("% up, "), "{today}");
    assert!(!today.contains(" 0 failures"), "{today}");
    assert_eq!(attr(days[0], "title").map(|t| t.ends_with("no data")), Some(true));
    // A fleet that is minutes old does not claim 90 days.
    assert!(html.contains("up today, the first day with data") && !html.contains("over 90 days"), "uptime totals");
    // Each service states its detection arithmetic with its effective settings.
    let detection = tags(html, "details", "detection");
    assert_eq!(detection.len(), services.len(), "{detection:?}");
    assert!(html.contains("of the first failed request (") && html.contains("paged within"), "detection text");

    // One customer's full list: all of its servers, up ones included, nobody else's.
    let acme = f.web.get("/?customer=acme", &AS_VIEWER).await;
    assert_eq!(acme.status, 200);
    let listed: Vec<_> = tags(&acme.body, "tr", "server").iter().filter_map(|t| attr(t, "data-server")).collect();
    assert_eq!(listed, ["acme-eu-1", "acme-api-1"], "worst first");
    assert_eq!(tags(&acme.body, "tr", "case").len(), 1);
    assert_eq!(count(&acme.body, "data-severity", "1"), Some(1));
    let globex = f.web.get("/?customer=globex", &AS_VIEWER).await;
    assert!(tags(&globex.body, "tr", "case").is_empty() && !globex.body.contains("acme-eu-1"));
    assert_eq!(count(&globex.body, "data-severity", "total"), Some(0));
    assert_eq!(f.web.get("/?customer=nobody", &AS_VIEWER).await.status, 404);
    assert_eq!(f.web.get("/?customer=acme&page=banana", &AS_VIEWER).await.status, 200);
    f.app.stop().await;
}

on_both_backends!(ops_page_shows_problems_counts_and_uptime);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_page_stays_small_with_2000_servers() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = format!("tcp://{}", refused_addr());
    let names: Vec<(String, String, String)> = (0..2000)
        .map(|i| (format!("c{}", i / 250), format!("svc{}", i % 250 / 125), format!("c{}-srv-{i:04}", i / 250)))
        .collect();
    let servers: Vec<Srv<'_>> =
        names.iter().map(|(customer, service, id)| Srv { customer, service, ..Srv::new(id, target.clone()) }).collect();
    let probing = "interval = \"1h\"\nretry_interval = \"1h\"\ntimeout = \"100ms\"";
    let text = config_paging(&db.url, probing, &servers, "", "");
    let app = TestApp::spawn(&text).await;
    let web = Web::new(&app);

    let started = Instant::now();
    let page = web.get("/", &AS_VIEWER).await;
    let took = started.elapsed();
    assert_eq!(page.status, 200);
    let rows = tags(&page.body, "tr", "server").len();
    assert!(rows > 0 && rows < 300, "{rows} server rows");
    assert!(page.body.len() < 1_000_000, "{} bytes", page.body.len());
    assert!(page.body.contains("id=\"more-servers\""), "says how many are not shown");
    assert_eq!(tags(&page.body, "div", "customer").len(), 8);
    assert_eq!(tags(&page.body, "span", "day").len(), 90 * 16);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    let first = web.get("/?customer=c3", &AS_VIEWER).await;
    let second = web.get("/?customer=c3&page=2", &AS_VIEWER).await;
    let ids = |p: &Page| -> Vec<String> {
        tags(&p.body, "tr", "server").iter().filter_map(|t| attr(t, "data-server")).map(str::to_string).collect()
    };
    let (first, second) = (ids(&first), ids(&second));
    assert_eq!((first.len(), second.len()), (200, 50));
    assert!(first.iter().chain(&second).all(|id| id.starts_with("c3-")));
    assert!(!first.iter().any(|id| second.contains(id)), "pages do not overlap");
    app.stop().await;
}

async fn customer_page_needs_its_token_and_shows_only_its_own(backend: Backend) {
    let f = with_open_case(backend).await;
    let web = &f.web;

    let page = web.get("/status/acme", &[("Authorization", "Bearer acme-token")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = &page.body;
    let servers: Vec<_> = tags(html, "tr", "server").iter().filter_map(|t| attr(t, "data-server")).collect();
    assert_eq!(servers, ["acme-eu-1", "acme-api-1"]);
    for foreign in ["globex", "initech", "Globex"] {
        assert!(!html.contains(foreign), "{foreign} appears on acme's page");
    }
    assert!(!html.contains("href=\"/\"") && !html.contains("/cases/") && !html.contains("/maintenance"));
    let cases = tags(html, "tr", "case");
    assert_eq!(cases.iter().filter_map(|t| attr(t, "data-case")).collect::<Vec<_>>(), ["FW-000001"]);
    let kinds: Vec<_> = tags(html, "li", "event").iter().filter_map(|t| attr(t, "data-kind")).collect();
    assert!(kinds.contains(&"opened"), "{kinds:?}");
    assert!(kinds.iter().all(|k| !["delivered", "dead_letter", "escalation", "sla_breach"].contains(k)), "{kinds:?}");
    assert_eq!(tags(html, "span", "day").len(), 2 * 90);

    // A link with ?token= sets a cookie for this page only and drops the token from the URL.
    let link = web.get("/status/acme?token=acme-token", &[]).await;
    assert_eq!(link.status, 303);
    assert_eq!(link.location(), "/status/acme");
    let cookie = link.set_cookie();
    for part in ["fw_status=acme-token", "HttpOnly", "SameSite=Lax", "Path=/status/acme"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap_or("");
    let again = web.get("/status/acme", &[("Cookie", pair)]).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("data-server=\"acme-eu-1\""));
    assert_eq!(web.get("/status/globex", &[("Cookie", pair)]).await.status, 403, "acme's cookie opens only acme");

    assert_eq!(web.get("/status/acme", &[]).await.status, 401);
    assert_eq!(web.get("/status/acme?token=wrong", &[]).await.status, 403);
    assert_eq!(web.get("/status/acme", &[("Authorization", "Bearer globex-token")]).await.status, 403);
    assert_eq!(web.get("/status/initech?token=anything", &[]).await.status, 403, "no status token configured");
    let unknown = web.get("/status/nobody?token=acme-token", &[]).await;
    let wrong = web.get("/status/acme?token=nope", &[]).await;
    assert_eq!((unknown.status, wrong.status), (403, 403));
    assert_eq!(
        unknown.body.replace("/status/nobody", "/status/X"),
        wrong.body.replace("/status/acme", "/status/X"),
        "unknown customers look like wrong tokens"
    );
    assert!(!wrong.body.contains("acme-eu-1") && !wrong.body.contains("Acme Corp"));
    f.app.stop().await;
}

on_both_backends!(customer_page_needs_its_token_and_shows_only_its_own);

/// Sign in with `token` at `/login`; the `Cookie` header value of the session.
async fn sign_in_with(web: &Web, token: &str) -> String {
    let bad = web.post_form("/login", &[("token", "wrong")], &[]).await;
    assert_eq!(bad.status, 403);
    assert!(bad.body.contains("name=\"token\""), "the form is shown again");
    let good = web.post_form("/login", &[("token", token), ("next", "/cases/FW-000001")], &[]).await;
    assert_eq!(good.status, 303, "{}", good.body);
    assert_eq!(good.location(), "/cases/FW-000001");
    let cookie = good.set_cookie();
    for part in ["fw_session=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    let pair = cookie.split(';').next().unwrap_or("").to_string();
    let id = pair.trim_start_matches("fw_session=");
    assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()), "a random session id: {pair}");
    assert!(!cookie.contains(token), "the token itself is never in the cookie");
    pair
}

async fn sign_in(web: &Web) -> String {
    sign_in_with(web, TOKEN).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_sign_in_and_work_a_case_through_forms() {
    let f = with_open_case(Backend::Sqlite).await;
    let web = &f.web;

    let anonymous = web.get("/cases/FW-000001", &[]).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location(), "/login?next=%2Fcases%2FFW-000001");
    let login = web.get("/login?next=%2Fcases%2FFW-000001", &[]).await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("type=\"password\" name=\"token\""));

    let cookie = sign_in(web).await;
    let with = [("Cookie", cookie.as_str())];
    let page = web.get("/cases/FW-000001", &with).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<table id=\"timeline\">"));
    let kinds: Vec<_> = tags(&page.body, "tr", "event").iter().filter_map(|t| attr(t, "data-kind")).collect();
    assert_eq!(kinds.first(), Some(&"opened"));
    for form in ["action-ack", "action-resolve", "action-close", "action-note"] {
        assert_eq!(tags(&page.body, "form", form).len(), 1, "{form}");
    }
    for id in ["id=\"ack\"", "id=\"resolve\"", "id=\"close\"", "id=\"note-text\"", "id=\"add-note\""] {
        assert!(page.body.contains(id), "{id}");
    }
    assert!(!tags(&page.body, "tr", "notification").is_empty(), "the page and notice are listed");

    // Forms from another site are refused, with or without the cookie.
    let origin = [("Cookie", cookie.as_str()), ("Origin", "http://evil.example")];
    assert_eq!(web.post_form("/cases/FW-000001/ack", &[], &origin).await.status, 403);
    let referer = [("Cookie", cookie.as_str()), ("Referer", "http://evil.example/page")];
    assert_eq!(web.post_form("/cases/FW-000001/ack", &[], &referer).await.status, 403);
    let no_cookie = web.post_form("/cases/FW-000001/ack", &[], &[]).await;
    assert_eq!((no_cookie.status, no_cookie.location()), (303, "/login?next=%2Fcases%2FFW-000001"));
    let forged = web.post_form("/cases/FW-000001/ack", &[], &[("Cookie", "fw_session=guess")]).await;
    assert_eq!(forged.status, 303);
    assert_eq!(f.app.get_json("/api/v1/cases/FW-000001").await["case"]["status"], "open", "nothing changed");

    let own = format!("http://{}", f.app.addr);
    let ours = [("Cookie", cookie.as_str()), ("Origin", own.as_str())];
    let ack = web.post_form("/cases/FW-000001/ack", &[("actor", "mallory")], &ours).await;
    assert_eq!((ack.status, ack.location()), (303, "/cases/FW-000001"), "{}", ack.body);
    let case = f.app.get_json("/api/v1/cases/FW-000001").await;
    assert_eq!(case["case"]["status"], "acknowledged");
    let last = case["timeline"].as_array().and_then(|t| t.iter().rev().find(|e| e["kind"] == "acknowledged")).cloned();
    assert_eq!(
        last.map(|e| e["actor"].clone()),
        Some(serde_json::json!("test-operator")),
        "the actor is the signed-in token's name, not a field of the form"
    );

    let close = web.post_form("/cases/FW-000001/close", &[], &with).await;
    assert_eq!(close.status, 409);
    assert!(close.body.contains("<p class=\"error\""), "{}", close.body);
    assert!(close.body.contains("cannot close a case that is acknowledged"));

    let empty = web.post_form("/cases/FW-000001/notes", &[("text", "  ")], &with).await;
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("<p class=\"error\""));
    let note = "Failing over to the secondary <b>now</b> & then";
    let added = web.post_form("/cases/FW-000001/notes", &[("text", note)], &with).await;
    assert_eq!(added.status, 303);
    let case = f.app.get_json("/api/v1/cases/FW-000001").await;
    assert_eq!(case["case"]["status"], "in_progress");
    let page = web.get("/cases/FW-000001", &with).await;
    assert!(page.body.contains("Failing over to the secondary &lt;b&gt;now&lt;/b&gt; &amp; then"), "escaped");

    let resolve = web.post_form("/cases/FW-000001/resolve", &[], &with).await;
    assert_eq!(resolve.status, 303);
    let close = web.post_form("/cases/FW-000001/close", &[], &with).await;
    assert_eq!(close.status, 303);
    assert_eq!(f.app.get_json("/api/v1/cases/FW-000001").await["case"]["status"], "closed");

    assert_eq!(web.get("/cases/banana", &with).await.status, 400);
    assert_eq!(web.get("/cases/FW-000099", &with).await.status, 404);
    assert_eq!(web.post_form("/cases/FW-000099/ack", &[], &with).await.status, 404);

    let out = web.post_form("/logout", &[], &with).await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookie().starts_with("fw_session=;") && out.set_cookie().contains("Max-Age=0"));
    let after = web.get("/cases/FW-000001", &with).await;
    assert_eq!((after.status, after.location()), (303, "/login?next=%2Fcases%2FFW-000001"), "the session ended");
    f.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_form_adds_a_window() {
    let f = with_open_case(Backend::Sqlite).await;
    let web = &f.web;
    let anonymous = web.get("/maintenance", &[]).await;
    assert_eq!((anonymous.status, anonymous.location()), (303, "/login?next=%2Fmaintenance"));

    let cookie = sign_in(web).await;
    let with = [("Cookie", cookie.as_str())];
    let page = web.get("/maintenance", &with).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"add-window-form\""));
    assert!(tags(&page.body, "tr", "window").is_empty());

    let now = firstwatch::clock::unix_ms(std::time::SystemTime::now());
    let (start, end) = (firstwatch::clock::rfc3339_ms(now - 1000), firstwatch::clock::rfc3339_ms(now + 3_600_000));
    let bad = web.post_form("/maintenance", &[("server", "nope"), ("start", &start), ("end", &end)], &with).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("<p class=\"error\"") && bad.body.contains("server: no server"), "{}", bad.body);
    assert!(bad.body.contains("value=\"nope\""), "what was typed is kept");
    let both = [("server", "acme-api-1"), ("customer", "acme"), ("start", start.as_str()), ("end", end.as_str())];
    assert_eq!(web.post_form("/maintenance", &both, &with).await.status, 400);
    let foreign = [("Cookie", cookie.as_str()), ("Origin", "https://evil.example")];
    assert_eq!(web.post_form("/maintenance", &both[1..], &foreign).await.status, 403);

    let good = [
        ("server", "acme-api-1"),
        ("customer", ""),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("reason", "disk swap"),
    ];
    let added = web.post_form("/maintenance", &good, &with).await;
    assert_eq!((added.status, added.location()), (303, "/maintenance"), "{}", added.body);
    let list = f.app.get_json("/api/v1/maintenance").await;
    let window = &list["windows"][0];
    assert_eq!((window["server"].as_str(), window["created_by"].as_str()), (Some("acme-api-1"), Some("test-operator")));
    let page = web.get("/maintenance", &with).await;
    let rows = tags(&page.body, "tr", "window");
    assert_eq!(rows.len(), 1);
    assert_eq!((attr(rows[0], "data-server"), attr(rows[0], "data-phase")), (Some("acme-api-1"), Some("active")));
    wait_until(Duration::from_secs(5), "the window in force", || async {
        f.app.status("acme-api-1").state == ServerState::Maintenance
    })
    .await;
    f.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_page_warns_while_the_monitor_is_degraded() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let canary = FakeTarget::start(Behavior::Close).await;
    let guard = format!("\n[guard]\ncanaries = [\"{}\"]\n", canary.url());
    let app = TestApp::spawn(&config_paging(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())], "", &guard)).await;
    let web = Web::new(&app);
    assert!(!web.get("/", &AS_VIEWER).await.body.contains("id=\"monitor-degraded\""));
    wait_until(Duration::from_secs(10), "the guard to trip", || async {
        app.store.flag("guard_degraded").await.expect("flag").is_some()
    })
    .await;
    // The operations page is rendered at most once a second, so it may lag the flag briefly.
    wait_until(Duration::from_secs(3), "the banner", || async {
        web.get("/", &AS_VIEWER).await.body.contains("id=\"monitor-degraded\"")
    })
    .await;
    let page = web.get("/", &AS_VIEWER).await;
    assert!(tags(&page.body, "tr", "case").is_empty(), "no case while degraded");
    app.stop().await;
}
