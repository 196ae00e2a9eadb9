//! The TOML file as written: a serde mirror of the shape in PRODUCT.md section 4.
//!
//! Owns only the file's *shape*: which keys exist, how they nest, and their TOML types. Every
//! table refuses unknown keys, so a typo (`tagret`) is an error instead of a silently ignored
//! setting. Values stay as written (durations and times as strings, numbers as `i64`) so that
//! `validate.rs` can check them and report the exact key path; serde would only say "invalid
//! value" without telling the operator which rule was broken.

use serde::Deserialize;

use super::ConfigError;

/// The whole file. Every section may be left out; `validate.rs` fills in the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Globs of more files holding `[[customers]]` entries, relative to this file.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub server: RawServerSection,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub probing: RawProbing,
    #[serde(default)]
    pub dns: RawDns,
    #[serde(default)]
    pub cases: RawCases,
    #[serde(default)]
    pub guard: RawGuard,
    #[serde(default)]
    pub notifications: RawNotifications,
    #[serde(default)]
    pub cluster: RawCluster,
    #[serde(default)]
    pub channels: Vec<RawChannel>,
    #[serde(default)]
    pub people: Vec<RawPerson>,
    #[serde(default)]
    pub schedules: Vec<RawSchedule>,
    /// `None` (absent) selects the default policy; `Some` replaces it entirely.
    pub escalation: Option<Vec<RawEscalation>>,
    #[serde(default)]
    pub customers: Vec<RawCustomer>,
    #[serde(default)]
    pub maintenance: Vec<RawMaintenance>,
}

/// An included file (`include = [...]`): `[[customers]]` entries and nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncluded {
    #[serde(default)]
    pub customers: Vec<RawCustomer>,
}

/// `[server]`: the HTTP listener and who may write through the API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerSection {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    #[serde(default)]
    pub operator_tokens: Vec<RawToken>,
    #[serde(default)]
    pub viewer_tokens: Vec<RawToken>,
    /// Also export per-server metric series (labels `server`, `customer`, `service`).
    pub per_server_metrics: Option<bool>,
    /// Bearer token `/metrics` asks for; open when absent.
    pub metrics_token: Option<String>,
    /// How long a page sign-in lasts (humantime).
    pub session_ttl: Option<String>,
    /// Peers (addresses or networks) whose first `X-Forwarded-For` hop names the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Client connections open at once.
    pub max_connections: Option<i64>,
}

/// An entry of `operator_tokens` / `viewer_tokens`: `"env:NAME"`, or
/// `{ name = "alice", token = "env:ALICE_TOKEN" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawToken {
    Plain(String),
    Named(RawNamedToken),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamedToken {
    pub name: String,
    pub token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Option<String>,
    pub write_behind: Option<String>,
    pub retention: Option<String>,
}

/// `[probing]`: the fleet-wide probe defaults plus fleet-only knobs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbing {
    pub interval: Option<String>,
    pub retry_interval: Option<String>,
    pub failure_threshold: Option<i64>,
    pub recovery_threshold: Option<i64>,
    pub timeout: Option<String>,
    pub expect_status: Option<Vec<i64>>,
    pub max_concurrency: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    #[serde(default)]
    pub servers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCases {
    pub ack_timeout: Option<String>,
    pub update_interval: Option<String>,
    pub reopen_window: Option<String>,
    pub auto_resolve: Option<bool>,
    #[serde(default)]
    pub feed: Vec<String>,
    #[serde(default)]
    pub response_targets: RawResponseTargets,
    #[serde(default)]
    pub business_hours: RawBusinessHours,
}

/// `[cases.response_targets]`: first response due within, per severity (humantime).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResponseTargets {
    pub severity_1: Option<String>,
    pub severity_2: Option<String>,
    pub severity_3: Option<String>,
}

/// `[cases.business_hours]`: the calendar Severity 2 and 3 targets count on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBusinessHours {
    /// IANA name.
    pub timezone: Option<String>,
    /// `mon` … `sun`.
    pub days: Option<Vec<String>>,
    /// `HH:MM`.
    pub start: Option<String>,
    /// `HH:MM`, up to `24:00`.
    pub end: Option<String>,
    /// Dates as quoted strings or bare TOML dates, hence [`toml::Value`] (like [`RawTime`]).
    #[serde(default)]
    pub holidays: Vec<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    #[serde(default)]
    pub canaries: Vec<String>,
    pub max_failing_fraction: Option<f64>,
}

/// `[cluster]`: several instances on one PostgreSQL.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub lease_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    pub max_retry_delay: Option<String>,
    pub give_up_after: Option<String>,
    pub attempt_timeout: Option<String>,
    pub test_on_handover: Option<bool>,
}

