//! `/metrics` read as a Prometheus scraper would: a strict parser of the text format (0.0.4),
//! every family of PRODUCT.md section 7 with its type, help and zero series, values that move
//! as probes and cases happen, the opt-in per-server family, and the dashboard and alert rules
//! in the repository naming only metrics that exist.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use crate::helpers::app::{config_paging, server_keys, wait_until, Srv, TestApp};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"200ms\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";

/// PRODUCT.md section 7: every family, its type and its labels (without the prefix).
const FAMILIES: [(&str, &str, &[&str]); 20] = [
    ("probes_total", "counter", &["kind", "result"]),
    ("probe_duration_seconds", "histogram", &["kind"]),
    ("servers", "gauge", &["state"]),
    ("cases_open", "gauge", &["severity"]),
    ("cases_opened_total", "counter", &["severity"]),
    ("pages_total", "counter", &["role"]),
    ("escalations_total", "counter", &[]),
    ("customer_updates_total", "counter", &[]),
    ("notifications_total", "counter", &["channel", "outcome"]),
    ("notification_dead_letters_total", "counter", &[]),
    ("scheduler_lag_seconds", "histogram", &[]),
    ("sla_breaches_total", "counter", &["severity"]),
    ("monitor_degraded", "gauge", &[]),
    ("paging_unverified", "gauge", &[]),
    ("results_dropped_total", "counter", &["kind"]),
    ("shards_owned", "gauge", &[]),
    ("leader", "gauge", &[]),
    ("lease_takeovers_total", "counter", &[]),
    ("config_last_reload_successful", "gauge", &[]),
    ("config_last_reload_success_timestamp_seconds", "gauge", &[]),
];

/// The opt-in family (`[server] per_server_metrics = true`).
const SERVER_UP: &str = "firstwatch_server_up";

type Labels = BTreeMap<String, String>;

#[derive(Debug, Default)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    /// (sample name, labels, value), in order.
    samples: Vec<(String, Labels, f64)>,
}

#[derive(Debug)]
struct Scrape {
    families: BTreeMap<String, Family>,
}

fn is_name(s: &str, colons: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':');
    chars.next().is_some_and(first_ok) && chars.all(|c| first_ok(c) || c.is_ascii_digit())
}

/// `\\` and `\n` (HELP text); with `quotes`, also `\"` (label values).
fn unescape(s: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            other => return Err(format!("bad escape \\{other:?}")),
        }
    }
    Ok(out)
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|e| format!("bad value {s:?}: {e}")),
    }
}

/// `{a="x",b="y\"z"}` → labels, and the rest of the line after the closing brace.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Labels::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_name(name, false) || name.starts_with("__") {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, '\n') => return Err("newline in label value".to_string()),
                _ => {}
            }
        }
        let end = end.ok_or("unterminated label value")?;
        let value = unescape(&rest[..end], true)?;
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(format!("expected , or }} after label {name}"));
        }
    }
}

/// The family a sample belongs to, given the TYPEs seen: `x_bucket` → `x` for a histogram.
fn family_of<'a>(name: &'a str, families: &BTreeMap<String, Family>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if families.get(base).and_then(|f| f.kind.as_deref()).is_some_and(|k| k == "histogram" || k == "summary") {
                return base;
            }
        }
    }
    name
}

