//! Tests of loading a configuration: the shape (`raw.rs`), every validation rule with its
//! exact key path and message (`validate.rs`), the shipped example file and the summary.
//! Secrets come from a fake lookup, never from the process environment.

use std::time::{Duration, SystemTime};

use super::summary::summary;
use super::*;

mod cases;
mod rules;

/// The variables the example file and the tests reference.
fn fake_env(name: &str) -> Option<String> {
    let value = match name {
        "FIRSTWATCH_OPERATOR_TOKEN" => "op-token",
        "FIRSTWATCH_WEBHOOK_SECRET" => "hook-secret",
        "FIRSTWATCH_ACME_TOKEN" => "acme-token",
        "FIRSTWATCH_GLOBEX_TOKEN" => "globex-token",
        "FIRSTWATCH_EMPTY" => "",
        _ => return None,
    };
    Some(value.to_string())
}

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_toml(text, fake_env)
}

fn loaded(text: &str) -> Config {
    match load(text) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

/// Every error of `text` as `path: msg` lines.
fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors, the config validated:\n{text}"),
        Err(ConfigErrors(list)) => list.iter().map(ToString::to_string).collect(),
    }
}

/// The single error of `text`.
fn error(text: &str) -> String {
    let mut list = errors(text);
    assert_eq!(list.len(), 1, "expected exactly one error, got {list:#?}");
    list.remove(0)
}

fn at(rfc3339: &str) -> SystemTime {
    humantime::parse_rfc3339(rfc3339).expect("test times are valid")
}

/// PRODUCT.md section 4, plus a second customer with probing overrides at every level.
const FULL: &str = r#"
[server]
listen = "127.0.0.1:8080"
operator_tokens = ["env:FIRSTWATCH_OPERATOR_TOKEN"]

[database]
url = "sqlite://data/firstwatch.db"

[probing]
interval = "15m"
retry_interval = "1m"
failure_threshold = 10
recovery_threshold = 2
timeout = "10s"

[cases]
ack_timeout = "2h"
update_interval = "1h"
reopen_window = "1h"
auto_resolve = true
feed = ["ops-webhook"]

[guard]
canaries = ["tcp://127.0.0.1:9"]
max_failing_fraction = 0.5

[[channels]]
id = "ops-webhook"
type = "webhook"
url = "http://127.0.0.1:9000/hook"
secret = "env:FIRSTWATCH_WEBHOOK_SECRET"

[[people]]
id = "alice"
name = "Alice Example"
role = "operations-manager"
channels = ["ops-webhook"]

[[people]]
id = "victor"
name = "Victor Example"
role = "vp-operations"
channels = ["ops-webhook"]

[[schedules]]
role = "operations-manager"
rotation = "1w"
start = "2026-01-05T09:00:00Z"
members = ["alice"]

[[escalation]]
after = "0s"
page = ["role:operations-manager"]

[[escalation]]
after = "2h"
page = ["role:vp-operations"]
call_customer = true

[[customers]]
id = "acme"
name = "Acme Corp"
status_token = "env:FIRSTWATCH_ACME_TOKEN"
contacts = [{ name = "Jane Doe", email = "jane@acme.test", phone = "+15550100", channels = ["ops-webhook"] }]

[[customers.services]]
id = "storefront"
name = "Storefront"

[[customers.services.servers]]
id = "acme-eu-1"
target = "https://shop.acme.test/health"
role = "primary"

[[customers.services.servers]]
id = "acme-eu-2"
target = "https://shop2.acme.test/health"
role = "secondary"

[[customers]]
id = "globex"
interval = "5m"
failure_threshold = 3

[[customers.services]]
id = "api"
retry_interval = "30s"
expect_status = [200, 204]

[[customers.services.servers]]
id = "globex-1"
target = "tcp://127.0.0.1:5432"
timeout = "2s"
recovery_threshold = 4

[[customers.services.servers]]
id = "globex-2"
target = "dns://globex.test"

[[maintenance]]
customer = "acme"
start = "2026-12-01T02:00:00Z"
end = "2026-12-01T04:00:00Z"
"#;

