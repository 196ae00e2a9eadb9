//! Who may call what, over real HTTP: the authorization matrix generated from the route table
//! (`firstwatch::web::access::table`, which the router is built from) × every kind of
//! credential, checked against the OpenAPI document, plus the guard that no route is added
//! outside the table.

use std::collections::BTreeSet;
use std::time::Duration;

use firstwatch::web::access::{self, Access};
use reqwest::header::LOCATION;

use crate::helpers::app::{config_paging, server_keys, wait_until, Srv, TestApp, OPERATOR_TOKEN, VIEWER_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
const METRICS: &str = "metrics-secret";

/// The credentials every route is tried with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    WrongToken,
    /// Customer A's status token.
    CustomerA,
    Viewer,
    Operator,
    MetricsToken,
}

const CALLERS: [Caller; 6] =
    [Caller::Nobody, Caller::WrongToken, Caller::CustomerA, Caller::Viewer, Caller::Operator, Caller::MetricsToken];

impl Caller {
    fn token(self) -> Option<&'static str> {
        match self {
            Caller::Nobody => None,
            Caller::WrongToken => Some("not-a-token-of-ours"),
            Caller::CustomerA => Some("alpha-token"),
            Caller::Viewer => Some(VIEWER_TOKEN),
            Caller::Operator => Some(OPERATOR_TOKEN),
            Caller::MetricsToken => Some(METRICS),
        }
    }
}

/// What a route must answer `caller`: `Some(status)` exactly, or `None` for "let in" (any
/// status that is neither a refusal nor a server fault).
fn expected(access: Access, page: bool, caller: Caller) -> Option<u16> {
    let missing = if page { 303 } else { 401 };
    match (access, caller) {
        (Access::Open, _) => None,
        (Access::Metrics, Caller::Nobody) => Some(401),
        (Access::Metrics, Caller::MetricsToken) => None,
        (Access::Metrics, _) => Some(403),
        (Access::Customer, Caller::Nobody) => Some(401),
        (Access::Customer, Caller::CustomerA) => None,
        (Access::Customer, _) => Some(403),
        // The token in the path is the credential; the matrix's is nobody's, whoever calls.
        (Access::Link, _) => Some(404),
        // A vendor's webhook: only its signature counts, and the matrix's requests have none.
        (Access::Signed, _) => Some(403),
        (Access::Read | Access::Write, Caller::Nobody) => Some(missing),
        (Access::Read, Caller::Viewer | Caller::Operator) => None,
        (Access::Write, Caller::Operator) => None,
        (Access::Read | Access::Write, _) => Some(403),
    }
}

/// Customer A (`cust-alpha`) and customer B (`cust-bravo`), names found nowhere else, each
/// with a failing server and so an open case; status tokens for both; per-server metrics
/// behind a metrics token.
fn config(db: &str, failing: &FakeTarget) -> String {
    let alpha = Srv { customer: "cust-alpha", service: "svc-alpha", ..Srv::new("srv-alpha-1", failing.url()) };
    let bravo = Srv { customer: "cust-bravo", service: "svc-bravo", ..Srv::new("srv-bravo-1", failing.url()) };
    let mut text = config_paging(db, FAST, &[alpha, bravo], "", "");
    for (customer, token) in [("cust-alpha", "alpha-token"), ("cust-bravo", "bravo-token")] {
        let table = format!("id = \"{customer}\"\nname = \"{customer}\"\n");
        assert!(text.contains(&table), "the helper config changed: {text}");
        text = text.replacen(&table, &format!("{table}status_token = \"{token}\"\n"), 1);
    }
    // Every request comes "from" its own address (through the loopback, a trusted proxy), so
    // the wrong tokens the matrix presents do not lock it out of the rest.
    let keys = format!("metrics_token = \"{METRICS}\"\nper_server_metrics = true\ntrusted_proxies = [\"127.0.0.0/8\"]");
    server_keys(&text, &keys)
}

/// Whether `body` names anything of customer B.
fn leaks_bravo(body: &str, bravo_case: &str) -> bool {
    ["cust-bravo", "svc-bravo", "srv-bravo-1", "bravo-token", bravo_case].iter().any(|needle| body.contains(needle))
}

/// Whether `body` names any customer, service or server of the config.
fn names_a_customer(body: &str) -> bool {
    ["cust-", "svc-", "srv-"].iter().any(|needle| body.contains(needle))
}

