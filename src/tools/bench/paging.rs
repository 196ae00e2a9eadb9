//! `firstwatch bench --pages N`: page latency, from the status request that crossed the
//! threshold to the page arriving at a local webhook receiver.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::tempfile_dir;
use crate::app::App;
use crate::config::Config;
use crate::tools::sim::SimServer;

/// Page latency: `cases` services each lose their only server at once (among healthy others,
/// so the guard stays calm); for each, the time from the status request that crossed the
/// threshold to its page arriving at a local webhook receiver.
pub async fn run_pages(cases: usize) -> anyhow::Result<ExitCode> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;

    let failing = SimServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let healthy = SimServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let receiver = {
        let arrivals = arrivals.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let arrivals = arrivals.clone();
                async move {
                    let now = Instant::now();
                    if let Ok(message) = serde_json::from_str::<serde_json::Value>(&body) {
                        if message["event"] == "page" {
                            if let Some(server) = message["case"]["server"].as_str() {
                                arrivals
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .entry(server.to_string())
                                    .or_insert(now);
                            }
                        }
                    }
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    };
    let dir = tempfile_dir()?;
    let mut text = format!(
        "[database]\nurl = \"sqlite://{}\"\n[probing]\ninterval = \"2s\"\nretry_interval = \"100ms\"\n\
         failure_threshold = 3\ntimeout = \"100ms\"\n\
         [[channels]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"http://{receiver}/hook\"\n\
         [[people]]\nid = \"alice\"\nrole = \"operations-manager\"\nchannels = [\"hook\"]\n",
        dir.join("pages.db").display()
    );
    let healthy_servers = cases * 4;
    for c in 0..cases + healthy_servers.div_ceil(100) {
        text.push_str(&format!("[[customers]]\nid = \"c{c}\"\n"));
        if c < cases {
            text.push_str(&format!(
                "[[customers.services]]\nid = \"web\"\n[[customers.services.servers]]\nid = \"down-{c}\"\ntarget = \"{}\"\n",
                failing.url()
            ));
        } else {
            text.push_str("[[customers.services]]\nid = \"web\"\n");
            let first = (c - cases) * 100;
            for s in first..(first + 100).min(healthy_servers) {
                text.push_str(&format!(
                    "[[customers.services.servers]]\nid = \"up-{s}\"\ntarget = \"{}\"\n",
                    healthy.url()
                ));
            }
        }
    }
    let config = Config::from_toml(&text, |_| None).map_err(|e| anyhow::anyhow!("bench configuration: {e}"))?;
    let app = App::build(config).await?;
    let fleet = app.fleet();
    let mut events = app.subscribe();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    // Let every server be probed healthy once, then take the failing ones down together.
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("bench: {cases} services go down among {healthy_servers} healthy servers; page to a local webhook");
    failing.set_status(503);
    let mut crossed: HashMap<String, Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let done = arrivals.lock().unwrap_or_else(|p| p.into_inner()).len() >= cases;
        if done && crossed.len() >= cases {
            break;
        }
        tokio::select! {
            event = events.recv() => {
                if let Ok(event) = event {
                    if event.transition.threshold_reached {
                        if let Some(entry) = fleet.entry(event.server) {
                            crossed.insert(entry.id.to_string(), Instant::now());
                        }
                    }
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    shutdown.cancel();
    running.await??;
    let _ = std::fs::remove_dir_all(&dir);
    let arrivals = arrivals.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut latencies: Vec<f64> = crossed
        .iter()
        .filter_map(|(server, at)| {
            arrivals.get(server).map(|arrived| arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies.get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::NAN)
    };
    println!("cases:           {} thresholds crossed, {} pages received", crossed.len(), arrivals.len());
    println!("page latency:    p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (threshold-crossing request done -> page at the webhook)", pick(0.5), pick(0.99), pick(1.0));
    Ok(ExitCode::SUCCESS)
}
