//! The channel types, listed once. Each type is one file (`webhook.rs`, `chat.rs`,
//! `pagerduty.rs`, `email.rs`, `twilio.rs`) that owns its `[[channels]]` keys, their
//! validation, its capabilities and its sending, behind the [`Provider`] trait; the
//! [`registry!`] line below turns the list into [`ChannelKind`] (the `type` names),
//! [`ChannelSettings`] (a validated entry) and the sender the notifier holds.
//!
//! Adding a channel type: write `notify/<type>.rs` implementing [`Provider`] and [`Deliver`],
//! add one line to the `registry!` call, a test against a loopback receiver and a row in
//! `docs/configuration.md`. Nothing else names the types.
//!
//! This module reads no configuration file: `config::validate` hands each entry's keys over
//! as a TOML table with a [`KeyCheck`] for the shared value rules (secrets, URLs, addresses).

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use super::{Delivery, NotifyInitError, SendError};
use crate::domain::Secret;

/// The value rules every channel type shares, supplied by the config validator (which also
/// collects the errors under their key paths).
pub trait KeyCheck {
    fn error(&mut self, path: &str, msg: String);
    /// A secret, written literally or as `env:NAME`.
    fn secret(&mut self, path: &str, raw: &str) -> Option<Secret>;
    /// An `http://` or `https://` URL with a host.
    fn http_url(&mut self, path: &str, raw: &str) -> Option<Url>;
    fn email(&mut self, path: &str, raw: &str) -> bool;
    fn phone(&mut self, path: &str, raw: &str) -> bool;
}

/// The keys of one `[[channels]]` entry beyond `id` and `type`, read by its type's
/// [`Provider::parse`]. Every read records its error under `channels[i].<key>`.
pub(crate) struct Keys<'a> {
    base: &'a str,
    table: &'a toml::Table,
    check: &'a mut dyn KeyCheck,
    failed: bool,
}

impl Keys<'_> {
    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.base)
    }

    /// Record an error for `key`; the entry is refused.
    pub fn error(&mut self, key: &str, msg: impl Into<String>) {
        let path = self.path(key);
        self.check.error(&path, msg.into());
        self.failed = true;
    }

    /// A string value, or `None` when absent (required keys are checked before `parse`).
    pub fn text(&mut self, key: &str) -> Option<String> {
        match self.table.get(key)? {
            toml::Value::String(s) => Some(s.clone()),
            other => {
                self.error(key, format!("must be a string, not {}", other.type_str()));
                None
            }
        }
    }

    /// A boolean, or `None` when absent.
    pub fn flag(&mut self, key: &str) -> Option<bool> {
        match self.table.get(key)? {
            toml::Value::Boolean(b) => Some(*b),
            other => {
                self.error(key, format!("must be true or false, not {}", other.type_str()));
                None
            }
        }
    }

    /// A non-empty string.
    pub fn non_empty(&mut self, key: &str) -> Option<String> {
        let value = self.text(key)?;
        if value.trim().is_empty() {
            self.error(key, "must not be empty");
            return None;
        }
        Some(value)
    }

    /// A secret, literal or `env:NAME`.
    pub fn secret(&mut self, key: &str) -> Option<Secret> {
        let raw = self.text(key)?;
        let path = self.path(key);
        let found = self.check.secret(&path, &raw);
        self.failed |= found.is_none();
        found
    }

    /// An HTTP(S) URL written literally.
    pub fn url(&mut self, key: &str) -> Option<Url> {
        let raw = self.text(key)?;
        self.checked_url(key, &raw)
    }

    /// An HTTP(S) URL that may come from the environment (chat webhook URLs embed a token).
    pub fn secret_url(&mut self, key: &str) -> Option<Url> {
        let secret = self.secret(key)?;
        self.checked_url(key, secret.expose())
    }

    fn checked_url(&mut self, key: &str, raw: &str) -> Option<Url> {
        let path = self.path(key);
        let found = self.check.http_url(&path, raw);
        self.failed |= found.is_none();
        found
    }

    /// An e-mail address.
    pub fn email(&mut self, key: &str) -> Option<String> {
        let raw = self.text(key)?;
        let path = self.path(key);
        let ok = self.check.email(&path, &raw);
        self.failed |= !ok;
        ok.then_some(raw)
    }

    /// A phone number in E.164 form.
    pub fn phone(&mut self, key: &str) -> Option<String> {
        let raw = self.text(key)?;
        let path = self.path(key);
        let ok = self.check.phone(&path, &raw);
        self.failed |= !ok;
        ok.then_some(raw)
    }
}

