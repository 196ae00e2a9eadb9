//! Who is at the other end of a request (PRODUCT.md section 11): the TCP peer, or, when the
//! peer is one of `[server] trusted_proxies`, the first hop of its `X-Forwarded-For`. Only the
//! login rate limit keys on it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;

/// The client's address; `None` when the connection did not say (a router driven in-process).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(peer.map(|peer| client_of(peer, &parts.headers, &state.config.server.trusted_proxies))))
    }
}

/// `peer`, or the first `X-Forwarded-For` hop when `peer` is a trusted proxy and the hop is an
/// address.
fn client_of(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return peer;
    }
    let first = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
    first.map_or(peer, |hop| hop.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn only_a_trusted_proxy_may_name_the_client() {
        let proxy: IpAddr = "10.0.0.5".parse().expect("ip");
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/24".parse().expect("net")];
        let client: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(client_of(proxy, &forwarded("203.0.113.7, 10.0.0.9"), &trusted), client);
        assert_eq!(client_of(proxy, &forwarded("not-an-address"), &trusted), proxy);
        assert_eq!(client_of(proxy, &HeaderMap::new(), &trusted), proxy);
        let stranger: IpAddr = "198.51.100.1".parse().expect("ip");
        assert_eq!(client_of(stranger, &forwarded("203.0.113.7"), &trusted), stranger);
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().expect("ip");
        assert_eq!(client_of(mapped, &forwarded("203.0.113.7"), &trusted), client);
    }
}
