//! The fleet: `[probing]` defaults, customers, services and servers, and the effective probe
//! settings of every server (`[probing]`, then customer, service, server; nearest wins).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use humantime::format_duration;

use super::fields::Checker;
use crate::config::defaults;
use crate::config::raw::{Overrides, RawContact, RawCustomer, RawProbing, RawServer, RawService};
use crate::config::{Contact, Customer, ExpectStatus, ProbeSettings, ProbingConfig, Server, ServerRole, Service};
use crate::domain::Target;

/// Where an effective duration was set: `None` for the built-in default. Used to point an
/// error about two conflicting settings at the one that was written last (deepest).
#[derive(Debug, Clone, Default)]
struct Origin {
    depth: u8,
    path: Option<String>,
}

impl Origin {
    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("from {path}"),
            None => "the default".to_string(),
        }
    }
}

/// Probe settings as resolved so far, with where the related durations came from.
#[derive(Debug, Clone)]
pub(super) struct Effective {
    settings: ProbeSettings,
    interval_at: Origin,
    retry_at: Origin,
    timeout_at: Origin,
}

impl Effective {
    /// The built-in defaults of `defaults.rs`.
    fn builtin() -> Self {
        Effective {
            settings: ProbeSettings {
                interval: defaults::INTERVAL,
                retry_interval: defaults::RETRY_INTERVAL,
                failure_threshold: defaults::FAILURE_THRESHOLD,
                recovery_threshold: defaults::RECOVERY_THRESHOLD,
                timeout: defaults::TIMEOUT,
                expect_status: ExpectStatus::AnySuccess,
            },
            interval_at: Origin::default(),
            retry_at: Origin::default(),
            timeout_at: Origin::default(),
        }
    }

    /// The `[probing]` defaults in force, with every value that differs from the built-in one
    /// pointed at its `probing.` key: how a customer given alone (the inventory API) is checked.
    pub(super) fn of_defaults(defaults: &ProbeSettings) -> Self {
        let builtin = Effective::builtin();
        let at = |key: &str, differs: bool| {
            if differs {
                Origin { depth: 1, path: Some(format!("probing.{key}")) }
            } else {
                Origin::default()
            }
        };
        Effective {
            interval_at: at("interval", defaults.interval != builtin.settings.interval),
            retry_at: at("retry_interval", defaults.retry_interval != builtin.settings.retry_interval),
            timeout_at: at("timeout", defaults.timeout != builtin.settings.timeout),
            settings: defaults.clone(),
        }
    }

    /// Apply one level's overrides (`base` is its path, e.g. `customers[0]`). Each value is
    /// checked at its own key; a broken value leaves the inherited one in place.
    fn apply(&self, c: &mut Checker, base: &str, depth: u8, o: Overrides<'_>) -> Effective {
        let mut next = self.clone();
        let at = |key: &str| format!("{base}.{key}");
        let origin = |key: &str| Origin { depth, path: Some(at(key)) };
        if let Some(d) = o.interval.and_then(|raw| c.interval(&at("interval"), raw)) {
            next.settings.interval = d;
            next.interval_at = origin("interval");
        }
        if let Some(d) = o.retry_interval.and_then(|raw| c.duration(&at("retry_interval"), raw)) {
            next.settings.retry_interval = d;
            next.retry_at = origin("retry_interval");
        }
        if let Some(n) = o.failure_threshold.and_then(|raw| c.threshold(&at("failure_threshold"), raw)) {
            next.settings.failure_threshold = n;
        }
        if let Some(n) = o.recovery_threshold.and_then(|raw| c.threshold(&at("recovery_threshold"), raw)) {
            next.settings.recovery_threshold = n;
        }
        if let Some(d) = o.timeout.and_then(|raw| c.duration(&at("timeout"), raw)) {
            next.settings.timeout = d;
            next.timeout_at = origin("timeout");
        }
        if let Some(e) = o.expect_status.and_then(|raw| c.expect_status(&at("expect_status"), raw)) {
            next.settings.expect_status = e;
        }
        next
    }

    /// The settings a server actually runs with must make sense together: retries come at
    /// least as often as regular checks, and a status request ends before the next is due.
    /// The error is put on whichever of the two keys was set nearest to the server.
    fn check_order(&self, c: &mut Checker) {
        let s = &self.settings;
        if s.retry_interval > s.interval {
            let why = "retries must come at least as often as regular checks";
            conflict(
                c,
                ("retry_interval", s.retry_interval, &self.retry_at),
                ("interval", s.interval, &self.interval_at),
                why,
            );
        }
        if s.timeout > s.retry_interval {
            let why = "a status request must end before the next one is due";
            conflict(
                c,
                ("timeout", s.timeout, &self.timeout_at),
                ("retry_interval", s.retry_interval, &self.retry_at),
                why,
            );
        }
    }
}

/// Report `long > short` at the deeper of the two origins (ties go to `long`).
fn conflict(c: &mut Checker, long: (&str, Duration, &Origin), short: (&str, Duration, &Origin), why: &str) {
    let (long_key, long_value, long_at) = long;
    let (short_key, short_value, short_at) = short;
    let (long_fmt, short_fmt) = (format_duration(long_value), format_duration(short_value));
    if long_at.depth >= short_at.depth {
        let path = long_at.path.clone().unwrap_or_else(|| format!("probing.{long_key}"));
        let msg = format!("{long_fmt} is longer than {short_key} {short_fmt} ({}); {why}", short_at.describe());
        c.error(path, msg);
    } else {
        let path = short_at.path.clone().unwrap_or_else(|| format!("probing.{short_key}"));
        let msg = format!("{short_fmt} is shorter than {long_key} {long_fmt} ({}); {why}", long_at.describe());
        c.error(path, msg);
    }
}

