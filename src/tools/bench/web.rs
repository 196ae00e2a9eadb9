//! `firstwatch bench --web`: the status pages under concurrent load. 10,000 servers (100
//! customers of 100) with 90 days of daily roll-ups in a temporary SQLite database and a few
//! open cases; `concurrency` keep-alive clients on loopback request
//! `GET /` (with a viewer's bearer token, then with a signed-in session's cookie) and
//! `GET /status/c0` (with the customer's token) for `duration` each; prints requests/s and
//! latency p50/p99/max per page.

use std::process::ExitCode;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::tempfile_dir;
use crate::app::App;
use crate::config::Config;
use crate::domain::ServerState;
use crate::store::{Batch, RollupDelta, Store};

const DAY_MS: i64 = 86_400_000;
/// The viewer token the operations page is read with.
const VIEWER: &str = "bench-viewer";

/// Sign in at `/login` with [`VIEWER`]; the `Cookie` header value of the session.
async fn sign_in(addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let client = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build()?;
    let response = client
        .post(format!("http://{addr}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={VIEWER}"))
        .send()
        .await?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("sign-in gave no session cookie (status {})", response.status()))?;
    Ok(cookie.to_string())
}

async fn seed_history(store: &Store, servers: usize, now: i64) -> anyhow::Result<()> {
    let today = now - now.rem_euclid(DAY_MS);
    for chunk in (0..servers).collect::<Vec<_>>().chunks(500) {
        let mut rollups = Vec::with_capacity(chunk.len() * 90);
        for &s in chunk {
            for day in 1..=90 {
                let failures = i64::from((s + day) % 37 == 0) * 3;
                rollups.push(RollupDelta {
                    server_id: format!("s{s}"),
                    hour: today - day as i64 * DAY_MS,
                    probes: 96,
                    failures,
                    latency_sum_ms: 96 * 4,
                    latency_max_ms: 9,
                    customer: format!("c{}", s / 100).into(),
                    service: format!("svc{}", (s % 100) / 25).into(),
                });
            }
        }
        store.save_batch(&Batch { rollups, ..Batch::default() }).await?;
    }
    Ok(())
}

/// `concurrency` clients requesting `url` for `duration`; latencies in ms, sorted.
pub(super) async fn load(
    url: String,
    header: Option<(&'static str, String)>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let deadline = Instant::now() + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, header) = (client.clone(), url.clone(), header.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let started = Instant::now();
                let mut request = client.get(&url);
                if let Some((name, value)) = &header {
                    request = request.header(*name, value);
                }
                match request.send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let mut all = Vec::new();
    let mut errors = 0;
    while let Some(joined) = workers.join_next().await {
        let (latencies, e) = joined?;
        all.extend(latencies);
        errors += e;
    }
    all.sort_by(f64::total_cmp);
    Ok((all, errors))
}

pub(super) fn pick(sorted: &[f64], q: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::NAN)
}

pub async fn run_web(concurrency: usize, duration: Duration) -> anyhow::Result<ExitCode> {
    let servers = 10_000;
    let dir = tempfile_dir()?;
    // Targets on a closed loopback port with a day-long interval: the fleet exists and is
    // mostly "unknown", a few servers are made "down" below, nothing loads the probe path.
    let mut text = format!(
        "[server]\nviewer_tokens = [{{ name = \"bench\", token = \"{VIEWER}\" }}]\n\
         [database]\nurl = \"sqlite://{}\"\n[probing]\ninterval = \"24h\"\nretry_interval = \"24h\"\ntimeout = \"1s\"\n",
        dir.join("web.db").display()
    );
    for c in 0..servers / 100 {
        text.push_str(&format!("[[customers]]\nid = \"c{c}\"\nstatus_token = \"token-c{c}\"\n"));
        for svc in 0..4 {
            text.push_str(&format!("[[customers.services]]\nid = \"svc{svc}\"\n"));
            for s in (c * 100 + svc * 25)..(c * 100 + svc * 25 + 25) {
                text.push_str(&format!(
                    "[[customers.services.servers]]\nid = \"s{s}\"\ntarget = \"tcp://127.0.0.1:9\"\n"
                ));
                if s % 97 == 0 {
                    // About 1% of the fleet fails for real, so pages show down servers and cases.
                    text.push_str(
                        "interval = \"1s\"\nretry_interval = \"100ms\"\nfailure_threshold = 3\ntimeout = \"100ms\"\n",
                    );
                }
            }
        }
    }
    let config = Config::from_toml(&text, |_| None).map_err(|e| anyhow::anyhow!("bench configuration: {e}"))?;
    let store = Store::connect(config.database.url.expose()).await?;
    let now = crate::clock::unix_ms(std::time::SystemTime::now());
    let seeding = Instant::now();
    seed_history(&store, servers, now).await?;
    store.close().await;
    println!("bench: {servers} servers, 90 days of roll-ups seeded in {:.1}s", seeding.elapsed().as_secs_f64());

    let app = App::build(config).await?;
    let fleet = app.fleet();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let running = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    let settle = Instant::now() + Duration::from_secs(10);
    while Instant::now() < settle && fleet.counts().get(ServerState::Down) < 100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let down = fleet.counts().get(ServerState::Down);
    println!(
        "{down} servers down, the rest unknown or failing; {concurrency} clients for {}s per page",
        duration.as_secs()
    );

    let session = sign_in(addr).await?;
    let bearer = |token: &str| Some(("authorization", format!("Bearer {token}")));
    for (name, url, header) in [
        ("GET / (bearer)", format!("http://{addr}/"), bearer(VIEWER)),
        ("GET / (session)", format!("http://{addr}/"), Some(("cookie", session))),
        ("GET /status/c0", format!("http://{addr}/status/c0"), bearer("token-c0")),
    ] {
        // Warm caches (the finished days of the uptime bars) before measuring.
        load(url.clone(), header.clone(), 1, Duration::from_millis(300)).await?;
        let (latencies, errors) = load(url, header, concurrency, duration).await?;
        println!(
            "{name:<16} {} requests in {:.0}s = {:.0}/s, {errors} errors; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({concurrency} concurrent clients)",
            latencies.len(),
            duration.as_secs_f64(),
            latencies.len() as f64 / duration.as_secs_f64(),
            pick(&latencies, 0.5),
            pick(&latencies, 0.99),
            pick(&latencies, 1.0),
        );
    }
    shutdown.cancel();
    running.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