/// `[[channels]]`: `id`, `type` and the keys that type owns (read by `notify/<type>.rs`, which
/// refuses the keys it does not take).
#[derive(Debug, Deserialize)]
pub struct RawChannel {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub keys: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    pub id: String,
    /// Defaults to the id.
    pub name: Option<String>,
    pub role: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    pub channels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub role: String,
    pub rotation: String,
    pub start: RawTime,
    pub members: Vec<String>,
    #[serde(default)]
    pub overrides: Vec<RawOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    pub person: String,
    pub start: RawTime,
    pub end: RawTime,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    /// Defaults to `0s` for the first level and `[cases] ack_timeout` for later ones.
    pub after: Option<String>,
    pub page: Vec<String>,
    pub call_customer: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = CustomerEntry)]
#[serde(deny_unknown_fields)]
pub struct RawCustomer {
    /// In the inventory API it may be left out (the path's id); if given, it must equal it.
    pub id: String,
    /// Defaults to the id.
    pub name: Option<String>,
    /// Opens `/status/{id}`. Write-only in the inventory API: reads leave it out.
    pub status_token: Option<String>,
    #[serde(default)]
    pub contacts: Vec<RawContact>,
    #[serde(default)]
    pub services: Vec<RawService>,
    pub interval: Option<String>,
    pub retry_interval: Option<String>,
    pub failure_threshold: Option<i64>,
    pub recovery_threshold: Option<i64>,
    pub timeout: Option<String>,
    pub expect_status: Option<Vec<i64>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ContactEntry)]
#[serde(deny_unknown_fields)]
pub struct RawContact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    pub channels: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ServiceEntry)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub id: String,
    /// Defaults to the id.
    pub name: Option<String>,
    #[serde(default)]
    pub servers: Vec<RawServer>,
    pub interval: Option<String>,
    pub retry_interval: Option<String>,
    pub failure_threshold: Option<i64>,
    pub recovery_threshold: Option<i64>,
    pub timeout: Option<String>,
    pub expect_status: Option<Vec<i64>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ServerEntry)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub id: String,
    pub target: String,
    /// `primary` (default) or `secondary`.
    pub role: Option<String>,
    pub interval: Option<String>,
    pub retry_interval: Option<String>,
    pub failure_threshold: Option<i64>,
    pub recovery_threshold: Option<i64>,
    pub timeout: Option<String>,
    pub expect_status: Option<Vec<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub customer: Option<String>,
    pub server: Option<String>,
    pub start: RawTime,
    pub end: RawTime,
    pub reason: Option<String>,
}

/// A point in time as written: a quoted RFC 3339 string (as in PRODUCT.md) or a bare TOML
/// datetime (`start = 2026-12-01T02:00:00Z`), which operators write just as naturally.
/// Kept as a [`toml::Value`] so the validator reports a wrong type with the key path.
pub type RawTime = toml::Value;

/// The probing keys that `[probing]`, a customer, a service and a server may all set.
/// Borrowed from whichever level wrote them, so the validator treats the levels alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    pub interval: Option<&'a str>,
    pub retry_interval: Option<&'a str>,
    pub failure_threshold: Option<i64>,
    pub recovery_threshold: Option<i64>,
    pub timeout: Option<&'a str>,
    pub expect_status: Option<&'a [i64]>,
}

/// The four levels spell the override keys out (serde's `flatten` would break both
/// `deny_unknown_fields` and the error paths); this gives them one view.
macro_rules! overrides_view {
    ($($ty:ty),*) => {$(
        impl $ty {
            pub fn overrides(&self) -> Overrides<'_> {
                Overrides {
                    interval: self.interval.as_deref(),
                    retry_interval: self.retry_interval.as_deref(),
                    failure_threshold: self.failure_threshold,
                    recovery_threshold: self.recovery_threshold,
                    timeout: self.timeout.as_deref(),
                    expect_status: self.expect_status.as_deref(),
                }
            }
        }
    )*};
}

overrides_view!(RawProbing, RawCustomer, RawService, RawServer);

/// Parse the file's text into its raw shape.
///
/// A shape error (unknown key, wrong type, missing key) is reported at its key path, e.g.
/// `customers[1].services[0].servers[0].tagret`, with serde's message. A TOML syntax error has
/// no key path, so it is reported at its line and column instead.
pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    parse_as(text)
}

/// Parse the text as `T` (the main file, or an included one), errors at their key path.
pub fn parse_as<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|err| {
        let key_path = err.path().to_string();
        let inner = err.into_inner();
        // toml's messages may span lines ("invalid string\nexpected `\"`"); keep one line.
        let msg = inner.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        let path = if key_path == "." || key_path.is_empty() {
            inner.span().map_or_else(|| "(file)".to_string(), |span| line_and_column(text, span.start))
        } else {
            key_path
        };
        ConfigError { path, msg }
    })
}

/// `line L, column C` (both 1-based) of a byte offset, for errors that have no key path.
fn line_and_column(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}