/// What the notifier gives a type to build its sender with.
pub(crate) struct Context<'a> {
    /// The one HTTP client (timeouts, TLS, redirects: `http.rs`).
    pub client: &'a reqwest::Client,
    /// `[notifications] attempt_timeout`.
    pub timeout: Duration,
}

/// One channel type: its keys, their validation, what it can do and how it is built.
pub(crate) trait Provider: Sized + Clone + fmt::Debug + Send + Sync + 'static {
    /// The `type` value.
    const TYPE: &'static str;
    /// Keys the entry must have, beyond `id` and `type`.
    const REQUIRED: &'static [&'static str];
    /// Keys it may have. Every HTTP-based type takes `api_base`, so it can be pointed at a
    /// local receiver.
    const OPTIONAL: &'static [&'static str];
    /// Whether it can place a voice call (`customer.call` goes only to such channels).
    const CAN_CALL: bool = false;

    type Sender: Deliver;

    /// The validated settings; `None` when a value was refused (the error is recorded).
    fn parse(keys: &mut Keys<'_>) -> Option<Self>;

    /// A sender ready to deliver; the error names what is wrong, without secret values.
    fn sender(&self, ctx: &Context<'_>) -> Result<Self::Sender, String>;
}

/// Sending one message.
pub(crate) trait Deliver: Send + Sync + 'static {
    fn send(&self, d: &Delivery<'_>) -> impl std::future::Future<Output = Result<(), SendError>> + Send;
}

/// Lists the channel types once: `Variant => file::Provider`.
macro_rules! registry {
    ($($variant:ident => $provider:ty),+ $(,)?) => {
        /// A channel's `type`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ChannelKind {
            $($variant),+
        }

        impl ChannelKind {
            pub const ALL: &'static [ChannelKind] = &[$(ChannelKind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ChannelKind::$variant => <$provider as Provider>::TYPE),+
                }
            }

            /// (required keys, optional keys) beyond `id` and `type`.
            pub fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
                match self {
                    $(ChannelKind::$variant => (<$provider>::REQUIRED, <$provider>::OPTIONAL)),+
                }
            }

            /// Whether the channel can place a voice call.
            pub fn can_call(self) -> bool {
                match self {
                    $(ChannelKind::$variant => <$provider>::CAN_CALL),+
                }
            }
        }

        impl std::str::FromStr for ChannelKind {
            type Err = String;

            fn from_str(s: &str) -> Result<ChannelKind, String> {
                ChannelKind::ALL.iter().copied().find(|k| k.as_str() == s).ok_or_else(|| {
                    let names: Vec<_> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
                    format!("unknown channel type {s:?} (use one of {})", names.join(", "))
                })
            }
        }

        impl fmt::Display for ChannelKind {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// A validated `[[channels]]` entry's settings, of its type.
        #[derive(Debug, Clone)]
        pub enum ChannelSettings {
            $($variant($provider)),+
        }

        impl ChannelSettings {
            pub fn kind(&self) -> ChannelKind {
                match self {
                    $(ChannelSettings::$variant(_) => ChannelKind::$variant),+
                }
            }

            fn parse_as(kind: ChannelKind, keys: &mut Keys<'_>) -> Option<ChannelSettings> {
                match kind {
                    $(ChannelKind::$variant => <$provider>::parse(keys).map(ChannelSettings::$variant)),+
                }
            }

            pub(super) fn sender(&self, ctx: &Context<'_>) -> Result<Sender, String> {
                Ok(match self {
                    $(ChannelSettings::$variant(p) => Sender::$variant(p.sender(ctx)?)),+
                })
            }
        }

        /// One configured channel, ready to send.
        pub(super) enum Sender {
            $($variant(<$provider as Provider>::Sender)),+
        }

        impl Sender {
            pub(super) async fn send(&self, d: &Delivery<'_>) -> Result<(), SendError> {
                match self {
                    $(Sender::$variant(s) => s.send(d).await),+
                }
            }
        }
    };
}

