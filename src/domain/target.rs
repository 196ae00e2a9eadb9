//! What a status request is sent to: `http(s)://…`, `tcp://host:port` or `dns://name`.
//! Parsed once from config; the probe module trusts the parsed form.

use std::fmt;
use std::str::FromStr;

use reqwest::Url;

/// A parsed probe target. `Display` gives back the form the operator wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// GET this URL; success is decided by the expected status.
    Http(Url),
    /// Open a TCP connection to `host:port`.
    Tcp { host: String, port: u16 },
    /// Resolve `name` to A/AAAA records.
    Dns { name: String },
}

/// The probe kind, used as the `kind` label of probe metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Http,
    Tcp,
    Dns,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [ProbeKind::Http, ProbeKind::Tcp, ProbeKind::Dns];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Http => "http",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Dns => "dns",
        }
    }
}

/// Why a target string was refused; the message is shown after the config key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("not a URL: {0}")]
    NotAUrl(String),
    #[error("unsupported scheme {0:?} (use https://, http://, tcp://host:port or dns://name)")]
    UnsupportedScheme(String),
    #[error("missing host")]
    MissingHost,
    #[error("tcp target needs a port (tcp://host:port)")]
    MissingPort,
    #[error("tcp and dns targets take no path, query or credentials")]
    ExtraParts,
}

impl Target {
    pub fn kind(&self) -> ProbeKind {
        match self {
            Target::Http(_) => ProbeKind::Http,
            Target::Tcp { .. } => ProbeKind::Tcp,
            Target::Dns { .. } => ProbeKind::Dns,
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(raw.trim()).map_err(|e| TargetError::NotAUrl(e.to_string()))?;
        let host = || -> Result<String, TargetError> {
            match url.host_str() {
                Some(h) if !h.is_empty() => Ok(h.trim_start_matches('[').trim_end_matches(']').to_string()),
                _ => Err(TargetError::MissingHost),
            }
        };
        let bare = || {
            (url.path().is_empty() || url.path() == "/")
                && url.query().is_none()
                && url.username().is_empty()
                && url.password().is_none()
        };
        match url.scheme() {
            "http" | "https" => {
                host()?;
                Ok(Target::Http(url))
            }
            "tcp" => {
                let host = host()?;
                let port = url.port().ok_or(TargetError::MissingPort)?;
                if !bare() {
                    return Err(TargetError::ExtraParts);
                }
                Ok(Target::Tcp { host, port })
            }
            "dns" => {
                let name = host()?;
                if !bare() || url.port().is_some() {
                    return Err(TargetError::ExtraParts);
                }
                Ok(Target::Dns { name })
            }
            other => Err(TargetError::UnsupportedScheme(other.to_string())),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Http(url) => write!(f, "{url}"),
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Target::Dns { name } => write!(f, "dns://{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_scheme() {
        assert_eq!("https://shop.acme.test/health".parse::<Target>().map(|t| t.kind()), Ok(ProbeKind::Http));
        assert_eq!("tcp://127.0.0.1:9".parse::<Target>(), Ok(Target::Tcp { host: "127.0.0.1".into(), port: 9 }));
        assert_eq!("tcp://[::1]:25".parse::<Target>(), Ok(Target::Tcp { host: "::1".into(), port: 25 }));
        assert_eq!("dns://acme.test".parse::<Target>(), Ok(Target::Dns { name: "acme.test".into() }));
    }

    #[test]
    fn refuses_what_cannot_be_probed() {
        assert_eq!("ftp://files.acme.test".parse::<Target>(), Err(TargetError::UnsupportedScheme("ftp".into())));
        assert_eq!("tcp://db.acme.test".parse::<Target>(), Err(TargetError::MissingPort));
        assert_eq!("dns://acme.test/x".parse::<Target>(), Err(TargetError::ExtraParts));
        assert!(matches!("not a url".parse::<Target>(), Err(TargetError::NotAUrl(_))));
    }

    #[test]
    fn display_gives_back_the_written_form() {
        for raw in ["tcp://127.0.0.1:9", "tcp://[::1]:25", "dns://acme.test", "http://127.0.0.1:8080/health"] {
            assert_eq!(raw.parse::<Target>().map(|t| t.to_string()).as_deref(), Ok(raw));
        }
    }
}
