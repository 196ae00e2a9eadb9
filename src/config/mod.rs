//! Configuration: `raw.rs` mirrors the TOML file (serde, unknown keys refused), `validate.rs`
//! turns it into the types below, with every error carrying its key path. Nothing else in the
//! crate reads TOML; everything else trusts these types.

pub mod defaults;
pub mod detection;
mod include;
mod raw;
/// The shape of one `[[customers]]` entry as written (the inventory API's body).
pub use raw::{RawContact, RawCustomer, RawServer, RawService};
pub mod summary;
#[cfg(test)]
mod tests;
mod validate;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::domain::Target;
pub use crate::domain::{constant_time_eq, Secret};
pub use crate::notify::registry::{ChannelKind, ChannelSettings};

/// A refused configuration: the key path (`customers[1].services[0].servers[0].target`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {msg}")]
pub struct ConfigError {
    pub path: String,
    pub msg: String,
}

/// All errors found in one file, reported together so an operator fixes them in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// The validated configuration. Built only by [`Config::load`] / [`Config::from_toml`].
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub probing: ProbingConfig,
    pub dns: DnsConfig,
    pub cases: CasesConfig,
    pub guard: GuardConfig,
    pub notifications: NotificationsConfig,
    pub cluster: ClusterConfig,
    pub channels: Vec<Channel>,
    pub people: Vec<Person>,
    pub schedules: Vec<Schedule>,
    pub escalation: Vec<EscalationLevel>,
    pub customers: Vec<Arc<Customer>>,
    pub maintenance: Vec<MaintenanceWindow>,
    /// The file it was read from (`None` for text): what a reload reads again.
    pub file: Option<std::path::PathBuf>,
}

/// A credential with the name recorded as the actor of what it does (`operator` or `viewer`
/// for an entry given as a bare string).
#[derive(Debug, Clone)]
pub struct NamedToken {
    pub name: String,
    pub token: Secret,
}

/// Which name, if any, `presented` belongs to among `tokens`. Every entry is compared in
/// constant time, so the answer's timing says nothing about which one matched or how closely.
pub fn token_name<'a>(tokens: &'a [NamedToken], presented: &str) -> Option<&'a str> {
    let mut found = None;
    for t in tokens {
        if constant_time_eq(t.token.expose().as_bytes(), presented.as_bytes()) && found.is_none() {
            found = Some(t.name.as_str());
        }
    }
    found
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Credentials that may read and write (API, pages).
    pub operator_tokens: Vec<NamedToken>,
    /// Credentials that may only read.
    pub viewer_tokens: Vec<NamedToken>,
    /// Base of links in notifications (`http://status.example.com`); default `http://<listen>`.
    pub public_url: String,
    /// Export `firstwatch_server_up{server,customer,service}` besides the aggregates; off by
    /// default because its series grow with the fleet. Requires `metrics_token`.
    pub per_server_metrics: bool,
    /// When set, `/metrics` asks for this bearer token.
    pub metrics_token: Option<Secret>,
    /// How long a page sign-in lasts.
    pub session_ttl: Duration,
    /// Peers whose first `X-Forwarded-For` hop is taken as the client address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Client connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://…`; a secret because it may carry a password.
    pub url: Secret,
    /// How long results may sit in memory before being written in one batch.
    pub write_behind: Duration,
    /// How long roll-ups and failure rows are kept.
    pub retention: Duration,
}

/// The `[probing]` section: fleet-wide defaults plus the knobs that only exist fleet-wide.
#[derive(Debug, Clone)]
pub struct ProbingConfig {
    pub defaults: ProbeSettings,
    pub max_concurrency: usize,
}

/// The settings a status request runs with; resolved per server (nearest override wins).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    pub interval: Duration,
    pub retry_interval: Duration,
    pub failure_threshold: u32,
    pub recovery_threshold: u32,
    pub timeout: Duration,
    pub expect_status: ExpectStatus,
}

/// Which HTTP statuses count as success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectStatus {
    AnySuccess,
    OneOf(Vec<u16>),
}

impl ExpectStatus {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            ExpectStatus::AnySuccess => (200..300).contains(&status),
            ExpectStatus::OneOf(list) => list.contains(&status),
        }
    }
}

/// The `[dns]` section: which resolvers name look-ups use (empty: the system's).
#[derive(Debug, Clone, Default)]
pub struct DnsConfig {
    pub servers: Vec<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct CasesConfig {
    pub ack_timeout: Duration,
    pub update_interval: Duration,
    pub reopen_window: Duration,
    pub auto_resolve: bool,
    /// Channel ids that receive every case event.
    pub feed: Vec<String>,
    /// First-response targets per severity and the business calendar they count on.
    pub response_targets: crate::cases::sla::ResponseTargets,
}

#[derive(Debug, Clone)]
pub struct GuardConfig {
    pub canaries: Vec<Target>,
    pub max_failing_fraction: f64,
}

/// `[cluster]` (PRODUCT.md section 12).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// How long a shard or leader lease lasts without renewal; renewed every third of it.
    pub lease_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct NotificationsConfig {
    pub max_retry_delay: Duration,
    pub give_up_after: Duration,
    /// One delivery attempt is cut off after this long.
    pub attempt_timeout: Duration,
    /// Send a test page to each new pager holder when a rotation or override hands over.
    pub test_on_handover: bool,
}

/// A notification channel: its id and the settings its type owns (`notify/<type>.rs`).
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub settings: ChannelSettings,
}

