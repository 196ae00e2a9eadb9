//! The JSON API under a few hundred generated requests (deterministic pseudo-random): random
//! JSON, truncated JSON, wrong types, ~100 KB strings, unicode, NULs, deep nesting, odd case ids
//! and query strings, with no token, a wrong one and the right one. Never a 5xx, every error is
//! JSON `{"error": "…"}`, and the open case is untouched until a valid request is sent.

use std::time::{Duration, Instant};

use firstwatch::domain::CaseNumber;
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::app::{config_paging, server_keys, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";
const TOKEN: &str = "op-secret";
const VIEWER: &str = crate::helpers::app::VIEWER_TOKEN;
/// The whole run stays well under this.
const BUDGET: Duration = Duration::from_secs(20);

/// splitmix64: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const WORDS: [&str; 16] = [
    "",
    " ",
    "alice",
    "Failing over to the secondary",
    "ünïcödé ✓",
    "日本語のテキスト",
    "🔥💥🚒",
    "\u{202e}right-to-left\u{202c}",
    "e\u{301}\u{301}\u{301}",
    "\u{fffd}\u{ffff}",
    "a\u{0}b",
    "<script>alert(1)</script>",
    "'; DROP TABLE cases; --",
    "line\nbreak\ttab\r",
    "\\\"quoted\\\"",
    "FW-000001",
];

fn string(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "x".repeat(100_000),
        1 => "é".repeat(50_000),
        2 => " ".repeat(rng.below(200)),
        3 => (0..rng.below(40)).map(|_| char::from_u32(rng.below(0x2_0000) as u32).unwrap_or('?')).collect(),
        _ => rng.pick(&WORDS).to_string(),
    }
}

fn number(rng: &mut Rng) -> Value {
    match rng.below(7) {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(i64::MAX),
        3 => json!(u64::MAX),
        4 => json!(1e308),
        5 => json!(-0.5),
        _ => json!(rng.next() as i64),
    }
}