/// A valid base for error tests: two customers so `customers[1]` paths can be exercised.
const BASE: &str = r#"
[[channels]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9000/hook"

[[people]]
id = "alice"
role = "operations-manager"
channels = ["ops"]

[[people]]
id = "victor"
role = "vp-operations"

[[customers]]
id = "acme"

[[customers.services]]
id = "web"

[[customers.services.servers]]
id = "acme-1"
target = "http://127.0.0.1:8081/health"

[[customers]]
id = "globex"

[[customers.services]]
id = "api"

[[customers.services.servers]]
id = "globex-1"
target = "tcp://127.0.0.1:5432"
"#;

/// `BASE` with `extra` appended (top-level keys must go in `prefix` instead).
fn base_with(prefix: &str, extra: &str) -> String {
    format!("{prefix}\n{BASE}\n{extra}")
}

#[test]
fn full_config_loads_with_its_values() {
    let c = loaded(FULL);
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.server.operator_tokens.iter().map(|t| t.token.expose()).collect::<Vec<_>>(), ["op-token"]);
    assert_eq!(c.database.url.expose(), "sqlite://data/firstwatch.db");
    assert_eq!(c.database.write_behind, defaults::WRITE_BEHIND);
    assert_eq!(c.probing.defaults.interval, Duration::from_secs(900));
    assert_eq!(c.probing.max_concurrency, defaults::MAX_CONCURRENCY);
    assert_eq!(c.cases.ack_timeout, Duration::from_secs(7200));
    assert_eq!(c.cases.feed, ["ops-webhook"]);
    assert_eq!(c.guard.canaries, vec![Target::Tcp { host: "127.0.0.1".into(), port: 9 }]);
    assert_eq!(c.guard.max_failing_fraction, 0.5);
    assert_eq!(c.channels.len(), 1);
    let hook = &c.channels[0];
    let ChannelSettings::Webhook(settings) = &hook.settings else {
        panic!("a webhook channel, not {:?}", hook.kind());
    };
    assert_eq!(settings.url.as_str(), "http://127.0.0.1:9000/hook");
    assert_eq!(settings.secret.as_ref().map(Secret::expose), Some("hook-secret"));
    assert_eq!(
        c.people.iter().map(|p| (p.id.as_str(), p.role.as_str())).collect::<Vec<_>>(),
        [("alice", "operations-manager"), ("victor", "vp-operations")]
    );
    assert_eq!(c.schedules[0].start, at("2026-01-05T09:00:00Z"));
    assert_eq!(c.schedules[0].rotation, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(c.escalation.len(), 2);
    assert_eq!(c.escalation[1].after, Duration::from_secs(7200));
    assert_eq!(c.escalation[1].page, [Recipient::Role("vp-operations".into())]);
    assert!(c.escalation[1].call_customer && !c.escalation[0].call_customer);
    let acme = &c.customers[0];
    assert_eq!(acme.status_token.as_ref().map(Secret::expose), Some("acme-token"));
    assert_eq!(acme.contacts[0].phone.as_deref(), Some("+15550100"));
    let roles: Vec<_> = acme.services[0].servers.iter().map(|s| s.role).collect();
    assert_eq!(roles, [ServerRole::Primary, ServerRole::Secondary]);
    assert_eq!(*acme.services[0].servers[0].probe, c.probing.defaults);
    assert_eq!(c.maintenance[0].scope, MaintenanceScope::Customer("acme".into()));
    assert_eq!(
        (c.maintenance[0].start, c.maintenance[0].end),
        (at("2026-12-01T02:00:00Z"), at("2026-12-01T04:00:00Z"))
    );
}

#[test]
fn nearest_override_wins() {
    let c = loaded(FULL);
    let globex = &c.customers[1];
    assert_eq!(globex.name, "globex", "the name defaults to the id");
    let one = &globex.services[0].servers[0].probe;
    assert_eq!(one.interval, Duration::from_secs(300), "customer");
    assert_eq!(one.failure_threshold, 3, "customer");
    assert_eq!(one.retry_interval, Duration::from_secs(30), "service");
    assert_eq!(one.expect_status, ExpectStatus::OneOf(vec![200, 204]), "service");
    assert_eq!(one.timeout, Duration::from_secs(2), "server");
    assert_eq!(one.recovery_threshold, 4, "server");
    let two = &globex.services[0].servers[1].probe;
    assert_eq!((two.timeout, two.recovery_threshold), (Duration::from_secs(10), 2), "[probing]");
}

#[test]
fn example_file_validates() {
    let c = loaded(include_str!("../../config/firstwatch.toml"));
    assert_eq!(c.customers.len(), 2);
    assert!(c.fleet().all(|fs| fs.server.target.to_string().contains("127.0.0.1")));
    assert_eq!(c.escalation.len(), 2);
    assert_eq!(c.maintenance.len(), 2);
    let text = summary(&c);
    assert!(text.starts_with("customers: 2, services: 3, servers: 5 (3 primary, 2 secondary)\n"));
    let missing = Config::from_toml(include_str!("../../config/firstwatch.toml"), |_| None);
    let missing = missing.err().map(|e| e.0.len());
    assert_eq!(missing, Some(4), "the example references four environment variables");
}

#[test]
fn empty_file_takes_every_default() {
    let c = loaded("");
    assert_eq!(c.server.listen.to_string(), defaults::LISTEN);
    assert!(c.server.operator_tokens.is_empty());
    assert_eq!(c.database.url.expose(), defaults::DATABASE_URL);
    assert_eq!(c.probing.defaults.interval, defaults::INTERVAL);
    assert_eq!(c.probing.defaults.retry_interval, defaults::RETRY_INTERVAL);
    assert_eq!(c.probing.defaults.failure_threshold, defaults::FAILURE_THRESHOLD);
    assert_eq!(c.probing.defaults.expect_status, ExpectStatus::AnySuccess);
    assert_eq!(c.notifications.give_up_after, defaults::GIVE_UP_AFTER);
    assert!(c.guard.canaries.is_empty() && c.dns.servers.is_empty() && c.customers.is_empty());
    assert!(c.escalation.is_empty(), "no people: no default level can page anyone");
}

#[test]
fn default_escalation_keeps_levels_someone_can_take() {
    let c = loaded("[cases]\nack_timeout = \"30m\"\n[[people]]\nid = \"alice\"\nrole = \"operations-manager\"\n");
    assert_eq!(c.escalation.len(), 1);
    assert_eq!(c.escalation[0].after, Duration::ZERO);
    assert_eq!(c.escalation[0].page, [Recipient::Role("operations-manager".into())]);
    let c = loaded(&base_with("[cases]\nack_timeout = \"30m\"", ""));
    assert_eq!(c.escalation.len(), 2);
    assert_eq!((c.escalation[1].after, c.escalation[1].call_customer), (Duration::from_secs(1800), true));
}

#[test]
fn escalation_after_defaults_per_level() {
    let extra = "[[escalation]]\npage = [\"person:alice\"]\n[[escalation]]\npage = [\"role:vp-operations\"]\n";
    let c = loaded(&base_with("[cases]\nack_timeout = \"45m\"", extra));
    assert_eq!(c.escalation[0].after, Duration::ZERO);
    assert_eq!(c.escalation[0].page, [Recipient::Person("alice".into())]);
    assert_eq!(c.escalation[1].after, Duration::from_secs(45 * 60));
}

#[test]
fn summary_counts_and_groups() {
    let text = summary(&loaded(FULL));
    let expected = "\
customers: 2, services: 2, servers: 4 (3 primary, 1 secondary)
channels: 1 (1 webhook)
people: 2, schedules: 1, escalation levels: 2, maintenance windows: 1
database: sqlite (sqlite://data/firstwatch.db)
listen: 127.0.0.1:8080
access: 1 operator and 0 viewer tokens, sessions last 12h, /metrics open, at most 1024 connections
probing (effective settings per server):
  2 servers: interval 15m, retry 1m, threshold 10, timeout 10s
    an outage is confirmed within 9m 10s of the first failed request (10 requests 1m apart, each allowed 10s) \
and pages role:operations-manager within about 9m 11s; role:vp-operations is paged 2h later if nobody acknowledges. \
The first failed request comes up to 15m after the outage starts.
  1 server: interval 5m, retry 30s, threshold 3, timeout 2s
    an outage is confirmed within 1m 2s of the first failed request (3 requests 30s apart, each allowed 2s) \
and pages role:operations-manager within about 1m 3s; role:vp-operations is paged 2h later if nobody acknowledges. \
The first failed request comes up to 5m after the outage starts.
  1 server: interval 5m, retry 30s, threshold 3, timeout 10s
    an outage is confirmed within 1m 10s of the first failed request (3 requests 30s apart, each allowed 10s) \
and pages role:operations-manager within about 1m 11s; role:vp-operations is paged 2h later if nobody acknowledges. \
The first failed request comes up to 5m after the outage starts.
";
    assert_eq!(text, expected);
    let pg = summary(&loaded("[database]\nurl = \"postgresql://fw:hunter2@db.test:5433/fw\""));
    assert!(pg.contains("database: postgres (db.test:5433/fw)\n") && !pg.contains("hunter2"), "{pg}");
    assert!(pg.contains("  no servers\n"), "{pg}");
}

#[test]
fn operator_and_viewer_tokens_may_be_named_and_an_unnamed_one_is_called_by_its_role() {
    let server = r#"[server]
operator_tokens = ["env:FIRSTWATCH_OPERATOR_TOKEN", { name = "alice", token = "alice-token" }]
viewer_tokens = [{ name = "wallboard", token = "wall-token" }, "plain-viewer"]
"#;
    let c = loaded(&base_with(server, ""));
    let names = |tokens: &[crate::config::NamedToken]| tokens.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&c.server.operator_tokens), ["operator", "alice"]);
    assert_eq!(names(&c.server.viewer_tokens), ["wallboard", "viewer"]);
    assert_eq!(crate::config::token_name(&c.server.operator_tokens, "alice-token"), Some("alice"));
    assert_eq!(crate::config::token_name(&c.server.operator_tokens, "op-token"), Some("operator"));
    assert_eq!(crate::config::token_name(&c.server.operator_tokens, "wall-token"), None, "a viewer is no operator");
    assert_eq!(crate::config::token_name(&c.server.viewer_tokens, "alice-toke"), None);
}

