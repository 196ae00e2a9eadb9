//! Name resolution for every probe kind: `dns://` status requests ([`Resolver::probe`]) and the
//! host names of `tcp://` and `http(s)://` targets ([`Resolver::lookup`], also plugged into
//! reqwest through [`HttpResolve`]). One hickory resolver per process, so all three kinds see the
//! same name servers and the same failures.
//!
//! Owns: resolver set-up from [`DnsConfig`], turning resolver errors into [`ProbeError::Dns`]
//! texts. Does not own: deciding what a failure means for a server (the tracker does that).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, TokioResolver};

use super::{ProbeError, ProbeInitError, Success};
use crate::config::DnsConfig;

/// How long one query to one name server may take. Short, because the whole status request
/// is bounded by the probe timeout anyway and a slow resolver should fail visibly.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Tries per look-up; a second try covers one lost UDP datagram.
const ATTEMPTS: usize = 2;
/// Addresses listed in a successful `dns://` probe's detail.
const SHOWN_ADDRESSES: usize = 3;

/// The process-wide resolver. Nothing is cached: a `dns://` probe must really ask, and a host
/// name behind an HTTP or TCP target whose DNS breaks should fail on its next status request.
pub(crate) struct Resolver {
    inner: TokioResolver,
    /// No name server at all (unreadable system config): fail look-ups without trying.
    no_servers: bool,
}

impl Resolver {
    /// Explicit `servers` are asked over UDP and TCP on their own ports; none means the
    /// system's resolv.conf. An unreadable system config is not fatal (a loopback-only machine
    /// must still probe IP targets): look-ups then fail with `dns: no name servers configured`.
    pub(crate) fn new(cfg: &DnsConfig) -> Result<Resolver, ProbeInitError> {
        let (config, opts) = if cfg.servers.is_empty() {
            match hickory_resolver::system_conf::read_system_conf() {
                Ok(system) => system,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the system resolver config; host names will not resolve");
                    (ResolverConfig::new(), ResolverOpts::default())
                }
            }
        } else {
            let mut config = ResolverConfig::new();
            for &addr in &cfg.servers {
                config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
            }
            (config, ResolverOpts::default())
        };
        Ok(Resolver::build(config, opts))
    }

    /// Our options over whatever `opts` the config came with.
    fn build(config: ResolverConfig, mut opts: ResolverOpts) -> Resolver {
        opts.timeout = QUERY_TIMEOUT;
        opts.attempts = ATTEMPTS;
        opts.cache_size = 0;
        // A zero TTL makes anything that slips into the cache stale at once.
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        let no_servers = config.name_servers().is_empty();
        let mut builder = TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        *builder.options_mut() = opts;
        Resolver { inner: builder.build(), no_servers }
    }

    /// A `dns://` status request: A/AAAA look-up of `name`, bounded by `timeout`.
    pub(crate) async fn probe(&self, name: &str, timeout: Duration) -> Result<Success, ProbeError> {
        let addrs = match tokio::time::timeout(timeout, self.lookup(name)).await {
            Ok(result) => result?,
            Err(_) => return Err(ProbeError::Timeout(timeout)),
        };
        Ok(Success { detail: describe_addresses(&addrs) })
    }

    /// The addresses of `name`, in the order the resolver gives them. IP literals are returned
    /// without asking anyone. Never returns an empty list.
    pub(crate) async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, ProbeError> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        if self.no_servers {
            return Err(ProbeError::Dns("no name servers configured".into()));
        }
        let found = self.inner.lookup_ip(name).await.map_err(|e| classify(&e))?;
        let addrs: Vec<IpAddr> = found.iter().collect();
        if addrs.is_empty() {
            return Err(ProbeError::Dns("no records".into()));
        }
        Ok(addrs)
    }
}

/// The text of a `dns: …` failure, the same for every probe kind.
fn classify(e: &ResolveError) -> ProbeError {
    let Some(proto) = e.proto() else {
        return ProbeError::Dns(e.to_string());
    };
    let text: Cow<'static, str> = match proto.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. } => rcode_text(*response_code),
        ProtoErrorKind::Timeout => "timeout".into(),
        ProtoErrorKind::NoConnections => "no name server reachable".into(),
        _ => proto.to_string().into(),
    };
    ProbeError::Dns(text.into_owned())
}