/// Parse a whole exposition strictly: every line a HELP, a TYPE, a comment or a sample; HELP and
/// TYPE at most once per family and before its samples; a family's samples together; no series
/// twice; histograms with `le` buckets ascending, cumulative and ending in `+Inf` = `_count`.
fn parse(text: &str) -> Result<Scrape, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut seen_series = HashSet::new();
    let mut closed: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    if !text.ends_with('\n') {
        return Err("the exposition must end with a newline".to_string());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        let switch = |name: &str, current: &mut Option<String>, closed: &mut HashSet<String>| {
            if current.as_deref() != Some(name) {
                if let Some(previous) = current.take() {
                    closed.insert(previous);
                }
                if closed.contains(name) {
                    return Err(format!("family {name} is split"));
                }
                *current = Some(name.to_string());
            }
            Ok(())
        };
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let keyword = words.next().unwrap_or("");
            if keyword != "HELP" && keyword != "TYPE" {
                continue; // a plain comment
            }
            let name = words.next().ok_or_else(|| at("no metric name".to_string()))?;
            if !is_name(name, true) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            let rest = words.next().unwrap_or("");
            switch(name, &mut current, &mut closed).map_err(at)?;
            let family = families.entry(name.to_string()).or_default();
            if !family.samples.is_empty() {
                return Err(at(format!("{keyword} after samples")));
            }
            if keyword == "HELP" {
                if family.help.replace(unescape(rest, false).map_err(at)?).is_some() {
                    return Err(at("HELP twice".to_string()));
                }
            } else {
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest) {
                    return Err(at(format!("unknown type {rest:?}")));
                }
                if family.kind.replace(rest.to_string()).is_some() {
                    return Err(at("TYPE twice".to_string()));
                }
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".to_string()))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (Labels::new(), &line[name_end..])
        };
        let mut fields = rest.strip_prefix(' ').ok_or_else(|| at("no space before the value".to_string()))?.split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(at)?;
        if let Some(timestamp) = fields.next() {
            timestamp.parse::<i64>().map_err(|e| at(format!("bad timestamp: {e}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".to_string()));
        }
        let family_name = family_of(name, &families).to_string();
        switch(&family_name, &mut current, &mut closed).map_err(at)?;
        if !seen_series.insert(format!("{name}{labels:?}")) {
            return Err(at("series twice".to_string()));
        }
        families.entry(family_name).or_default().samples.push((name.to_string(), labels, value));
    }
    for (name, family) in &families {
        if family.kind.as_deref() == Some("histogram") {
            check_histogram(name, family)?;
        }
    }
    Ok(Scrape { families })
}

fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    /// Per label set: the (le, count) buckets, the sum and the count.
    type Series = (Vec<(f64, f64)>, Option<f64>, Option<f64>);
    let mut series: BTreeMap<Labels, Series> = BTreeMap::new();
    for (sample, labels, value) in &family.samples {
        let mut key = labels.clone();
        let le = key.remove("le");
        let entry = series.entry(key).or_default();
        match (sample.strip_prefix(name), le) {
            (Some("_bucket"), Some(le)) => entry.0.push((parse_value(&le)?, *value)),
            (Some("_sum"), None) => entry.1 = Some(*value),
            (Some("_count"), None) => entry.2 = Some(*value),
            _ => return Err(format!("{name}: unexpected sample {sample} {labels:?}")),
        }
    }
    for (labels, (buckets, sum, count)) in series {
        let (Some(_), Some(count)) = (sum, count) else {
            return Err(format!("{name}{labels:?}: _sum or _count missing"));
        };
        if !buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1) {
            return Err(format!("{name}{labels:?}: buckets not ascending and cumulative"));
        }
        if buckets.last() != Some(&(f64::INFINITY, count)) {
            return Err(format!("{name}{labels:?}: the +Inf bucket must equal _count"));
        }
    }
    Ok(())
}

impl Scrape {
    fn family(&self, name: &str) -> &Family {
        self.families.get(name).unwrap_or_else(|| panic!("no family {name}"))
    }

    /// The value of one series; labels given as `[("kind", "http")]`.
    fn value(&self, sample: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.families.values().flat_map(|f| &f.samples).find(|(n, l, _)| n == sample && *l == want).map(|(_, _, v)| *v)
    }
}

/// `[server] metrics_token` of [`config`]; sent on every scrape (the endpoint is open when no
/// token is set).
const METRICS_TOKEN: &str = "metrics-secret";

async fn scrape(app: &TestApp) -> Scrape {
    let client = reqwest::Client::new();
    let request = client.get(format!("http://{}/metrics", app.addr)).bearer_auth(METRICS_TOKEN);
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.expect("body");
    parse(&text).unwrap_or_else(|e| panic!("not valid Prometheus text format: {e}\n{text}"))
}

async fn value_of(app: &TestApp, sample: &str, labels: &[(&str, &str)]) -> f64 {
    scrape(app).await.value(sample, labels).unwrap_or_else(|| panic!("no series {sample}{labels:?}"))
}

