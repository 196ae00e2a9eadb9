//! `http(s)://` status requests: one GET, judged by its status.
//!
//! Owns: the one shared HTTP client (fresh connection per request, bounded redirects, rustls
//! with webpki roots, host names through our resolver) and turning reqwest's errors into
//! [`ProbeError`]s. Does not own: what a failure means for the server, retries, or scheduling.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;

use reqwest::{Client, Url};

use super::dns::{HttpResolve, LookupFailed, Resolver};
use super::{Limits, ProbeError, ProbeInitError, Success, MAX_BODY, MAX_REDIRECTS};

const USER_AGENT: &str = concat!("firstwatch/", env!("CARGO_PKG_VERSION"));

/// The process-wide client. Built once: per-request clients would cost a TLS config and a
/// connection pool each.
pub(crate) fn client(resolver: Arc<Resolver>) -> Result<Client, ProbeInitError> {
    Client::builder()
        // No idle connections kept: every status request opens its own connection, so a
        // server that stops accepting is noticed instead of hidden by a pooled connection.
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        // A probe must reach the server itself, whatever HTTP_PROXY says.
        .no_proxy()
        .user_agent(USER_AGENT)
        .dns_resolver(Arc::new(HttpResolve(resolver)))
        .build()
        .map_err(|e| ProbeInitError(format!("http client: {e}")))
}

/// One GET of `url`. Everything (look-up, connect, TLS, redirects, headers, body) stays within
/// `limits.timeout`, so a server that trickles its body is cut off too. At most [`MAX_BODY`]
/// bytes of the body are read; the status alone decides success.
pub(crate) async fn get(client: &Client, url: &Url, limits: &Limits) -> Result<Success, ProbeError> {
    match tokio::time::timeout(limits.timeout, exchange(client, url, limits)).await {
        Ok(Ok(status)) => Ok(Success { detail: format!("HTTP {status}") }),
        Ok(Err(e)) => Err(classify(&e, limits)),
        Err(_) => Err(ProbeError::Timeout(limits.timeout)),
    }
}

/// The status of an accepted response, after reading (a bounded part of) its body.
async fn exchange(client: &Client, url: &Url, limits: &Limits) -> Result<u16, Outcome> {
    let mut response = client.get(url.clone()).send().await.map_err(Outcome::Failed)?;
    let status = response.status().as_u16();
    if !limits.expect_status.accepts(status) {
        // Nothing in the body can change the verdict; don't wait for it.
        return Err(Outcome::Status(status));
    }
    // The body is read so that a server that sends headers and then breaks is not counted as
    // healthy; reading stops at MAX_BODY and dropping the response closes the connection.
    let mut read = 0usize;
    while read < MAX_BODY {
        match response.chunk().await.map_err(Outcome::Failed)? {
            Some(chunk) => read += chunk.len(),
            None => break,
        }
    }
    Ok(status)
}

/// Why [`exchange`] did not return an accepted status.
enum Outcome {
    Status(u16),
    Failed(reqwest::Error),
}

fn classify(outcome: &Outcome, limits: &Limits) -> ProbeError {
    let e = match outcome {
        Outcome::Status(code) => return ProbeError::Status(*code),
        Outcome::Failed(e) => e,
    };
    if e.is_redirect() {
        return ProbeError::TooManyRedirects;
    }
    let mut innermost: &(dyn StdError + 'static) = e;
    let mut timed_out = e.is_timeout();
    for cause in causes(e) {
        if let Some(LookupFailed(dns)) = cause.downcast_ref::<LookupFailed>() {
            return dns.clone();
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return ProbeError::Tls(tls.to_string());
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return ProbeError::Refused,
                io::ErrorKind::TimedOut => timed_out = true,
                _ => {}
            }
        }
        innermost = cause;
    }
    if timed_out {
        return ProbeError::Timeout(limits.timeout);
    }
    ProbeError::Connection(innermost.to_string())
}

/// The causes of `e`, outermost first. Unlike [`StdError::source`], this also steps into the
/// error an [`io::Error`] wraps (`io::Error::source` skips it), which is where rustls and
/// our resolver put theirs.
fn causes<'a>(e: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(next_cause(e), |&cause| next_cause(cause))
}

fn next_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
        return Some(inner);
    }
    e.source()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<dyn StdError + Send + Sync + 'static>>);

    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn causes_step_into_the_error_an_io_error_wraps() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, tls);
        let outer = Wrap("client error (Connect)", Some(Box::new(io)));
        let found = causes(&outer).find_map(|c| c.downcast_ref::<rustls::Error>().map(|e| e.to_string()));
        assert_eq!(found.as_deref(), Some("invalid peer certificate: UnknownIssuer"));
    }

    #[test]
    fn causes_end_at_the_innermost_error() {
        let outer = Wrap("a", Some(Box::new(Wrap("b", Some(Box::new(Wrap("c", None)))))));
        let texts: Vec<String> = causes(&outer).map(|c| c.to_string()).collect();
        assert_eq!(texts, ["b", "c"]);
    }
}
