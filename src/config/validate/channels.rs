//! `[[channels]]`: unique ids here; the type's own file (`notify/<type>.rs`, through
//! `notify::registry`) decides which keys are required and which are refused, so a key meant
//! for another type (`routing_key` on a webhook) is an error, not dead config.

use std::collections::HashMap;

use reqwest::Url;

use super::fields::Checker;
use crate::config::raw::RawChannel;
use crate::config::{Channel, ChannelSettings, Secret};
use crate::notify::registry::KeyCheck;

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
    let settings = ChannelSettings::parse(base, &raw.kind, &raw.keys, c)?;
    Some(Channel { id: raw.id.clone(), settings })
}

/// The shared value rules, for the channel types' own validation.
impl KeyCheck for Checker<'_> {
    fn error(&mut self, path: &str, msg: String) {
        Checker::error(self, path, msg);
    }

    fn secret(&mut self, path: &str, raw: &str) -> Option<Secret> {
        Checker::secret(self, path, raw)
    }

    fn http_url(&mut self, path: &str, raw: &str) -> Option<Url> {
        Checker::http_url(self, path, raw)
    }

    fn email(&mut self, path: &str, raw: &str) -> bool {
        Checker::email(self, path, raw)
    }

    fn phone(&mut self, path: &str, raw: &str) -> bool {
        Checker::phone(self, path, raw)
    }
}
