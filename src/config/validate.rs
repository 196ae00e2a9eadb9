//! Turns the raw file into the validated [`Config`], refusing anything that would misbehave
//! later. Every rule of PRODUCT.md section 4 lives here or in `validate/`; all broken rules
//! are reported together, each at its key path (`customers[1].services[0].servers[0].target`).
//!
//! - `fields.rs`: single values (durations, ids, times, secrets, URLs) and the error collector;
//! - `cases.rs`: `[cases]`, its response targets and business hours;
//! - `fleet.rs`: `[probing]`, customers, services, servers and their effective settings;
//! - `channels.rs`: `[[channels]]` and the keys each type takes;
//! - `managed.rs`: one customer given through the inventory API, checked like the file;
//! - `people.rs`: people, on-call schedules and the escalation policy;
//! - `server.rs`: `[server]`: listener, tokens, sessions, client bounds.

mod cases;
mod channels;
mod fields;
mod fleet;
mod managed;
mod people;
mod server;

use std::collections::HashSet;

use super::raw::{RawConfig, RawCustomer, RawDatabase, RawGuard, RawMaintenance, RawNotifications};
use super::{
    defaults, ClusterConfig, Config, ConfigErrors, DatabaseConfig, DnsConfig, GuardConfig, MaintenanceScope,
    MaintenanceWindow, NotificationsConfig, Secret,
};
use crate::domain::Target;
use fields::Checker;
pub use managed::customer as managed_customer;

/// Validate the whole file. `env` resolves `env:NAME` secrets (the process environment in
/// production, a fake in tests).
pub fn validate(raw: RawConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let mut c = Checker::new(env);

    let server = server::server(&mut c, &raw.server);
    let database = database(&mut c, &raw.database);
    let (probing, probe_defaults) = fleet::probing(&mut c, &raw.probing);
    let dns = raw.dns.servers.iter().enumerate();
    let dns = DnsConfig { servers: dns.filter_map(|(i, s)| c.socket_addr(&format!("dns.servers[{i}]"), s)).collect() };

    let channel_ids: HashSet<&str> = raw.channels.iter().map(|ch| ch.id.as_str()).collect();
    let cases = cases::cases(&mut c, &raw.cases, &channel_ids);
    let guard = guard(&mut c, &raw.guard);
    let notifications = notifications(&mut c, &raw.notifications);
    let cluster = ClusterConfig {
        lease_ttl: c.duration_or("cluster.lease_ttl", raw.cluster.lease_ttl.as_deref(), defaults::LEASE_TTL),
    };
    let channels = channels::channels(&mut c, &raw.channels);
    let people = people::people(&mut c, &raw.people, &channel_ids);
    let schedules = people::schedules(&mut c, &raw.schedules, &raw.people);
    let escalation = people::escalation(&mut c, raw.escalation.as_deref(), &raw.people, cases.ack_timeout);
    let customers = fleet::customers(&mut c, &raw.customers, &probe_defaults, &channel_ids);
    let maintenance = maintenance(&mut c, &raw.maintenance, &FleetIds::of(&raw.customers));

    match (server, database) {
        (Some(server), Some(database)) if !c.has_errors() => Ok(Config {
            server,
            database,
            probing,
            dns,
            cases,
            guard,
            notifications,
            cluster,
            channels,
            people,
            schedules,
            escalation,
            customers: customers.into_iter().map(std::sync::Arc::new).collect(),
            maintenance,
            file: None,
        }),
        _ => Err(c.into_errors()),
    }
}

/// `[database]`: the URL picks the backend (sqlx), so only the two supported schemes pass.
fn database(c: &mut Checker, raw: &RawDatabase) -> Option<DatabaseConfig> {
    let write_behind = c.duration_or("database.write_behind", raw.write_behind.as_deref(), defaults::WRITE_BEHIND);
    let retention = c.duration_or("database.retention", raw.retention.as_deref(), defaults::RETENTION);
    let url = match raw.url.as_deref() {
        None => Secret::new(defaults::DATABASE_URL),
        Some(text) => c.secret("database.url", text)?,
    };
    let supported = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| url.expose().starts_with(p));
    if !supported {
        // The URL may carry a password: name the rule, not the value.
        c.error("database.url", "must start with sqlite:, postgres:// or postgresql://");
        return None;
    }
    Some(DatabaseConfig { url, write_behind, retention })
}