/// Whether `body` names any customer's things or cases.
fn leaks_any(body: &str, cases: &[String]) -> bool {
    names_a_customer(body) || cases.iter().any(|case| body.contains(case.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_the_table_says() {
    let db = TestDb::new(Backend::Sqlite).await;
    let failing = FakeTarget::start(Behavior::Status(500)).await;
    let app = TestApp::spawn(&config(&db.url, &failing)).await;
    wait_until(Duration::from_secs(15), "both customers' cases open", || async {
        app.store.latest_cases().await.map(|c| c.len() == 2).unwrap_or(false)
    })
    .await;
    let cases = app.store.latest_cases().await.expect("cases");
    let numbers: Vec<String> = cases.iter().map(|c| format!("FW-{:06}", c.id)).collect();
    let bravo_case = cases
        .iter()
        .find(|c| c.customer == "cust-bravo")
        .map(|c| format!("FW-{:06}", c.id))
        .expect("customer B's case");

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let table = access::table();
    let mut tried = 0;
    for route in &table {
        // Customer B's case for every case route, customer A's page for the customer route.
        let path = route
            .path
            .replace("{id}", &bravo_case)
            .replace("{customer}", "cust-alpha")
            .replace("{token}", &"ab".repeat(32));
        let page = !path.starts_with("/api/") && route.access != Access::Metrics;
        let mut open_statuses = BTreeSet::new();
        for caller in CALLERS {
            let url = format!("http://{}{path}", app.addr);
            let mut request = match route.method.as_str() {
                "GET" => client.get(&url),
                "POST" if page => client.post(&url).header("content-type", "application/x-www-form-urlencoded"),
                "POST" => client.post(&url).header("content-type", "application/json").body("{}"),
                "PUT" => client.put(&url).header("content-type", "application/json").body("{}"),
                "DELETE" => client.delete(&url),
                other => panic!("{other} {path}: a method the matrix does not know"),
            };
            if let Some(token) = caller.token() {
                request = request.bearer_auth(token);
            }
            request = request.header("x-forwarded-for", format!("10.9.{}.{}", tried / 250, tried % 250 + 1));
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            // A page may echo the path it was asked for (the token form posts back to it); that
            // names nothing the caller did not type.
            let body = response.text().await.expect("body").replace(&path, "<path>");
            tried += 1;
            let what = format!("{} {path} as {caller:?}", route.method);
            assert!(status < 500, "{what}: {status} {body}");
            match expected(route.access, page, caller) {
                Some(want) => {
                    assert_eq!(status, want, "{what}: {body}");
                    assert!(!leaks_any(&body, &numbers), "{what}: a refusal names a customer: {body}");
                    if want == 303 {
                        assert!(location.starts_with("/login?next="), "{what}: to {location}");
                    }
                }
                None if route.access == Access::Open => {
                    open_statuses.insert(status);
                    assert!(!names_a_customer(&body), "{what}: an open route names a customer: {body}");
                }
                None => {
                    assert!(status != 401 && status != 403, "{what}: refused ({status}): {body}");
                    if route.access == Access::Customer {
                        assert!(!leaks_bravo(&body, &bravo_case), "{what}: customer A sees customer B: {body}");
                    }
                }
            }
        }
        if route.access == Access::Open {
            assert_eq!(open_statuses.len(), 1, "{} {path}: an open route answers the same to all", route.method);
        }
    }
    assert_eq!(tried, table.len() * CALLERS.len());

    // Customer A's token opens only customer A's page.
    let (status, body) = app.get_as("/status/cust-bravo", Some("alpha-token")).await;
    assert_eq!(status, 403);
    assert!(!leaks_any(&body.replace("/status/cust-bravo", "<path>"), &numbers), "{body}");
    assert_eq!(app.get_as("/status/cust-bravo", Some("bravo-token")).await.0, 200);
    app.stop().await;
}

/// The OpenAPI document lists exactly the table's API and operations routes, and each
/// operation's security says what the gate enforces.
#[test]
fn the_document_and_the_table_agree() {
    let document = serde_json::to_value(firstwatch::web::openapi_document()).expect("document");
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let schemes: BTreeSet<String> = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no security listed"))
                .iter()
                .flat_map(|req| req.as_object().expect("requirement").keys().cloned())
                .collect();
            documented.insert((method.to_uppercase(), path.clone(), schemes));
        }
    }
    let from_table: BTreeSet<(String, String, BTreeSet<String>)> = access::table()
        .iter()
        .filter(|r| r.path.starts_with("/api/") || ["/healthz", "/readyz", "/metrics"].contains(&r.path))
        .map(|r| {
            let schemes: &[&str] = match r.access {
                Access::Open | Access::Customer | Access::Link | Access::Signed => &[],
                Access::Metrics => &["metrics_token"],
                Access::Read => &["operator_token", "viewer_token", "session_cookie"],
                Access::Write => &["operator_token", "session_cookie"],
            };
            (r.method.to_string(), r.path.to_string(), schemes.iter().map(|s| s.to_string()).collect())
        })
        .collect();
    assert_eq!(documented, from_table);
}

/// Routes exist only in the table: no `.route(…)` anywhere else in the code, so a route cannot
/// be added without saying who may call it.
#[test]
fn no_route_is_added_outside_the_table() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"), &mut files);
    for file in files {
        if file.ends_with("web/access.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        for needle in [".route(", ".route_service(", ".nest(", ".nest_service(", ".merge("] {
            assert!(!text.contains(needle), "{}: `{needle}` outside web/access.rs", file.display());
        }
    }
}
