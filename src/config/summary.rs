//! The short human summary `firstwatch check-config` prints after a file validates: enough to
//! confirm the file says what the operator meant (counts, backends, effective probe settings
//! and the detection arithmetic they make) without printing any secret.

use std::fmt::Write as _;

use humantime::format_duration;
use reqwest::Url;

use super::{ChannelKind, Config, ServerRole};

/// Summarise a validated configuration in a few lines.
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let services: usize = config.customers.iter().map(|c| c.services.len()).sum();
    let (mut primaries, mut secondaries) = (0, 0);
    for fs in config.fleet() {
        match fs.server.role {
            ServerRole::Primary => primaries += 1,
            ServerRole::Secondary => secondaries += 1,
        }
    }
    let _ = writeln!(
        out,
        "customers: {}, services: {services}, servers: {} ({primaries} primary, {secondaries} secondary)",
        config.customers.len(),
        primaries + secondaries,
    );

    let by_kind: Vec<String> = ChannelKind::ALL
        .iter()
        .filter_map(|&kind| {
            let n = config.channels.iter().filter(|ch| ch.kind() == kind).count();
            (n > 0).then(|| format!("{n} {}", kind.as_str()))
        })
        .collect();
    let by_kind = if by_kind.is_empty() { String::new() } else { format!(" ({})", by_kind.join(", ")) };
    let _ = writeln!(out, "channels: {}{by_kind}", config.channels.len());
    let _ = writeln!(
        out,
        "people: {}, schedules: {}, escalation levels: {}, maintenance windows: {}",
        config.people.len(),
        config.schedules.len(),
        config.escalation.len(),
        config.maintenance.len(),
    );
    let _ = writeln!(out, "database: {}", database(config.database.url.expose()));
    let _ = writeln!(out, "listen: {}", config.server.listen);
    let server = &config.server;
    let _ = writeln!(
        out,
        "access: {} operator and {} viewer tokens, sessions last {}, /metrics {}, at most {} connections",
        server.operator_tokens.len(),
        server.viewer_tokens.len(),
        format_duration(server.session_ttl),
        if server.metrics_token.is_some() { "needs its token" } else { "open" },
        server.max_connections,
    );

    let _ = writeln!(out, "probing (effective settings per server):");
    for (settings, count, probe) in probe_groups(config) {
        let noun = if count == 1 { "server" } else { "servers" };
        let _ = writeln!(out, "  {count} {noun}: {settings}");
        let _ = writeln!(out, "    {}", super::detection::Detection::of(probe, &config.escalation));
    }
    if config.fleet().next().is_none() {
        let _ = writeln!(out, "  no servers");
    }
    out
}

/// The backend and where it is, never the credentials: `sqlite (sqlite://data/fw.db)`,
/// `postgres (db.example:5432/firstwatch)`.
fn database(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return format!("sqlite ({url})");
    }
    match Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("postgres ({host}{port}{})", parsed.path())
        }
        Err(_) => "postgres".to_string(),
    }
}

/// Distinct (interval, retry_interval, failure_threshold, timeout) combinations with how
/// many servers run with each, most used first (ties in config order).
fn probe_groups(config: &Config) -> Vec<(String, usize, &super::ProbeSettings)> {
    let mut groups: Vec<(String, usize, &super::ProbeSettings)> = Vec::new();
    for fs in config.fleet() {
        let p = &fs.server.probe;
        let key = format!(
            "interval {}, retry {}, threshold {}, timeout {}",
            format_duration(p.interval),
            format_duration(p.retry_interval),
            p.failure_threshold,
            format_duration(p.timeout),
        );
        match groups.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, n, _)) => *n += 1,
            None => groups.push((key, 1, p)),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1));
    groups
}
