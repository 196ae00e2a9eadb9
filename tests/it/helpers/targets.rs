//! Fake probe targets on 127.0.0.1: HTTP servers whose behaviour a test picks (and may switch
//! while running), a self-signed TLS server, and an address that refuses connections.
//!
//! Plain tokio TCP with a hand-written HTTP/1.1 answer, so every misbehaviour (hang, endless
//! body, redirect loop, dropped connection) is exactly what the test asked for. Every answer
//! says `Connection: close`. Not for load beyond a few thousand requests a second.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How a [`FakeTarget`] answers each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// `200 OK` with a short body.
    Healthy,
    /// This status with a short body.
    Status(u16),
    /// Reads the request and never answers (the connection stays open).
    Hang,
    /// `200 OK` and then a body that never ends (written as fast as the client reads it).
    HugeBody,
    /// `302 Found` to `/health`, forever.
    RedirectLoop,
    /// Reads the request and closes the connection without answering.
    Close,
}

/// A fake HTTP server on 127.0.0.1. Dropping it stops the server and every open connection.
pub struct FakeTarget {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    behavior: Arc<Mutex<Behavior>>,
    task: JoinHandle<()>,
}

impl FakeTarget {
    pub async fn start(b: Behavior) -> FakeTarget {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake target");
        let addr = listener.local_addr().expect("fake target address");
        let hits = Arc::new(AtomicUsize::new(0));
        let behavior = Arc::new(Mutex::new(b));
        let task = tokio::spawn(serve(listener, hits.clone(), behavior.clone()));
        FakeTarget { addr, hits, behavior, task }
    }

    /// `http://127.0.0.1:PORT/health`
    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests received so far (a request counts once its head has been read, whatever the
    /// behaviour then does with it).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Switch behaviour; applies to requests whose head is read from now on.
    pub fn set(&self, b: Behavior) {
        *self.behavior.lock().unwrap_or_else(|e| e.into_inner()) = b;
    }
}

impl Drop for FakeTarget {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, hits: Arc<AtomicUsize>, behavior: Arc<Mutex<Behavior>>) {
    let mut conns = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or similar: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let hits = hits.clone();
        let behavior = behavior.clone();
        conns.spawn(async move {
            let mut stream: TcpStream = stream;
            if !read_head(&mut stream).await {
                return;
            }
            hits.fetch_add(1, Ordering::SeqCst);
            let b = *behavior.lock().unwrap_or_else(|e| e.into_inner());
            answer(&mut stream, b).await;
        });
    }
}

/// Reads until the blank line that ends a request head. False if the client went away first.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return true;
        }
        if buf.len() > 64 * 1024 {
            return false;
        }
    }
}

async fn answer<S: AsyncWrite + Unpin>(stream: &mut S, b: Behavior) {
    match b {
        Behavior::Healthy => respond(stream, 200, "", b"ok\n").await,
        Behavior::Status(code) => respond(stream, code, "", b"fake status\n").await,
        Behavior::RedirectLoop => respond(stream, 302, "Location: /health\r\n", b"").await,
        Behavior::Close => {}
        Behavior::Hang => std::future::pending::<()>().await,
        Behavior::HugeBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            // No length and no end: only as fast as the client reads, until it hangs up.
            let block = [b'x'; 16 * 1024];
            while stream.write_all(&block).await.is_ok() {}
        }
    }
}

async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, code: u16, extra_headers: &str, body: &[u8]) {
    let reason = match code {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Fake",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_ok() && stream.write_all(body).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// A TLS server on 127.0.0.1 with a freshly generated self-signed certificate (for `localhost`
/// and `127.0.0.1`) that answers every request `200 OK`. Clients that verify certificates
/// must refuse it. Abort the handle to stop it.
pub async fn start_tls_self_signed() -> (SocketAddr, JoinHandle<()>) {
    use tokio_rustls::rustls;

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("self-signed certificate");
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key.into())
        .expect("TLS server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind TLS target");
    let addr = listener.local_addr().expect("TLS target address");
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            while conns.try_join_next().is_some() {}
            let acceptor = acceptor.clone();
            conns.spawn(async move {
                // A verifying client aborts the handshake; that is the expected path.
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                if read_head(&mut tls).await {
                    respond(&mut tls, 200, "", b"ok\n").await;
                }
            });
        }
    });
    (addr, task)
}

/// An address on 127.0.0.1 where nothing listens, so connecting is refused. (The port was
/// just free; another process could take it, which on a test machine practically never happens.)
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind for a free port");
    listener.local_addr().expect("free port address")
}
