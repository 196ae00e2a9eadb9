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
