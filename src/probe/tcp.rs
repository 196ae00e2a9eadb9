//! `tcp://host:port` status requests: success is a completed TCP handshake, nothing is sent.
//!
//! Owns: resolving the host (through the shared resolver) and connecting within the timeout.
//! Does not own: what a failure means for the server.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use super::dns::Resolver;
use super::{ProbeError, Success};

/// Connect to `host:port`. The look-up and every connection attempt together stay within
/// `timeout`. Addresses are tried in the resolver's order; the first that accepts wins, and if
/// none does, the last address's failure is reported.
pub(crate) async fn connect(
    resolver: &Resolver,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Success, ProbeError> {
    match tokio::time::timeout(timeout, connect_any(resolver, host, port)).await {
        Ok(Ok(addr)) => Ok(Success { detail: format!("connected to {addr}") }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ProbeError::Timeout(timeout)),
    }
}

async fn connect_any(resolver: &Resolver, host: &str, port: u16) -> Result<SocketAddr, ProbeError> {
    // IP literals skip the resolver without allocating a list.
    if let Ok(ip) = host.parse::<IpAddr>() {
        return connect_one(SocketAddr::new(ip, port)).await;
    }
    let mut last = ProbeError::Dns("no records".into());
    for ip in resolver.lookup(host).await? {
        match connect_one(SocketAddr::new(ip, port)).await {
            Ok(addr) => return Ok(addr),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn connect_one(addr: SocketAddr) -> Result<SocketAddr, ProbeError> {
    // The stream is dropped at once: the handshake is the whole check.
    TcpStream::connect(addr).await.map(|_| addr).map_err(|e| classify(&e))
}

fn classify(e: &io::Error) -> ProbeError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ProbeError::Refused,
        _ => ProbeError::Connection(e.to_string()),
    }
}
