//! Rules for single values (durations, thresholds, ids, addresses, times, secrets, URLs) and
//! the [`Checker`] that records every broken rule with its key path.
//!
//! Each check records its own error and returns `None` (or the default) so validation carries
//! on: an operator should see every problem of a file in one pass, not one per run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use humantime::format_duration;
use reqwest::Url;

use crate::config::defaults::{MAX_INTERVAL, MAX_THRESHOLD, MIN_DURATION};
use crate::config::{ConfigError, ConfigErrors, ExpectStatus, Secret};

/// Longest accepted id: ids end up in URLs, metric labels and case events.
const MAX_ID_LEN: usize = 64;

/// Collects errors while the validator walks the file; also carries the `env:` lookup.
pub(crate) struct Checker<'e> {
    errors: Vec<ConfigError>,
    env: &'e dyn Fn(&str) -> Option<String>,
}

impl<'e> Checker<'e> {
    pub(crate) fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Checker { errors: Vec::new(), env }
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Record an error. The same error is kept once: a broken fleet-wide default would
    /// otherwise be reported again for every server that inherits it.
    pub(crate) fn error(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        let err = ConfigError { path: path.into(), msg: msg.into() };
        if !self.errors.contains(&err) {
            self.errors.push(err);
        }
    }

    pub(crate) fn into_errors(mut self) -> ConfigErrors {
        if self.errors.is_empty() {
            // Only reachable if a check returned `None` without recording why.
            self.error("(file)", "invalid configuration");
        }
        ConfigErrors(self.errors)
    }

    /// A humantime duration of at least [`MIN_DURATION`].
    pub(crate) fn duration(&mut self, path: &str, raw: &str) -> Option<Duration> {
        let d = self.any_duration(path, raw)?;
        if d < MIN_DURATION {
            self.error(
                path,
                format!("{} is below the minimum of {}", format_duration(d), format_duration(MIN_DURATION)),
            );
            return None;
        }
        Some(d)
    }

