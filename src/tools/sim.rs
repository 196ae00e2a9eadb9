//! Simulated servers on loopback for `firstwatch demo` and `firstwatch bench`: a minimal
//! HTTP/1.1 responder whose answer can be switched at run time (healthy, an error status, or a
//! hang). It closes every connection after one answer, like a status endpoint behind a
//! proxy that does not keep connections alive. Not used by the monitor itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// `status` value meaning "accept, then never answer".
pub const HANG: u16 = 0;

/// A running simulated server. Dropping it stops accepting.
pub struct SimServer {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    hits: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl SimServer {
    /// Listen on `addr` (port 0 picks one) answering `200 OK`.
    pub async fn start(addr: SocketAddr) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(SimServer::serve(listener))
    }

    pub fn serve(listener: TcpListener) -> SimServer {
        let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let status = Arc::new(AtomicU16::new(200));
        let hits = Arc::new(AtomicU64::new(0));
        let (s, h) = (status.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (s, h) = (s.clone(), h.clone());
                tokio::spawn(async move {
                    h.fetch_add(1, Ordering::Relaxed);
                    let _ = answer(stream, s.load(Ordering::Relaxed)).await;
                });
            }
        });
        SimServer { addr, status, hits, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    /// Answer with `status` from now on ([`HANG`] to stop answering).
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut stream: TcpStream, status: u16) -> std::io::Result<()> {
    let mut buf = [0u8; 2048];
    let mut read = 0;
    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        if read == buf.len() {
            break;
        }
        let n = stream.read(&mut buf[read..]).await?;
        if n == 0 {
            return Ok(());
        }
        read += n;
    }
    if status == HANG {
        std::future::pending::<()>().await;
    }
    let body = if (200..300).contains(&status) { "ok\n" } else { "unavailable\n" };
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