/// A failed answer's response code in words, with the code's usual name for searching logs.
fn rcode_text(code: ResponseCode) -> Cow<'static, str> {
    match code {
        ResponseCode::NoError => "no records".into(),
        ResponseCode::NXDomain => "no such name (NXDOMAIN)".into(),
        ResponseCode::ServFail => "server failure (SERVFAIL)".into(),
        ResponseCode::Refused => "query refused (REFUSED)".into(),
        ResponseCode::FormErr => "format error (FORMERR)".into(),
        ResponseCode::NotImp => "not implemented (NOTIMP)".into(),
        other => format!("{} (rcode {})", other.to_str().to_lowercase(), u16::from(other)).into(),
    }
}

/// `1 address: 127.0.0.1`, `2 addresses: 127.0.0.1, ::1`, `5 addresses: a, b, c, …`.
fn describe_addresses(addrs: &[IpAddr]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(16 + addrs.len().min(SHOWN_ADDRESSES) * 18);
    let noun = if addrs.len() == 1 { "address" } else { "addresses" };
    let _ = write!(out, "{} {noun}: ", addrs.len());
    for (i, ip) in addrs.iter().take(SHOWN_ADDRESSES).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{ip}");
    }
    if addrs.len() > SHOWN_ADDRESSES {
        out.push_str(", …");
    }
    out
}

/// Our resolver as reqwest's, so HTTP host names resolve exactly like `tcp://` and `dns://`
/// ones. (reqwest never calls it for IP literals.)
pub(crate) struct HttpResolve(pub(crate) Arc<Resolver>);

impl reqwest::dns::Resolve for HttpResolve {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.0.clone();
        Box::pin(async move {
            match resolver.lookup(name.as_str()).await {
                Ok(ips) => {
                    // Port 0 is replaced by the URL's port (or the scheme's default) by reqwest.
                    let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
                    Ok(addrs)
                }
                Err(e) => Err(Box::new(LookupFailed(e)) as Box<dyn StdError + Send + Sync>),
            }
        })
    }
}

/// A failed look-up travelling through reqwest's error chain; `http.rs` finds it there and
/// reports the very [`ProbeError`] a `dns://` probe would.
#[derive(Debug)]
pub(crate) struct LookupFailed(pub(crate) ProbeError);

impl fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for LookupFailed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_answers_read_as_words_with_their_code_name() {
        assert_eq!(rcode_text(ResponseCode::NXDomain), "no such name (NXDOMAIN)");
        assert_eq!(rcode_text(ResponseCode::ServFail), "server failure (SERVFAIL)");
        assert_eq!(rcode_text(ResponseCode::NoError), "no records");
        assert_eq!(rcode_text(ResponseCode::Refused), "query refused (REFUSED)");
        assert_eq!(rcode_text(ResponseCode::NotAuth), "not authorized (rcode 9)");
    }

    #[test]
    fn success_detail_counts_every_address_but_lists_at_most_three() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("test address");
        assert_eq!(describe_addresses(&[ip("127.0.0.1")]), "1 address: 127.0.0.1");
        assert_eq!(describe_addresses(&[ip("127.0.0.1"), ip("::1")]), "2 addresses: 127.0.0.1, ::1");
        let many: Vec<IpAddr> = (1..=5).map(|i| ip(&format!("10.0.0.{i}"))).collect();
        assert_eq!(describe_addresses(&many), "5 addresses: 10.0.0.1, 10.0.0.2, 10.0.0.3, …");
    }

    #[tokio::test]
    async fn without_name_servers_look_ups_fail_cleanly_and_ip_literals_still_work() {
        let resolver = Resolver::build(ResolverConfig::new(), ResolverOpts::default());
        assert_eq!(resolver.lookup("shop.acme.test").await, Err(ProbeError::Dns("no name servers configured".into())));
        assert_eq!(resolver.lookup("127.0.0.1").await, Ok(vec![IpAddr::from(std::net::Ipv4Addr::LOCALHOST)]));
    }
}