/// `[probing]`: the fleet-wide defaults (also what canaries run with) and `max_concurrency`.
pub(super) fn probing(c: &mut Checker, raw: &RawProbing) -> (ProbingConfig, Effective) {
    let effective = Effective::builtin().apply(c, "probing", 1, raw.overrides());
    effective.check_order(c);
    let max_concurrency = c.count_or("probing.max_concurrency", raw.max_concurrency, 65536, defaults::MAX_CONCURRENCY);
    (ProbingConfig { defaults: effective.settings.clone(), max_concurrency }, effective)
}

/// `[[customers]]` with their contacts, services and servers.
pub(super) fn customers(
    c: &mut Checker,
    raw: &[RawCustomer],
    probing: &Effective,
    channel_ids: &HashSet<&str>,
) -> Vec<Customer> {
    let mut customer_ids = HashMap::new();
    let mut server_ids = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (ci, rc) in raw.iter().enumerate() {
        let base = format!("customers[{ci}]");
        if c.id(&format!("{base}.id"), &rc.id) {
            c.unique(&mut customer_ids, "customer", &rc.id, &format!("{base}.id"));
        }
        let name = c.name(&format!("{base}.name"), rc.name.as_deref(), &rc.id);
        let status_token = rc.status_token.as_deref().and_then(|t| c.secret(&format!("{base}.status_token"), t));
        let contacts =
            rc.contacts.iter().enumerate().map(|(i, rc)| contact(c, &format!("{base}.contacts[{i}]"), rc, channel_ids));
        let contacts = contacts.collect();
        let settings = probing.apply(c, &base, 2, rc.overrides());
        let mut service_ids = HashMap::new();
        let mut services = Vec::with_capacity(rc.services.len());
        for (si, rs) in rc.services.iter().enumerate() {
            let base = format!("{base}.services[{si}]");
            if c.id(&format!("{base}.id"), &rs.id) {
                c.unique(&mut service_ids, "service", &rs.id, &format!("{base}.id"));
            }
            services.push(service(c, &base, rs, &settings, &mut server_ids));
        }
        out.push(Customer { id: rc.id.clone(), name, status_token, contacts, services, source: None, managed: false });
    }
    out
}

fn service(
    c: &mut Checker,
    base: &str,
    raw: &RawService,
    customer: &Effective,
    server_ids: &mut HashMap<String, String>,
) -> Service {
    let name = c.name(&format!("{base}.name"), raw.name.as_deref(), &raw.id);
    let settings = customer.apply(c, base, 3, raw.overrides());
    let shared = Arc::new(settings.settings.clone());
    let mut servers = Vec::with_capacity(raw.servers.len());
    for (i, rs) in raw.servers.iter().enumerate() {
        let base = format!("{base}.servers[{i}]");
        // Ids are global: maintenance windows, the API and case events name a server alone.
        if c.id(&format!("{base}.id"), &rs.id) {
            c.unique(server_ids, "server", &rs.id, &format!("{base}.id"));
        }
        if let Some(server) = server(c, &base, rs, &settings, &shared) {
            servers.push(server);
        }
    }
    Service { id: raw.id.clone(), name, servers }
}

fn server(
    c: &mut Checker,
    base: &str,
    raw: &RawServer,
    service: &Effective,
    shared: &Arc<ProbeSettings>,
) -> Option<Server> {
    let target = match raw.target.parse::<Target>() {
        Ok(t) => Some(t),
        Err(e) => {
            c.error(format!("{base}.target"), e.to_string());
            None
        }
    };
    let role = match raw.role.as_deref() {
        None | Some("primary") => Some(ServerRole::Primary),
        Some("secondary") => Some(ServerRole::Secondary),
        Some(other) => {
            c.error(format!("{base}.role"), format!("unknown role {other:?} (use primary or secondary)"));
            None
        }
    };
    let effective = service.apply(c, base, 4, raw.overrides());
    effective.check_order(c);
    let probe = if effective.settings == **shared { shared.clone() } else { Arc::new(effective.settings) };
    Some(Server { id: raw.id.clone(), target: Arc::new(target?), role: role?, probe })
}

fn contact(c: &mut Checker, base: &str, raw: &RawContact, channel_ids: &HashSet<&str>) -> Contact {
    if raw.name.trim().is_empty() {
        c.error(format!("{base}.name"), "must not be empty");
    }
    if let Some(email) = &raw.email {
        c.email(&format!("{base}.email"), email);
    }
    if let Some(phone) = &raw.phone {
        c.phone(&format!("{base}.phone"), phone);
    }
    channel_refs(c, &format!("{base}.channels"), &raw.channels, channel_ids);
    Contact {
        name: raw.name.clone(),
        email: raw.email.clone(),
        phone: raw.phone.clone(),
        channels: raw.channels.clone(),
    }
}

/// Every entry of a list of channel ids (at `{list_path}[i]`) must name a `[[channels]]` id.
pub(super) fn channel_refs(c: &mut Checker, list_path: &str, list: &[String], channel_ids: &HashSet<&str>) {
    for (i, id) in list.iter().enumerate() {
        if !channel_ids.contains(id.as_str()) {
            c.error(format!("{list_path}[{i}]"), format!("unknown channel {id:?}"));
        }
    }
}
