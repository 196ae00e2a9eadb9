//! Slow and hostile clients against the real listener: idle half-open connections do not stop
//! an operator's call or the probes and are closed once their headers are 10 s late; past
//! `max_connections` a client waits instead of taking descriptors.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::app::{config_toml, server_keys, wait_until, Srv, TestApp, OPERATOR_TOKEN};
use crate::helpers::db::{Backend, TestDb};
use crate::helpers::targets::{Behavior, FakeTarget};

const FAST: &str = "interval = \"200ms\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"";

/// Open `n` connections: every other one sends half a request head, the rest nothing at all.
async fn half_open(app: &TestApp, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream = TcpStream::connect(app.addr).await.expect("connect");
        if i % 2 == 0 {
            stream.write_all(b"GET /api/v1/servers HTTP/1.1\r\nHost: x\r\n").await.expect("half a head");
        }
        idle.push(stream);
    }
    idle
}

/// Whether the server closed `stream` (EOF or reset) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        // hyper may answer 408 before closing; what follows is the close.
        Ok(Ok(_)) => matches!(tokio::time::timeout(limit, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_))),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_idle_connections_stop_neither_an_operator_nor_the_probes() {
    firstwatch::limits::raise_open_files();
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let app = TestApp::spawn(&config_toml(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())])).await;
    wait_until(Duration::from_secs(10), "first probes", || async { target.hits() > 0 }).await;

    let opened = Instant::now();
    let mut idle = half_open(&app, 300).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
    let answer = client
        .get(format!("http://{}/api/v1/servers", app.addr))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("the operator's call answers within 2 s");
    assert_eq!(answer.status().as_u16(), 200);
    let hits = target.hits();
    wait_until(Duration::from_secs(5), "probes going on", || async { target.hits() >= hits + 3 }).await;

    // Their headers are late: every one is closed at 10 s, none long before.
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_secs(20)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 300, "every idle connection is closed");
    assert!(opened.elapsed() >= Duration::from_secs(9), "not before the header deadline");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_client_waits_for_a_free_one() {
    let db = TestDb::new(Backend::Sqlite).await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let text = config_toml(&db.url, FAST, &[Srv::new("acme-eu-1", target.url())]);
    let app = TestApp::spawn(&server_keys(&text, "max_connections = 4")).await;
    let idle = half_open(&app, 4).await;
    let started = Instant::now();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let answer = client.get(format!("http://{}/healthz", app.addr)).send().await.expect("answered in the end");
    assert_eq!(answer.status().as_u16(), 200);
    // Served only once the header deadline freed a connection.
    assert!(started.elapsed() >= Duration::from_secs(9), "served after {:?}", started.elapsed());
    drop(idle);
    app.stop().await;
}
