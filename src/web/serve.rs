//! The HTTP listener with its bounds on clients (PRODUCT.md section 11): at most
//! `[server] max_connections` connections at once (more wait in the kernel's backlog, holding
//! no descriptor of ours), a request's headers within [`HEADER_READ`] of the accept or of the
//! previous response on a kept-alive connection, else the connection is closed (hyper's
//! header read timeout). Bodies are bounded by `json::read_body_first` (1 MiB, 30 s). Each
//! request carries its TCP peer (`ConnectInfo`) for the login rate limit. On stop, idle
//! connections close and requests in flight finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long a client may take to send a request's headers.
pub const HEADER_READ: Duration = Duration::from_secs(10);
/// A failing `accept` (out of descriptors, typically) is retried after this pause.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
/// At most one log line per this period about failing accepts.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Serve `router` on `listener` until `stop`, then let requests in flight finish.
pub async fn serve(listener: TcpListener, router: Router, max_connections: usize, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut last_logged: Option<Instant> = None;
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if last_logged.is_none_or(|at| at.elapsed() >= ACCEPT_LOG_EVERY) {
                        tracing::warn!(%error, "cannot accept a connection; retrying");
                        last_logged = Some(Instant::now());
                    }
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, stop) = (router.clone(), stop.clone());
        connections.spawn(async move {
            let _permit = permit;
            connection(stream, peer, router, stop).await;
        });
    }
    // New clients are refused at once rather than accepted by the kernel and then dropped.
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// One connection, HTTP/1.1 with keep-alive.
async fn connection(stream: tokio::net::TcpStream, peer: SocketAddr, router: Router, stop: CancellationToken) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move { Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|never| match never {})) }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %peer, "connection ended with an error");
    }
}