/// `[guard]`: canaries are probed like servers, so they must parse like server targets.
fn guard(c: &mut Checker, raw: &RawGuard) -> GuardConfig {
    let mut canaries = Vec::with_capacity(raw.canaries.len());
    for (i, text) in raw.canaries.iter().enumerate() {
        match text.parse::<Target>() {
            Ok(target) => canaries.push(target),
            Err(e) => c.error(format!("guard.canaries[{i}]"), e.to_string()),
        }
    }
    let fraction = raw.max_failing_fraction.unwrap_or(defaults::MAX_FAILING_FRACTION);
    // Written so that NaN fails too.
    if !(fraction > 0.0 && fraction <= 1.0) {
        c.error("guard.max_failing_fraction", format!("must be greater than 0 and at most 1, got {fraction}"));
    }
    GuardConfig { canaries, max_failing_fraction: fraction }
}

fn notifications(c: &mut Checker, raw: &RawNotifications) -> NotificationsConfig {
    let delay =
        c.duration_or("notifications.max_retry_delay", raw.max_retry_delay.as_deref(), defaults::MAX_RETRY_DELAY);
    let give_up = c.duration_or("notifications.give_up_after", raw.give_up_after.as_deref(), defaults::GIVE_UP_AFTER);
    let attempt_timeout =
        c.duration_or("notifications.attempt_timeout", raw.attempt_timeout.as_deref(), defaults::ATTEMPT_TIMEOUT);
    let test_on_handover = raw.test_on_handover.unwrap_or(false);
    NotificationsConfig { max_retry_delay: delay, give_up_after: give_up, attempt_timeout, test_on_handover }
}

/// Every customer and server id as written (valid or not), so that a broken id is reported
/// once, at its own key, and not again by every reference to it.
struct FleetIds<'a> {
    customers: HashSet<&'a str>,
    servers: HashSet<&'a str>,
}

impl<'a> FleetIds<'a> {
    fn of(customers: &'a [RawCustomer]) -> Self {
        let services = customers.iter().flat_map(|c| &c.services);
        FleetIds {
            customers: customers.iter().map(|c| c.id.as_str()).collect(),
            servers: services.flat_map(|s| &s.servers).map(|s| s.id.as_str()).collect(),
        }
    }
}

/// `[[maintenance]]`: exactly one of `customer` or `server`, which must exist, and a window
/// that ends after it starts.
fn maintenance(c: &mut Checker, raw: &[RawMaintenance], ids: &FleetIds) -> Vec<MaintenanceWindow> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, rm) in raw.iter().enumerate() {
        let base = format!("maintenance[{i}]");
        let scope = match (&rm.customer, &rm.server) {
            (Some(customer), None) if ids.customers.contains(customer.as_str()) => {
                Some(MaintenanceScope::Customer(customer.clone()))
            }
            (Some(customer), None) => {
                c.error(format!("{base}.customer"), format!("unknown customer {customer:?}"));
                None
            }
            (None, Some(server)) if ids.servers.contains(server.as_str()) => {
                Some(MaintenanceScope::Server(server.clone()))
            }
            (None, Some(server)) => {
                c.error(format!("{base}.server"), format!("unknown server {server:?}"));
                None
            }
            (Some(_), Some(_)) => {
                c.error(base.clone(), "give either `customer` or `server`, not both");
                None
            }
            (None, None) => {
                c.error(base.clone(), "missing field `customer` or `server` (what the window covers)");
                None
            }
        };
        let start = c.time(&format!("{base}.start"), &rm.start);
        let end = c.time(&format!("{base}.end"), &rm.end);
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                c.error(format!("{base}.end"), "must be after start");
                continue;
            }
            if let Some(scope) = scope {
                out.push(MaintenanceWindow { scope, start, end, reason: rm.reason.clone() });
            }
        }
    }
    out
}