    /// A humantime duration of any length (escalation `after` may be `0s`).
    pub(crate) fn any_duration(&mut self, path: &str, raw: &str) -> Option<Duration> {
        match humantime::parse_duration(raw.trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(path, format!("invalid duration {raw:?}: {e} (write e.g. \"500ms\", \"1m\", \"2h\")"));
                None
            }
        }
    }

    /// An optional duration key with its default.
    pub(crate) fn duration_or(&mut self, path: &str, raw: Option<&str>, default: Duration) -> Duration {
        raw.and_then(|r| self.duration(path, r)).unwrap_or(default)
    }

    /// A probe interval: at least [`MIN_DURATION`], at most [`MAX_INTERVAL`].
    pub(crate) fn interval(&mut self, path: &str, raw: &str) -> Option<Duration> {
        let d = self.duration(path, raw)?;
        if d > MAX_INTERVAL {
            self.error(
                path,
                format!("{} is above the maximum of {}", format_duration(d), format_duration(MAX_INTERVAL)),
            );
            return None;
        }
        Some(d)
    }

    /// A failure or recovery threshold: `1..=MAX_THRESHOLD` results in sequence.
    pub(crate) fn threshold(&mut self, path: &str, raw: i64) -> Option<u32> {
        match u32::try_from(raw) {
            Ok(n) if (1..=MAX_THRESHOLD).contains(&n) => Some(n),
            _ => {
                self.error(path, format!("must be between 1 and {MAX_THRESHOLD}, got {raw}"));
                None
            }
        }
    }

    /// A count of at most `max` (and at least 1), `default` when absent or refused.
    pub(crate) fn count_or(&mut self, path: &str, raw: Option<i64>, max: usize, default: usize) -> usize {
        let Some(n) = raw else { return default };
        match usize::try_from(n) {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                self.error(path, format!("must be between 1 and {max}, got {n}"));
                default
            }
        }
    }

    /// A non-empty list of HTTP statuses that count as success.
    pub(crate) fn expect_status(&mut self, path: &str, raw: &[i64]) -> Option<ExpectStatus> {
        if raw.is_empty() {
            self.error(path, "must list at least one status (leave it out to accept any 2xx)");
            return None;
        }
        let mut list = Vec::with_capacity(raw.len());
        for (i, &status) in raw.iter().enumerate() {
            match u16::try_from(status) {
                Ok(s) if (100..=599).contains(&s) => list.push(s),
                _ => self.error(format!("{path}[{i}]"), format!("{status} is not an HTTP status (100 to 599)")),
            }
        }
        (list.len() == raw.len()).then_some(ExpectStatus::OneOf(list))
    }

    /// An id: non-empty, at most [`MAX_ID_LEN`] characters of `[A-Za-z0-9_.-]`, so it is safe
    /// in URLs (`/status/{customer}`), metric labels and `role:`/`person:` references.
    pub(crate) fn id(&mut self, path: &str, raw: &str) -> bool {
        let msg = if raw.is_empty() {
            "must not be empty".to_string()
        } else if raw.chars().count() > MAX_ID_LEN {
            format!("{raw:?} is longer than {MAX_ID_LEN} characters")
        } else if let Some(bad) = raw.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c))) {
            format!("{raw:?} contains {bad:?}; ids may use only letters, digits, '_', '.' and '-'")
        } else {
            return true;
        };
        self.error(path, msg);
        false
    }

    /// Refuse a second use of an id within `seen` (one namespace), naming the first place.
    pub(crate) fn unique(&mut self, seen: &mut HashMap<String, String>, what: &str, id: &str, path: &str) {
        let owner = path.strip_suffix(".id").unwrap_or(path);
        match seen.get(id) {
            Some(first) => self.error(path, format!("duplicate {what} id {id:?} (first at {first})")),
            None => {
                seen.insert(id.to_string(), owner.to_string());
            }
        }
    }

    /// A display name: defaults to the id, but an explicit one must say something.
    pub(crate) fn name(&mut self, path: &str, raw: Option<&str>, id: &str) -> String {
        match raw {
            Some(name) if name.trim().is_empty() => {
                self.error(path, "must not be empty (leave it out to use the id)");
                id.to_string()
            }
            Some(name) => name.to_string(),
            None => id.to_string(),
        }
    }

    /// An email address: exactly one `@`, something on both sides, no spaces.
    pub(crate) fn email(&mut self, path: &str, raw: &str) -> bool {
        let ok = match raw.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !raw.contains(char::is_whitespace)
            }
            None => false,
        };
        if !ok {
            self.error(path, format!("{raw:?} is not an email address"));
        }
        ok
    }

    /// A phone number in E.164 form (`+` then 6 to 15 digits), as SMS and voice APIs want it.
    pub(crate) fn phone(&mut self, path: &str, raw: &str) -> bool {
        let ok = raw
            .strip_prefix('+')
            .is_some_and(|digits| (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            self.error(path, format!("{raw:?} is not an E.164 phone number (+ then 6 to 15 digits)"));
        }
        ok
    }

    /// A secret, written literally or as `env:NAME`.
    pub(crate) fn secret(&mut self, path: &str, raw: &str) -> Option<Secret> {
        let env = self.env;
        Secret::resolve(raw, env).map_err(|msg| self.error(path, msg)).ok()
    }

    /// An `http://` or `https://` URL with a host.
    pub(crate) fn http_url(&mut self, path: &str, raw: &str) -> Option<Url> {
        let url = match Url::parse(raw.trim()) {
            Ok(url) => url,
            Err(e) => {
                self.error(path, format!("not a URL: {e}"));
                return None;
            }
        };
        if !matches!(url.scheme(), "http" | "https") {
            self.error(path, format!("unsupported scheme {:?} (use http:// or https://)", url.scheme()));
            return None;
        }
        if url.host_str().is_none_or(str::is_empty) {
            self.error(path, "missing host");
            return None;
        }
        Some(url)
    }

    /// An `ip:port` socket address.
    pub(crate) fn socket_addr(&mut self, path: &str, raw: &str) -> Option<SocketAddr> {
        match raw.trim().parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.error(path, format!("{raw:?} is not an ip:port address (e.g. 127.0.0.1:8080 or [::1]:8080)"));
                None
            }
        }
    }

    /// An RFC 3339 time with a zone: a quoted string or a bare TOML datetime.
    pub(crate) fn time(&mut self, path: &str, raw: &toml::Value) -> Option<SystemTime> {
        let text = match raw {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(dt) => dt.to_string(),
            other => {
                self.error(
                    path,
                    format!("expected an RFC 3339 time like \"2026-12-01T02:00:00Z\", got a {}", other.type_str()),
                );
                return None;
            }
        };
        crate::clock::parse_rfc3339(&text).map_err(|msg| self.error(path, msg)).ok()
    }
}
