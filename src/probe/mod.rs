//! One status request: `Prober::probe(&Target, &Limits) -> ProbeResult`. Every request is
//! bounded in time (`Limits::timeout` covers the whole request) and in size (at most
//! [`MAX_BODY`] bytes of an HTTP body are read). This module decides success or failure and
//! classifies the failure; it keeps no state between requests and knows nothing of thresholds.

mod dns;
mod http;
mod tcp;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{DnsConfig, ExpectStatus};
use crate::domain::{ProbeKind, Target};

/// At most this many bytes of an HTTP body are read; then reading stops and the status decides.
pub const MAX_BODY: usize = 64 * 1024;
/// Redirects followed before a request fails with `too many redirects`.
pub const MAX_REDIRECTS: usize = 5;

/// How one status request is bounded and judged.
#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    pub expect_status: ExpectStatus,
}

/// The outcome of one status request.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub kind: ProbeKind,
    /// Wall time the request took, up to the timeout.
    pub duration: Duration,
    pub outcome: Result<Success, ProbeError>,
}

impl ProbeResult {
    pub fn is_success(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// What a successful request saw, for `firstwatch probe` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success {
    /// e.g. `HTTP 200`, `connected to 127.0.0.1:9`, `2 addresses: 127.0.0.1, ::1`.
    pub detail: String,
}

/// Why a status request failed. `Display` is the short human-readable reason that becomes the
/// server's `last_error`; [`ProbeError::class`] is a stable one-word classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Name resolution failed: NXDOMAIN, SERVFAIL, empty answer, resolver timeout.
    #[error("dns: {0}")]
    Dns(String),
    #[error("connection refused")]
    Refused,
    #[error("timeout after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// Handshake or certificate problem, with the TLS library's reason.
    #[error("tls: {0}")]
    Tls(String),
    /// The server answered with a status that is not expected.
    #[error("http {0}")]
    Status(u16),
    #[error("too many redirects")]
    TooManyRedirects,
    /// Any other connection-level failure (reset, unreachable, protocol error).
    #[error("{0}")]
    Connection(String),
}

impl ProbeError {
    /// One word per kind of failure, for logs and labels.
    pub fn class(&self) -> &'static str {
        match self {
            ProbeError::Dns(_) => "dns",
            ProbeError::Refused => "refused",
            ProbeError::Timeout(_) => "timeout",
            ProbeError::Tls(_) => "tls",
            ProbeError::Status(_) => "status",
            ProbeError::TooManyRedirects => "redirects",
            ProbeError::Connection(_) => "connection",
        }
    }
}

/// Could not build the HTTP client or the resolver (bad system resolver config, TLS setup).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up probing: {0}")]
pub struct ProbeInitError(pub String);

/// Sends status requests. Cheap to clone; one per process is enough.
#[derive(Clone)]
pub struct Prober {
    http: reqwest::Client,
    resolver: Arc<dns::Resolver>,
}

impl Prober {
    pub fn new(dns: &DnsConfig) -> Result<Prober, ProbeInitError> {
        let resolver = Arc::new(dns::Resolver::new(dns)?);
        let http = http::client(resolver.clone())?;
        Ok(Prober { http, resolver })
    }

    /// Send one status request now. Never panics, never takes longer than `limits.timeout`
    /// (plus scheduling noise).
    pub async fn probe(&self, target: &Target, limits: &Limits) -> ProbeResult {
        let started = tokio::time::Instant::now();
        let outcome = match target {
            Target::Http(url) => http::get(&self.http, url, limits).await,
            Target::Tcp { host, port } => tcp::connect(&self.resolver, host, *port, limits.timeout).await,
            Target::Dns { name } => self.resolver.probe(name, limits.timeout).await,
        };
        ProbeResult { kind: target.kind(), duration: started.elapsed(), outcome }
    }
}
