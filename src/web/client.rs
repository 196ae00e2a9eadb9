//! Who is at the other end of a request (PRODUCT.md section 11): the TCP peer, or, when the
//! peer is one of `[server] trusted_proxies`, the first `X-Forwarded-For` hop before our
//! proxies (the nearest one that is not a trusted proxy). Only the sign-in rate limit keys on
//! it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};

use super::AppState;

/// The client's address; `None` when the connection did not say (a router driven in-process).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr::of(&parts.extensions, &parts.headers, state))
    }
}

impl ClientAddr {
    /// The client of a request with these extensions and headers.
    pub fn of(extensions: &Extensions, headers: &HeaderMap, state: &AppState) -> ClientAddr {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        ClientAddr(peer.map(|peer| client_of(peer, headers, &state.config().server.trusted_proxies)))
    }
}

/// `peer`, or, when `peer` is a trusted proxy, the nearest `X-Forwarded-For` hop that is not
/// one: walking the header from the right skips our own proxies, so what a client writes into
/// the header itself (proxies append to it) can never name it.
fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |addr: &IpAddr| trusted.iter().any(|net| net.contains(addr));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    for hop in hops.iter().rev().flat_map(|v| v.rsplit(',')) {
        match hop.trim().parse::<IpAddr>() {
            Ok(addr) => {
                client = addr.to_canonical();
                if !is_trusted(&client) {
                    return client;
                }
            }
            // Not an address: nothing further left can be trusted.
            Err(_) => return client,
        }
    }
    client
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
        assert_eq!(client_of(proxy, &forwarded("203.0.113.7"), &trusted), client);
        assert_eq!(client_of(proxy, &forwarded("203.0.113.7, 10.0.0.9"), &trusted), client, "our proxies skipped");
        let spoofed = forwarded("198.51.100.99, 203.0.113.7");
        assert_eq!(client_of(proxy, &spoofed, &trusted), client, "what the client wrote is not believed");
        assert_eq!(client_of(proxy, &forwarded("not-an-address"), &trusted), proxy);
        assert_eq!(client_of(proxy, &HeaderMap::new(), &trusted), proxy);
        let stranger: IpAddr = "198.51.100.1".parse().expect("ip");
        assert_eq!(client_of(stranger, &forwarded("203.0.113.7"), &trusted), stranger);
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().expect("ip");
        assert_eq!(client_of(mapped, &forwarded("203.0.113.7"), &trusted), client);
    }
}