impl Channel {
    pub fn kind(&self) -> ChannelKind {
        self.settings.kind()
    }
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub channels: Vec<String>,
}

/// Who holds the pager for `role`: members take turns of `rotation` from `start`.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub role: String,
    pub rotation: Duration,
    pub start: SystemTime,
    pub members: Vec<String>,
    /// `[[schedules.overrides]]`: someone else on the pager for a while.
    pub overrides: Vec<Override>,
}

/// `person` holds the pager for `role` from `start` to `end` instead of the rotation (from
/// `[[schedules.overrides]]`, or stored through `POST /api/v1/oncall/overrides`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub role: String,
    pub person: String,
    pub start: SystemTime,
    pub end: SystemTime,
}

/// Whom an escalation level pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Role(String),
    Person(String),
}

#[derive(Debug, Clone)]
pub struct EscalationLevel {
    pub after: Duration,
    pub page: Vec<Recipient>,
    pub call_customer: bool,
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub name: String,
    /// Opens `/status/{id}`; `None` means the customer page is disabled.
    pub status_token: Option<Secret>,
    pub contacts: Vec<Contact>,
    pub services: Vec<Service>,
    /// The included file it was read from, relative to the main file; `None`: the main file
    /// (or the inventory API).
    pub source: Option<String>,
    /// Put through the inventory API (stored in the database) rather than read from a file.
    pub managed: bool,
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub channels: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub servers: Vec<Server>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRole {
    Primary,
    Secondary,
}

impl ServerRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerRole::Primary => "primary",
            ServerRole::Secondary => "secondary",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub id: String,
    /// Shared with the live fleet's entry (a million servers hold one copy each).
    pub target: std::sync::Arc<Target>,
    pub role: ServerRole,
    /// Effective settings: `[probing]` overridden by customer, service, then server. Servers
    /// without overrides of their own share their service's.
    pub probe: std::sync::Arc<ProbeSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceScope {
    Customer(String),
    Server(String),
}

#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    pub scope: MaintenanceScope,
    pub start: SystemTime,
    pub end: SystemTime,
    pub reason: Option<String>,
}

/// One server with the ids of the customer and service it belongs to: the scheduler's unit.
#[derive(Debug, Clone)]
pub struct FleetServer<'a> {
    pub customer: &'a Customer,
    pub service: &'a Service,
    pub server: &'a Server,
}

impl Config {
    /// Read and validate a file and the files it includes. I/O and parse errors come back
    /// with the file's path; errors in an included customer at its path in that file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError { path: path.display().to_string(), msg: format!("cannot read: {e}") }])
        })?;
        let base = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p });
        let mut config = Config::parse(&text, base, &|name| std::env::var(name).ok())?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parse and validate TOML text; `env` resolves `env:NAME` secrets. The text may not
    /// include other files (there is no folder to find them in).
    pub fn from_toml(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        Config::parse(text, None, &env)
    }

    fn parse(text: &str, base: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        let mut raw = raw::parse(text).map_err(|e| ConfigErrors(vec![e]))?;
        let origins = include::merge(&mut raw, base)?;
        let mut config = validate::validate(raw, env)
            .map_err(|errors| ConfigErrors(errors.0.into_iter().map(|e| origins.locate(e)).collect()))?;
        for (customer, file) in config.customers.iter_mut().zip(origins.files()) {
            // Not shared yet: no copy is made.
            Arc::make_mut(customer).source = file.map(str::to_string);
        }
        Ok(config)
    }

    /// Check a customer given through the inventory API as `id` against this config: the
    /// customer, and the body as stored (its `id` filled in). `owner` names the customer that
    /// uses a server id now, if any. Errors are at key paths relative to the body.
    pub fn managed_customer(
        &self,
        id: &str,
        body: serde_json::Value,
        owner: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Customer, serde_json::Value), ConfigErrors> {
        let (mut customer, body) = validate::managed_customer(self, id, body, owner)?;
        customer.managed = true;
        Ok((customer, body))
    }

    /// Every server with its customer and service, in config order.
    pub fn fleet(&self) -> impl Iterator<Item = FleetServer<'_>> {
        self.customers.iter().flat_map(|customer| {
            customer.services.iter().flat_map(move |service| {
                service.servers.iter().map(move |server| FleetServer { customer, service, server })
            })
        })
    }
}
