//! Secrets (from the config file): written literally or as `env:NAME`, resolved once at load.
//! `Debug` and `Display` never show the value, so a secret cannot leak through logs or errors.

use std::fmt;

/// A resolved secret value. Read it with [`Secret::expose`] only where it is sent or compared.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Resolve `env:NAME` through `lookup` (the process environment in production);
    /// anything else is taken literally. The error is the message shown after the key path.
    pub fn resolve(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Secret, String> {
        match raw.strip_prefix("env:") {
            Some("") => Err("`env:` needs a variable name".to_string()),
            Some(name) => match lookup(name) {
                Some(value) if !value.is_empty() => Ok(Secret(value)),
                Some(_) => Err(format!("environment variable {name} is empty")),
                None => Err(format!("environment variable {name} is not set")),
            },
            None if raw.is_empty() => Err("must not be empty".to_string()),
            None => Ok(Secret(raw.to_string())),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Whether `a` and `b` are equal, in a time that depends neither on where they differ nor on
/// their lengths: both sides are hashed (SHA-256) and the digests compared with `subtle`.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let digest = |bytes: &[u8]| ring::digest::digest(&ring::digest::SHA256, bytes);
    bool::from(digest(a).as_ref().ct_eq(digest(b).as_ref()))
}

/// A fresh bearer secret: 256 bits from the system's generator, as 64 hex digits (session
/// ids, ack-link tokens). `None` only if the system's generator fails.
pub fn random_token() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// Whether `text` has the shape of a [`random_token`] (checked before any lookup).
pub fn is_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the database keeps of a bearer secret: its SHA-256 in hex, so a copy of the table
/// lets nobody in.
pub fn sha256_hex(text: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_resolve_and_never_print() {
        let secret = Secret::resolve("env:TOKEN", |n| (n == "TOKEN").then(|| "s3cret".to_string()));
        let secret = secret.expect("TOKEN is provided by the lookup");
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
        assert_eq!(
            Secret::resolve("env:MISSING", |_| None),
            Err("environment variable MISSING is not set".to_string())
        );
        assert_eq!(Secret::resolve("literal", |_| None).map(|s| s.expose().to_string()), Ok("literal".into()));
    }
}