fn config(db: &str, target: &FakeTarget, per_server: bool) -> String {
    let text = config_paging(db, FAST, &[Srv::new("acme-eu-1", target.url())], "", "");
    if per_server {
        server_keys(&text, &format!("per_server_metrics = true\nmetrics_token = \"{METRICS_TOKEN}\""))
    } else {
        text
    }
}

#[test]
fn the_parser_is_strict() {
    let good = "# HELP a_total Things (count), with \\\\ and \\n.\n# TYPE a_total counter\n\
                a_total{x=\"q\\\"uote\\\\\",y=\"\"} 1\na_total{x=\"2\"} 2.5e3 1700000000000\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    let scrape = parse(good).expect("valid");
    assert_eq!(scrape.family("a_total").help.as_deref(), Some("Things (count), with \\ and \n."));
    assert_eq!(scrape.value("a_total", &[("x", "q\"uote\\"), ("y", "")]), Some(1.0));
    assert_eq!(scrape.value("a_total", &[("x", "2")]), Some(2500.0));
    for bad in [
        "a 1",                                       // no final newline
        "a{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\n",         // split family
        "a{x=1} 1\n",                                // unquoted label value
        "a{x=\"\\q\"} 1\n",                          // unknown escape
        "a{x=\"1\",x=\"2\"} 1\n",                    // label twice
        "a 1\na 2\n",                                // series twice
        "a one\n",                                   // not a number
        "a  1\n",                                    // two spaces
        "# TYPE a counter\n# TYPE a counter\na 1\n", // TYPE twice
        "# TYPE a wibble\n",                         // unknown type
        "a 1\n# HELP a late\n",                      // HELP after samples
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
        "1a 1\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_is_exported_with_its_type_and_moves_with_probes_and_cases() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&config(&db.url, &target, false)).await;

    let first = scrape(&app).await;
    for (name, kind, labels) in FAMILIES {
        let full = format!("firstwatch_{name}");
        let family = first.family(&full);
        assert_eq!(family.kind.as_deref(), Some(kind), "{full}");
        let help = family.help.as_deref().unwrap_or("");
        let unit = match kind {
            "histogram" => "(seconds)",
            _ if ["monitor_degraded", "leader", "config_last_reload_successful"].contains(&name) => "(boolean)",
            _ if name.ends_with("_timestamp_seconds") => "(Unix seconds)",
            _ => "(count)",
        };
        assert!(help.contains(unit), "{full}'s help names its unit {unit}: {help:?}");
        assert!(!family.samples.is_empty(), "{full} has a series before anything happened");
        for (sample, sample_labels, _) in &family.samples {
            let mut keys: Vec<&str> = sample_labels.keys().map(String::as_str).filter(|k| *k != "le").collect();
            keys.sort_unstable();
            let mut want = labels.to_vec();
            want.sort_unstable();
            assert_eq!(keys, want, "{sample}'s labels");
        }
        if kind == "histogram" {
            let names: HashSet<&str> = family.samples.iter().map(|(n, _, _)| n.as_str()).collect();
            for suffix in ["_bucket", "_sum", "_count"] {
                assert!(names.contains(format!("{full}{suffix}").as_str()), "{full}{suffix}");
            }
        }
    }
    assert!(!first.families.contains_key(SERVER_UP), "per-server series are opt-in");

    // Zero series for every known label value.
    for kind in ["http", "tcp", "dns"] {
        for result in ["success", "failure"] {
            assert!(first.value("firstwatch_probes_total", &[("kind", kind), ("result", result)]).is_some());
        }
        assert!(first.value("firstwatch_probe_duration_seconds_count", &[("kind", kind)]).is_some());
    }
    for state in ["unknown", "up", "failing", "down", "maintenance"] {
        assert!(first.value("firstwatch_servers", &[("state", state)]).is_some(), "servers{{state={state}}}");
    }
    for severity in ["1", "2", "3"] {
        for family in ["firstwatch_cases_open", "firstwatch_cases_opened_total", "firstwatch_sla_breaches_total"] {
            assert_eq!(first.value(family, &[("severity", severity)]), Some(0.0), "{family}{{{severity}}}");
        }
    }
    for role in ["operations-manager", "vp-operations"] {
        assert_eq!(first.value("firstwatch_pages_total", &[("role", role)]), Some(0.0));
    }
    for outcome in ["delivered", "retried", "dead_letter"] {
        assert!(first.value("firstwatch_notifications_total", &[("channel", "ops"), ("outcome", outcome)]).is_some());
    }
    assert_eq!(first.value("firstwatch_monitor_degraded", &[]), Some(0.0));
    let servers: f64 = first.family("firstwatch_servers").samples.iter().map(|(_, _, v)| v).sum();
    assert_eq!(servers, 1.0, "one server, in one state");

    // Healthy probes: counts, durations and lag move; the server is up.
    let ok = [("kind", "http"), ("result", "success")];
    let before = first.value("firstwatch_probes_total", &ok).unwrap_or(0.0);
    wait_until(Duration::from_secs(10), "probes counted", || async {
        let s = scrape(&app).await;
        s.value("firstwatch_probes_total", &ok).unwrap_or(0.0) >= before + 2.0
            && s.value("firstwatch_servers", &[("state", "up")]) == Some(1.0)
    })
    .await;
    let s = scrape(&app).await;
    assert!(s.value("firstwatch_probe_duration_seconds_count", &[("kind", "http")]).unwrap_or(0.0) >= 2.0);
    assert!(s.value("firstwatch_probe_duration_seconds_sum", &[("kind", "http")]).unwrap_or(0.0) > 0.0);
    assert!(s.value("firstwatch_scheduler_lag_seconds_count", &[]).unwrap_or(0.0) >= 2.0);

    // Failures: counted, the server goes down, a Severity 1 case opens and pages.
    target.set(Behavior::Status(500));
    let failed = [("kind", "http"), ("result", "failure")];
    wait_until(Duration::from_secs(10), "a case opened", || async {
        let s = scrape(&app).await;
        s.value("firstwatch_probes_total", &failed).unwrap_or(0.0) >= 3.0
            && s.value("firstwatch_servers", &[("state", "down")]) == Some(1.0)
            && s.value("firstwatch_servers", &[("state", "up")]) == Some(0.0)
            && s.value("firstwatch_cases_opened_total", &[("severity", "1")]) == Some(1.0)
            && s.value("firstwatch_cases_open", &[("severity", "1")]) == Some(1.0)
            && s.value("firstwatch_pages_total", &[("role", "operations-manager")]).unwrap_or(0.0) >= 1.0
    })
    .await;
    wait_until(Duration::from_secs(10), "a notification attempt", || async {
        let s = scrape(&app).await;
        let attempts: f64 = ["delivered", "retried", "dead_letter"]
            .iter()
            .filter_map(|o| s.value("firstwatch_notifications_total", &[("channel", "ops"), ("outcome", o)]))
            .sum();
        attempts >= 1.0
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_server_series_are_opt_in_and_follow_the_server() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&config(&db.url, &target, true)).await;
    let labels = [("server", "acme-eu-1"), ("customer", "acme"), ("service", "storefront")];

    // Per-server series name customers' servers: only the metrics token opens them.
    assert_eq!(app.get_as("/metrics", None).await.0, 401);
    let (status, body) = app.get_as("/metrics", Some("viewer-secret")).await;
    assert_eq!(status, 403);
    assert!(!body.contains("acme"), "{body}");
    let first = scrape(&app).await;
    let family = first.family(SERVER_UP);
    assert_eq!(family.kind.as_deref(), Some("gauge"));
    assert!(family.help.as_deref().is_some_and(|h| h.contains("(boolean)")));
    assert_eq!(family.samples.len(), 1, "one series per server");
    assert!(first.value("firstwatch_servers", &[("state", "up")]).is_some(), "the aggregates stay");

    wait_until(Duration::from_secs(10), "up", || async { value_of(&app, SERVER_UP, &labels).await == 1.0 }).await;
    target.set(Behavior::Status(500));
    wait_until(Duration::from_secs(10), "not up", || async { value_of(&app, SERVER_UP, &labels).await == 0.0 }).await;
    target.set(Behavior::Healthy);
    wait_until(Duration::from_secs(10), "up again", || async { value_of(&app, SERVER_UP, &labels).await == 1.0 }).await;
    app.stop().await;
}

/// Every `firstwatch_…` name in `text`, histogram suffixes folded to their family.
fn metric_names(text: &str) -> Vec<String> {
    let histograms: Vec<String> =
        FAMILIES.iter().filter(|(_, k, _)| *k == "histogram").map(|(n, _, _)| format!("firstwatch_{n}")).collect();
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("firstwatch_") {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(tail.len());
        let mut name = tail[..end].to_string();
        for h in &histograms {
            for suffix in ["_bucket", "_sum", "_count"] {
                if name == format!("{h}{suffix}") {
                    name = h.clone();
                }
            }
        }
        names.push(name);
        rest = &tail[end..];
    }
    names
}

fn known_names() -> HashSet<String> {
    FAMILIES.iter().map(|(n, _, _)| format!("firstwatch_{n}")).chain([SERVER_UP.to_string()]).collect()
}

fn repo_file(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn panels(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    for panel in value["panels"].as_array().into_iter().flatten() {
        out.push(panel.clone());
        panels(panel, out);
    }
}

#[test]
fn the_dashboard_imports_as_is_and_uses_only_real_metrics() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&repo_file("dashboards/firstwatch.json")).expect("dashboards/firstwatch.json is JSON");
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "schemaVersion");
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty() && u.len() <= 40));
    assert!(dashboard["id"].is_null(), "no instance id, so it imports anywhere");
    // The data source is a template variable, so the file works imported by hand and provisioned.
    let variables = dashboard["templating"]["list"].as_array().cloned().unwrap_or_default();
    assert!(
        variables
            .iter()
            .any(|v| v["type"] == "datasource" && v["name"] == "DS_PROMETHEUS" && v["query"] == "prometheus"),
        "a DS_PROMETHEUS data source variable"
    );

    let mut all = Vec::new();
    panels(&dashboard, &mut all);
    let known = known_names();
    let mut used = HashSet::new();
    let mut ids = HashSet::new();
    let mut queries = 0;
    for panel in all.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or("?");
        assert!(ids.insert(panel["id"].as_u64().unwrap_or_else(|| panic!("{title}: no id"))), "{title}: id twice");
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}'s datasource");
        assert!(panel["gridPos"]["w"].as_u64().is_some_and(|w| w > 0 && w <= 24), "{title}: gridPos");
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{title}: a target without expr"));
            assert!(target["refId"].is_string(), "{title}: refId");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr} uses no firstwatch metric");
            for name in names {
                assert!(known.contains(&name), "{title}: {expr} uses {name}, which does not exist");
                used.insert(name);
            }
            assert_eq!(expr.matches('(').count(), expr.matches(')').count(), "{title}: {expr}");
            queries += 1;
        }
    }
    assert!(queries >= 14, "{queries} queries");
    for (name, _, _) in FAMILIES {
        assert!(used.contains(&format!("firstwatch_{name}")), "no panel shows firstwatch_{name}");
    }
}