registry! {
    Webhook => super::webhook::Webhook,
    Slack => super::chat::Slack,
    Mattermost => super::chat::Mattermost,
    Pagerduty => super::pagerduty::Pagerduty,
    Email => super::email::Email,
    Twilio => super::twilio::Twilio,
}

impl ChannelSettings {
    /// Read one entry: the `type` must be known, its required keys present and no key of
    /// another type set; then the type validates its values. `None` when anything was refused
    /// (every error is recorded through `check`).
    pub fn parse(base: &str, kind: &str, table: &toml::Table, check: &mut dyn KeyCheck) -> Option<ChannelSettings> {
        let kind = match kind.parse::<ChannelKind>() {
            Ok(kind) => kind,
            Err(msg) => {
                check.error(&format!("{base}.type"), msg);
                return None;
            }
        };
        let (required, optional) = kind.keys();
        let mut shape_ok = true;
        for key in table.keys() {
            if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
                let takes = required.iter().chain(optional).copied().collect::<Vec<_>>().join(", ");
                check.error(&format!("{base}.{key}"), format!("not a key of {kind} channels (they take {takes})"));
                shape_ok = false;
            }
        }
        for key in required {
            if !table.contains_key(*key) {
                check.error(base, format!("missing field `{key}` (required for {kind} channels)"));
                shape_ok = false;
            }
        }
        if !shape_ok {
            return None;
        }
        let mut keys = Keys { base, table, check, failed: false };
        let settings = ChannelSettings::parse_as(kind, &mut keys);
        settings.filter(|_| !keys.failed)
    }

    /// The sender for channel `id`.
    pub(super) fn build(&self, id: &str, ctx: &Context<'_>) -> Result<Sender, NotifyInitError> {
        self.sender(ctx).map_err(|reason| NotifyInitError::Channel { channel: id.to_string(), reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records errors; accepts every value (the shared rules have their own tests).
    #[derive(Default)]
    struct Errors(Vec<String>);

    impl KeyCheck for Errors {
        fn error(&mut self, path: &str, msg: String) {
            self.0.push(format!("{path}: {msg}"));
        }
        fn secret(&mut self, _: &str, raw: &str) -> Option<Secret> {
            Some(Secret::new(raw))
        }
        fn http_url(&mut self, _: &str, raw: &str) -> Option<Url> {
            Url::parse(raw).ok()
        }
        fn email(&mut self, _: &str, _: &str) -> bool {
            true
        }
        fn phone(&mut self, _: &str, _: &str) -> bool {
            true
        }
    }

    fn parse(kind: &str, toml_text: &str) -> (Option<ChannelSettings>, Vec<String>) {
        let table: toml::Table = toml_text.parse().unwrap_or_else(|e| panic!("test TOML: {e}"));
        let mut errors = Errors::default();
        let settings = ChannelSettings::parse("channels[0]", kind, &table, &mut errors);
        (settings, errors.0)
    }

    #[test]
    fn every_type_name_round_trips_and_only_twilio_calls() {
        for kind in ChannelKind::ALL {
            assert_eq!(kind.as_str().parse::<ChannelKind>(), Ok(*kind));
        }
        let callers: Vec<_> = ChannelKind::ALL.iter().filter(|k| k.can_call()).map(|k| k.as_str()).collect();
        assert_eq!(callers, ["twilio"]);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_under_its_key() {
        let (settings, errors) = parse("pagerduty", "routing_key = 42");
        assert!(settings.is_none());
        assert_eq!(errors, ["channels[0].routing_key: must be a string, not integer"]);
    }

    #[test]
    fn a_refused_value_refuses_the_entry_even_when_its_key_is_optional() {
        let (settings, errors) = parse("webhook", "url = \"http://127.0.0.1:9/\"\nsecret = true");
        assert!(settings.is_none());
        assert_eq!(errors, ["channels[0].secret: must be a string, not boolean"]);
        let (settings, errors) = parse("webhook", "url = \"http://127.0.0.1:9/\"");
        assert_eq!(settings.map(|s| s.kind()), Some(ChannelKind::Webhook));
        assert!(errors.is_empty(), "{errors:?}");
    }
}