#[test]
fn a_token_listed_twice_or_an_empty_name_is_refused_with_its_key_path() {
    let twice = "[server]\noperator_tokens = [\"same\"]\nviewer_tokens = [\"other\", \"same\"]\n";
    assert_eq!(
        error(&base_with(twice, "")),
        "server.viewer_tokens[1]: the same token as server.operator_tokens[0]; every token must differ"
    );
    let unnamed = "[server]\noperator_tokens = [{ name = \" \", token = \"t\" }]\n";
    assert_eq!(error(&base_with(unnamed, "")), "server.operator_tokens[0].name: must be 1 to 100 characters");
}

#[test]
fn server_access_keys_have_defaults_and_are_checked_at_their_key_path() {
    let c = loaded(&base_with("", ""));
    assert_eq!(c.server.session_ttl, Duration::from_secs(12 * 3600));
    assert_eq!(c.server.max_connections, 1024);
    assert!(c.server.metrics_token.is_none() && c.server.trusted_proxies.is_empty());

    let set = "[server]\nsession_ttl = \"30m\"\nmax_connections = 64\nmetrics_token = \"m\"\n\
               trusted_proxies = [\"10.0.0.0/8\", \"::1\", \"192.168.1.7/24\"]\nper_server_metrics = true\n";
    let c = loaded(&base_with(set, ""));
    assert_eq!((c.server.session_ttl, c.server.max_connections), (Duration::from_secs(1800), 64));
    let nets: Vec<String> = c.server.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(nets, ["10.0.0.0/8", "::1/128", "192.168.1.0/24"]);

    assert_eq!(
        error(&base_with("[server]\nper_server_metrics = true\n", "")),
        "server.per_server_metrics: needs server.metrics_token: per-server series name every customer's servers"
    );
    assert_eq!(
        error(&base_with("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", "")),
        "server.trusted_proxies[0]: must be an IP address or a network like 10.0.0.0/8, got \"10.0.0.0/33\""
    );
    assert_eq!(
        error(&base_with("[server]\nmax_connections = 0\n", "")),
        "server.max_connections: must be between 1 and 65536, got 0"
    );
    assert!(error(&base_with("[server]\nsession_ttl = \"soon\"\n", "")).starts_with("server.session_ttl: "));
}
