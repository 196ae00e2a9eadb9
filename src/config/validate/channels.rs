//! `[[channels]]`: the type decides which keys are required and which are refused, so a
//! key meant for another type (`routing_key` on a webhook) is an error, not dead config.

use std::collections::HashMap;

use reqwest::Url;

use super::fields::Checker;
use crate::config::raw::RawChannel;
use crate::config::{Channel, ChannelKind};

pub(super) fn channels(c: &mut Checker, raw: &[RawChannel]) -> Vec<Channel> {
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, rc) in raw.iter().enumerate() {
        let base = format!("channels[{i}]");
        if c.id(&format!("{base}.id"), &rc.id) {
            c.unique(&mut seen, "channel", &rc.id, &format!("{base}.id"));
        }
        if let Some(channel) = channel(c, &base, rc) {
            out.push(channel);
        }
    }
    out
}

fn channel(c: &mut Checker, base: &str, raw: &RawChannel) -> Option<Channel> {
    let at = |key: &str| format!("{base}.{key}");
    let Ok(kind) = raw.kind.parse::<ChannelKind>() else {
        let names: Vec<_> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
        c.error(at("type"), format!("unknown channel type {:?} (use one of {})", raw.kind, names.join(", ")));
        return None;
    };
    let present = [
        ("url", raw.url.is_some()),
        ("secret", raw.secret.is_some()),
        ("routing_key", raw.routing_key.is_some()),
        ("smtp_url", raw.smtp_url.is_some()),
        ("from", raw.from.is_some()),
        ("account_sid", raw.account_sid.is_some()),
        ("auth_token", raw.auth_token.is_some()),
        ("api_base", raw.api_base.is_some()),
    ];
    let (required, optional) = kind.keys();
    let mut shape_ok = true;
    for (key, is_set) in present {
        if is_set && !required.contains(&key) && !optional.contains(&key) {
            let takes = required.iter().chain(optional).copied().collect::<Vec<_>>().join(", ");
            c.error(at(key), format!("not a key of {} channels (they take {takes})", kind.as_str()));
            shape_ok = false;
        }
        if !is_set && required.contains(&key) {
            c.error(base, format!("missing field `{key}` (required for {} channels)", kind.as_str()));
            shape_ok = false;
        }
    }

    // Slack and Mattermost webhook URLs embed a token, so `url` may come from the environment.
    let url = raw.url.as_deref().and_then(|u| c.secret(&at("url"), u)).and_then(|s| c.http_url(&at("url"), s.expose()));
    let secret = raw.secret.as_deref().and_then(|s| c.secret(&at("secret"), s));
    let routing_key = raw.routing_key.as_deref().and_then(|s| c.secret(&at("routing_key"), s));
    let smtp_url = raw.smtp_url.as_deref().and_then(|s| c.secret(&at("smtp_url"), s));
    if let Some(smtp) = &smtp_url {
        smtp_scheme(c, &at("smtp_url"), smtp.expose());
    }
    if let Some(from) = &raw.from {
        match kind {
            ChannelKind::Email => _ = c.email(&at("from"), from),
            ChannelKind::Twilio => _ = c.phone(&at("from"), from),
            // `from` is refused above for the other types.
            ChannelKind::Webhook | ChannelKind::Slack | ChannelKind::Mattermost | ChannelKind::Pagerduty => {}
        }
    }
    if raw.account_sid.as_deref().is_some_and(|s| s.trim().is_empty()) {
        c.error(at("account_sid"), "must not be empty");
    }
    let auth_token = raw.auth_token.as_deref().and_then(|s| c.secret(&at("auth_token"), s));
    let api_base = raw.api_base.as_deref().and_then(|u| c.http_url(&at("api_base"), u));
    shape_ok.then(|| Channel {
        id: raw.id.clone(),
        kind,
        url,
        secret,
        routing_key,
        smtp_url,
        from: raw.from.clone(),
        account_sid: raw.account_sid.clone(),
        auth_token,
        api_base,
    })
}

/// `smtp://` (STARTTLS) or `smtps://` (TLS) with a host. The value may hold a password, so
/// the message names only the scheme, never the URL.
fn smtp_scheme(c: &mut Checker, path: &str, value: &str) {
    match Url::parse(value) {
        Ok(url) if !matches!(url.scheme(), "smtp" | "smtps") => {
            c.error(path, format!("unsupported scheme {:?} (use smtp:// or smtps://)", url.scheme()));
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => c.error(path, "missing host"),
        Ok(_) => {}
        Err(e) => c.error(path, format!("not a URL: {e}")),
    }
}
