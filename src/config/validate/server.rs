//! `[server]`: the listener, who may read and write (PRODUCT.md section 11), sessions, the
//! metrics token and the bounds on clients.

use std::net::IpAddr;

use super::fields::Checker;
use crate::config::raw::{RawServerSection, RawToken};
use crate::config::{defaults, NamedToken, ServerConfig};

/// The whole section; `None` when the listen address is unusable.
pub(super) fn server(c: &mut Checker<'_>, raw: &RawServerSection) -> Option<ServerConfig> {
    let listen = c.socket_addr("server.listen", raw.listen.as_deref().unwrap_or(defaults::LISTEN));
    let operator_tokens = tokens(c, "server.operator_tokens", &raw.operator_tokens, "operator");
    let viewer_tokens = tokens(c, "server.viewer_tokens", &raw.viewer_tokens, "viewer");
    distinct_tokens(c, &operator_tokens, &viewer_tokens);
    let public_url = match raw.public_url.as_deref() {
        Some(raw_url) => c.http_url("server.public_url", raw_url).map(|u| u.as_str().trim_end_matches('/').to_string()),
        None => listen.map(|addr| format!("http://{addr}")),
    };
    let metrics_token = raw.metrics_token.as_deref().and_then(|t| c.secret("server.metrics_token", t));
    let per_server_metrics = raw.per_server_metrics.unwrap_or(false);
    if per_server_metrics && raw.metrics_token.is_none() {
        c.error(
            "server.per_server_metrics",
            "needs server.metrics_token: per-server series name every customer's servers",
        );
    }
    let session_ttl = c.duration_or("server.session_ttl", raw.session_ttl.as_deref(), defaults::SESSION_TTL);
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .enumerate()
        .filter_map(|(i, text)| network(c, &format!("server.trusted_proxies[{i}]"), text))
        .collect();
    let max_connections = c.count_or("server.max_connections", raw.max_connections, 65536, defaults::MAX_CONNECTIONS);
    Some(ServerConfig {
        listen: listen?,
        operator_tokens,
        viewer_tokens,
        public_url: public_url.unwrap_or_default(),
        per_server_metrics,
        metrics_token,
        session_ttl,
        trusted_proxies,
        max_connections,
    })
}

/// An address (`10.0.0.5`, `::1`) or a network (`10.0.0.0/8`).
fn network(c: &mut Checker<'_>, path: &str, text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Some(net.trunc());
    }
    match text.parse::<IpAddr>() {
        Ok(addr) => Some(ipnet::IpNet::from(addr)),
        Err(_) => {
            c.error(path, format!("must be an IP address or a network like 10.0.0.0/8, got {text:?}"));
            None
        }
    }
}

/// `operator_tokens` / `viewer_tokens`: each a secret, named or not; names 1 to 100 characters.
fn tokens(c: &mut Checker<'_>, key: &str, raw: &[RawToken], unnamed: &str) -> Vec<NamedToken> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, entry) in raw.iter().enumerate() {
        let (name, token, path) = match entry {
            RawToken::Plain(token) => (unnamed, token.as_str(), format!("{key}[{i}]")),
            RawToken::Named(named) => (named.name.trim(), named.token.as_str(), format!("{key}[{i}].token")),
        };
        if name.is_empty() || name.chars().count() > 100 {
            c.error(format!("{key}[{i}].name"), "must be 1 to 100 characters");
            continue;
        }
        if let Some(token) = c.secret(&path, token) {
            out.push(NamedToken { name: name.to_string(), token });
        }
    }
    out
}

/// A token may stand once: as both viewer and operator it would be ambiguous.
fn distinct_tokens(c: &mut Checker<'_>, operators: &[NamedToken], viewers: &[NamedToken]) {
    let all: Vec<(&str, usize, &NamedToken)> = operators
        .iter()
        .enumerate()
        .map(|(i, t)| ("server.operator_tokens", i, t))
        .chain(viewers.iter().enumerate().map(|(i, t)| ("server.viewer_tokens", i, t)))
        .collect();
    for (n, (key, i, token)) in all.iter().enumerate() {
        if let Some((first_key, first_i, _)) =
            all[..n].iter().find(|(_, _, earlier)| earlier.token.expose() == token.token.expose())
        {
            c.error(
                format!("{key}[{i}]"),
                format!("the same token as {first_key}[{first_i}]; every token must differ"),
            );
        }
    }
}