/// A random JSON value, at most `depth` levels deep.
fn value(rng: &mut Rng, depth: usize) -> Value {
    let kinds = if depth == 0 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => number(rng),
        3 | 4 => Value::String(string(rng)),
        5 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => {
            let keys = ["text", "actor", "server", "customer", "start", "end", "reason", "extra", ""];
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                map.insert(rng.pick(&keys).to_string(), value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

/// A body for `field`'s endpoint: shaped like the real one with one thing wrong, or anything.
fn body(rng: &mut Rng, fields: &[&str]) -> Option<String> {
    let text = match rng.below(12) {
        0 => return None,
        1 => String::new(),
        2 => value(rng, 3).to_string(),
        3 => {
            let full = value(rng, 3).to_string();
            let cut = rng.below(full.len().max(1));
            full.get(..cut).unwrap_or("{").to_string()
        }
        4 => format!("{}{}", "[".repeat(rng.below(5_000) + 200), "]".repeat(rng.below(3))),
        5 => "{\"text\": ".repeat(rng.below(300) + 129),
        6 => ["null", "[]", "{}", "\"text\"", "tru", "{,}", "{\"text\":\"a\",}", "\u{feff}{}", "0", "-"][rng.below(10)]
            .to_string(),
        _ => {
            // The right keys with random values (wrong types, huge or odd strings), maybe one more.
            let mut map = Map::new();
            for field in fields {
                if rng.chance(75) {
                    let v = if rng.chance(50) { Value::String(string(rng)) } else { value(rng, 2) };
                    map.insert(field.to_string(), v);
                }
            }
            if rng.chance(15) {
                map.insert("unexpected".to_string(), value(rng, 1));
            }
            Value::Object(map).to_string()
        }
    };
    Some(text)
}

/// Odd ids for the case paths, as they go into the URL (some already percent-encoded).
fn odd_id(rng: &mut Rng) -> String {
    let fixed = [
        "FW-0",
        "FW--1",
        "FW-",
        "fw-0",
        "0",
        "-1",
        "+1",
        "01",
        "1.0",
        "1e3",
        "FW-000002",
        "99999999",
        "9223372036854775807",
        "9223372036854775808",
        "%00",
        "%FF",
        "%C3%28",
        "..%2F..%2Fetc",
        "%2e%2e",
        "1%20",
        "%20FW-000001",
        "FW%2D000001",
        "fw-1",
        "FW-000001%00",
        "null",
        "%F0%9F%94%A5",
    ];
    match rng.below(8) {
        0 => "9".repeat(rng.below(4_000) + 20),
        1 => "FW-".to_string() + &"0".repeat(rng.below(60_000) + 1) + "1",
        _ => rng.pick(&fixed).to_string(),
    }
}

/// What `id` (as written in the URL) means to the server once percent-decoded, if UTF-8.
fn decoded(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if let Some(byte) = escaped.filter(|_| bytes[i] == b'%').and_then(|h| u8::from_str_radix(h, 16).ok()) {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Whether the server might accept `body` for `action` (conservative: when unsure, yes).
fn might_be_valid(action: &str, body: Option<&str>) -> bool {
    let body = body.unwrap_or("");
    if action != "notes" && body.bytes().all(|b| b.is_ascii_whitespace()) {
        return true;
    }
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    if has_nul(&Value::Object(map.clone())) {
        return false;
    }
    // No `actor`: who acts is the credential's name.
    let allowed: &[&str] = if action == "notes" { &["text"] } else { &[] };
    if !map.keys().all(|k| allowed.contains(&k.as_str())) {
        return false;
    }
    if action != "notes" {
        return true;
    }
    match map.get("text") {
        Some(Value::String(t)) => !t.trim().is_empty() && t.trim().chars().count() <= 4000,
        _ => false,
    }
}

/// The test's view of an answer.
struct Answer {
    status: u16,
    body: String,
}

struct Client {
    http: reqwest::Client,
    base: String,
    sent: usize,
}

impl Client {
    async fn send(&mut self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
        self.sent += 1;
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        // Each request "from" its own client (the loopback is a trusted proxy), so the wrong
        // tokens sent on purpose do not lock the rest out.
        request = request.header("X-Forwarded-For", format!("10.7.{}.{}", self.sent / 250, self.sent % 250 + 1));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        let short: String = path.chars().take(120).collect();
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {short}: no answer: {e:?}"));
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let text = response.text().await.unwrap_or_else(|e| panic!("{method} {short}: body: {e}"));
        let what = || {
            let sent: String = body.unwrap_or("").chars().take(200).collect();
            format!(
                "{method} {short} (token {token:?}, body {sent:?}) -> {status} {}",
                text.chars().take(300).collect::<String>()
            )
        };
        assert!(status < 500, "server error: {}", what());
        if status >= 400 {
            assert!(content_type.starts_with("application/json"), "non-JSON error ({content_type:?}): {}", what());
            let parsed: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("error body not JSON ({e}): {}", what()));
            assert!(parsed["error"].as_str().is_some_and(|e| !e.is_empty()), "no error string: {}", what());
            assert_eq!(parsed.as_object().map(Map::len), Some(1), "only `error`: {}", what());
        }
        Answer { status, body: text }
    }
}

fn config(db: &str, target: &FakeTarget) -> String {
    let text = config_paging(db, FAST, &[Srv::new("acme-eu-1", target.url())], "", "");
    server_keys(&text, "trusted_proxies = [\"127.0.0.1\"]")
}

/// The parts of the case an operator's call could change.
async fn snapshot(app: &TestApp) -> Value {
    let detail = app.get_json("/api/v1/cases/FW-000001").await;
    json!({
        "status": detail["case"]["status"],
        "severity": detail["case"]["severity"],
        "timeline": detail["timeline"],
    })
}

async fn fuzz(backend: Backend) {
    let db = TestDb::new(backend).await;
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let app = TestApp::spawn(&config(&db.url, &target)).await;
    wait_until(Duration::from_secs(10), "a case", || async {
        app.get_json("/api/v1/cases?status=open").await["cases"].as_array().is_some_and(|c| !c.is_empty())
    })
    .await;
    let before = snapshot(&app).await;
    assert_eq!(before["status"], "open");

    let started = Instant::now();
    let mut rng = Rng(0x5eed_f1a5_7a7c_4e11);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut client = Client { http, base: format!("http://{}", app.addr), sent: 0 };
    let tokens = [None, Some("wrong"), Some(VIEWER), Some(TOKEN), Some(TOKEN), Some(TOKEN)];
    let actions = ["ack", "notes", "resolve", "close"];
    let mut refused_valid_shape = 0;

    // Case actions: generated bodies and ids, every token.
    for round in 0..320 {
        let action = *rng.pick(&actions);
        let token = *rng.pick(&tokens);
        let id = if rng.chance(60) { rng.pick(&["1", "FW-000001", "fw-1"]).to_string() } else { odd_id(&mut rng) };
        let fields: &[&str] = if action == "notes" { &["text", "actor"] } else { &["actor"] };
        let body = body(&mut rng, fields);
        let is_the_case = decoded(&id).and_then(|d| d.parse::<CaseNumber>().ok()) == Some(CaseNumber(1));
        if token == Some(TOKEN) && is_the_case && might_be_valid(action, body.as_deref()) {
            refused_valid_shape += 1;
            continue; // would change the case: the valid calls come at the end
        }
        let answer = client.send(Method::POST, &format!("/api/v1/cases/{id}/{action}"), token, body.as_deref()).await;
        let sent: String = body.as_deref().unwrap_or("").chars().take(200).collect();
        assert!(answer.status >= 400, "round {round}: {action} {id:.80} {sent:?} was accepted: {}", answer.status);
        // The token is checked first, on every path that reaches a handler (`%2e%2e` is `..` to
        // the URL parser, so some paths land on the 404 fallback instead).
        let routed = answer.body != r#"{"error":"no such page"}"#;
        match token {
            None if routed => assert_eq!(answer.status, 401, "{id:.80}: {}", answer.body),
            Some("wrong") | Some(VIEWER) if routed => assert_eq!(answer.status, 403, "{id:.80}: {}", answer.body),
            _ => {}
        }
    }

    // Maintenance: generated bodies; none names a real server with real times, so none is valid.
    let window_fields = ["customer", "server", "start", "end", "reason", "actor"];
    for _ in 0..80 {
        let token = *rng.pick(&tokens);
        let mut body = body(&mut rng, &window_fields);
        if rng.chance(30) {
            // Real target, one field broken.
            let mut good =
                json!({"server": "acme-eu-1", "start": "2020-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"});
            let key = *rng.pick(&["server", "start", "end", "reason", "actor", "customer"]);
            let broken = match key {
                "reason" => Value::String("r".repeat(501)),
                "actor" => Value::String(if rng.chance(50) { " ".to_string() } else { "a".repeat(101) }),
                "customer" => json!("acme"),
                _ => value(&mut rng, 1),
            };
            good[key] = broken;
            body = Some(good.to_string());
        }
        let answer = client.send(Method::POST, "/api/v1/maintenance", token, body.as_deref()).await;
        assert!(answer.status >= 400, "an invalid window was accepted: {}", answer.body);
    }

    // Odd query strings and ids on the GET endpoints.
    let queries = [
        "",
        "?",
        "?&&&",
        "?=",
        "?status=",
        "?status",
        "?status=open&status=all",
        "?status=nonsense",
        "?foo=bar",
        "?status=%FF",
        "?status=open%00",
        "?status[]=open",
        "?status=ALL",
        "?status=%20open",
        "?%00=1",
        "?status=🔥",
    ];
    for path in ["/api/v1/cases", "/api/v1/servers", "/api/v1/maintenance", "/api/v1/dead-letters", "/healthz"] {
        for query in queries {
            let answer = client.send(Method::GET, &format!("{path}{query}"), Some(VIEWER), None).await;
            if answer.status == 200 {
                serde_json::from_str::<Value>(&answer.body).unwrap_or_else(|e| panic!("{path}{query}: {e}"));
            }
        }
        let long = format!("{path}?status={}", "a".repeat(30_000));
        client.send(Method::GET, &long, Some(VIEWER), None).await;
    }
    for _ in 0..40 {
        let id = odd_id(&mut rng);
        let answer = client.send(Method::GET, &format!("/api/v1/cases/{id}"), Some(VIEWER), None).await;
        assert!(answer.status == 200 || answer.status == 400 || answer.status == 404, "{id}: {}", answer.status);
    }
    for path in
        ["/api/v1/cases/../../etc/passwd", "/api/v1/cases/%2e%2e/%2e%2e", "/api/v1/cases/1/ack/more", "/api/v2/cases"]
    {
        client.send(Method::GET, path, Some(VIEWER), None).await;
        client.send(Method::POST, path, Some(TOKEN), Some("{}")).await;
    }

    // Wrong methods and bodies over the size limit are JSON errors too.
    for (method, path) in [
        (Method::GET, "/api/v1/cases/1/ack"),
        (Method::DELETE, "/api/v1/cases/1"),
        (Method::PUT, "/api/v1/maintenance"),
        (Method::POST, "/api/v1/servers"),
    ] {
        let answer = client.send(method, path, Some(TOKEN), None).await;
        assert_eq!(answer.status, 405, "{path}");
    }
    // 2 MiB: over the 1 MiB limit.
    let huge = format!("{{\"text\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    for action in actions {
        let answer = client.send(Method::POST, &format!("/api/v1/cases/1/{action}"), Some(TOKEN), Some(&huge)).await;
        assert_eq!(answer.status, 413, "{action}");
    }
    let answer = client.send(Method::POST, "/api/v1/maintenance", Some(TOKEN), Some(&huge)).await;
    assert_eq!(answer.status, 413);

    let elapsed = started.elapsed();
    assert!(elapsed < BUDGET, "{} requests took {elapsed:?}", client.sent);
    assert!(client.sent > 400, "a few hundred requests: {}", client.sent);
    assert!(refused_valid_shape < 100, "most generated calls are sent: {refused_valid_shape} held back");

    // Nothing changed: same status, same timeline, no window.
    assert_eq!(snapshot(&app).await, before, "invalid calls changed the case");
    assert_eq!(app.get_json("/api/v1/maintenance").await["windows"], json!([]));

    // Valid calls do change it (the same client, so the checks above were live).
    let answer = client.send(Method::POST, "/api/v1/cases/fw-1/ack", Some(TOKEN), Some("  ")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let text = "ünïcödé 🔥 ".repeat(300);
    let note = json!({"text": text}).to_string();
    let answer = client.send(Method::POST, "/api/v1/cases/FW-000001/notes", Some(TOKEN), Some(&note)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let after = snapshot(&app).await;
    assert_eq!(after["status"], "in_progress");
    let last = after["timeline"].as_array().and_then(|t| t.last()).cloned().unwrap_or_default();
    assert_eq!(last["text"].as_str(), Some(text.trim()));
    app.stop().await;
}

on_both_backends!(fuzz);