#[test]
fn the_alert_rules_use_only_real_metrics() {
    let rules = repo_file("deploy/prometheus/firstwatch-rules.yml");
    let known = known_names();
    let mut alerts = HashMap::new();
    let mut current = None;
    for line in rules.lines() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(name) = trimmed.strip_prefix("alert: ") {
            current = Some(name.trim().to_string());
            alerts.insert(name.trim().to_string(), Vec::new());
        }
        if let Some(alert) = &current {
            alerts.entry(alert.clone()).or_insert_with(Vec::new).push(trimmed.to_string());
        }
        if !line.trim_start().starts_with('#') {
            for name in metric_names(trimmed) {
                assert!(known.contains(&name), "{line}: {name} does not exist");
            }
        }
    }
    for alert in
        ["FirstwatchMonitorDegraded", "FirstwatchDeadLetters", "FirstwatchSchedulerLagHigh", "FirstwatchNoProbes"]
    {
        let lines = alerts.get(alert).unwrap_or_else(|| panic!("no alert {alert}"));
        for key in ["expr:", "severity:", "summary:", "description:", "runbook:"] {
            assert!(lines.iter().any(|l| l.starts_with(key)), "{alert} has no {key}");
        }
    }
    let config = repo_file("deploy/prometheus/prometheus.yml");
    assert!(config.contains("127.0.0.1:8080") && config.contains("firstwatch-rules.yml"));
}
