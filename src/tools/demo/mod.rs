//! `firstwatch demo`: a simulated customer fleet on loopback, monitored with short intervals
//! on a temporary SQLite file, with a script of outages that repeats every cycle. It prints
//! what the monitor sees as it happens and serves the API, so a newcomer sees the product work
//! without any network or setup. It boots the production `App`, nothing demo-specific inside.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::Config;
use crate::tools::sim::{SimServer, HANG};
use tally::Tally;

mod receiver;
mod tally;

/// (customer, service, server id, role) of the simulated fleet.
const FLEET: [(&str, &str, &str, &str); 6] = [
    ("acme", "storefront", "acme-web-1", "primary"),
    ("acme", "storefront", "acme-web-2", "secondary"),
    ("acme", "api", "acme-api-1", "primary"),
    ("globex", "portal", "globex-portal-1", "primary"),
    ("initech", "billing", "initech-billing-1", "primary"),
    ("initech", "billing", "initech-billing-2", "secondary"),
];

/// The outage script, in seconds from the start of each cycle: (at, server index, status).
const SCRIPT: [(u64, usize, u16); 8] = [
    (3, 0, 503),  // acme's primary storefront starts failing: its secondary still serves
    (6, 3, HANG), // globex's portal hangs: every request times out
    (9, 1, 503),  // acme's secondary fails too: nothing serves the storefront
    (24, 0, 200),
    (24, 1, 200), // the storefront recovers (after the escalation and a few updates)
    (28, 3, 200), // the portal recovers
    (30, 4, 500), // a short blip at initech that never reaches the threshold
    (31, 4, 200),
];
const CYCLE: Duration = Duration::from_secs(45);

pub async fn run(listen: SocketAddr, duration: Option<Duration>) -> anyhow::Result<ExitCode> {
    let mut servers = Vec::with_capacity(FLEET.len());
    for _ in FLEET {
        servers.push(SimServer::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?);
    }
    let tally = Tally::default();
    let receiver = receiver::start(tally.clone()).await?;
    let db = std::env::temp_dir().join(format!("firstwatch-demo-{}.db", std::process::id()));
    let config = Config::from_toml(&config_text(&servers, &db.display().to_string(), listen, receiver), |_| None)
        .map_err(|e| anyhow::anyhow!("demo configuration: {e}"))?;
    let app = App::build(config).await?;
    let mut events = app.subscribe();
    let fleet = app.fleet();
    let store = app.store();
    let mut case_feed = tokio::time::interval(Duration::from_millis(250));
    let mut last_event = 0i64;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let stop = crate::shutdown::on_signal();
    let running = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));

    println!("firstwatch demo: {} simulated servers of 3 customers on loopback", servers.len());
    println!("  pages:   http://{addr}/ (sign in with demo-operator-token, or demo-viewer-token to only read)");
    println!("  API:     curl -H 'Authorization: Bearer demo-viewer-token' http://{addr}/api/v1/servers");
    println!("  metrics: http://{addr}/metrics");
    println!("  probing every 2s, failures confirmed every 500ms, down after 3 in a row;");
    println!("  escalation after 8s without acknowledgement, customer updates every 5s; Ctrl-C stops\n");

    let start = Instant::now();
    let deadline = duration.map(|d| start + d);
    let mut step = 0usize;
    let mut cycle_start = start;
    loop {
        let (at, idx, status) = SCRIPT[step];
        let next_action = cycle_start + Duration::from_secs(at);
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = sleep_until_opt(deadline) => break,
            _ = tokio::time::sleep_until(next_action) => {
                servers[idx].set_status(status);
                println!("{:>6.1}s  script: {} now answers {}", start.elapsed().as_secs_f64(), FLEET[idx].2, describe(status));
                step += 1;
                if step == SCRIPT.len() {
                    step = 0;
                    cycle_start += CYCLE;
                }
            }
            _ = case_feed.tick() => {
                for event in store.events_since(last_event, 100).await.unwrap_or_default() {
                    last_event = event.id;
                    tally.case_event(event.case_id, event.kind);
                    if event.kind != crate::domain::TimelineKind::Delivered {
                        println!("{:>6.1}s  CASE {} [{}] {}", start.elapsed().as_secs_f64(), crate::domain::CaseNumber(event.case_id), event.kind, event.text);
                    }
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let Some(entry) = fleet.entry(event.server) else { continue };
                    let t = event.transition;
                    tally.status(t.from != t.to, t.threshold_reached);
                    let change = if t.from == t.to { t.to.to_string() } else { format!("{} -> {}", t.from, t.to) };
                    let mut line = format!("{:>6.1}s  {:<18} {change}", start.elapsed().as_secs_f64(), entry.id);
                    if let Some(error) = event.last_error.as_deref().filter(|_| t.to != crate::domain::ServerState::Up) {
                        line.push_str(&format!("  ({} in a row: {error})", event.consecutive_failures));
                    }
                    if t.threshold_reached {
                        line.push_str("  THRESHOLD REACHED");
                    }
                    if t.recovered {
                        line.push_str("  RECOVERED");
                    }
                    println!("{line}");
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => println!("({n} events skipped)"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    shutdown.cancel();
    running.await??;
    let _ = std::fs::remove_file(&db);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    print!("{}", tally.summary(start.elapsed().as_secs_f64()));
    println!("  where to look next: README.md (\"Running it for real\"), config/firstwatch.toml to start");
    println!("  your own configuration, docs/ for every rule; while a demo runs: http://{addr}/");
    println!("demo stopped");
    Ok(ExitCode::SUCCESS)
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn describe(status: u16) -> String {
    match status {
        HANG => "nothing (hangs)".to_string(),
        200 => "200 OK".to_string(),
        other => format!("HTTP {other}"),
    }
}

fn config_text(servers: &[SimServer], db: &str, listen: SocketAddr, receiver: SocketAddr) -> String {
    let mut text = format!(
        r#"
[server]
listen = "{listen}"
operator_tokens = [{{ name = "demo-operator", token = "demo-operator-token" }}]
viewer_tokens = [{{ name = "demo-viewer", token = "demo-viewer-token" }}]

[database]
url = "sqlite://{db}"

[guard]
# A fleet of six: three failing servers are a customer problem, not the monitor's own.
max_failing_fraction = 0.9

[cases]
feed = ["ops-feed"]
reopen_window = "1m"
ack_timeout = "8s"
update_interval = "5s"

[[channels]]
id = "ops-feed"
type = "webhook"
url = "http://{receiver}/feed"

[[channels]]
id = "pager"
type = "webhook"
url = "http://{receiver}/pager"

[[channels]]
id = "customer-mail"
type = "webhook"
url = "http://{receiver}/mail"

[[channels]]
id = "customer-phone"
type = "twilio"
account_sid = "ACdemo"
auth_token = "demo-token"
from = "+15550199"
api_base = "http://{receiver}"

[[people]]
id = "alice"
name = "Alice (Operations Manager)"
role = "operations-manager"
channels = ["pager"]

[[people]]
id = "victor"
name = "Victor (VP of Operations)"
role = "vp-operations"
channels = ["pager"]

[probing]
interval = "2s"
retry_interval = "500ms"
failure_threshold = 3
recovery_threshold = 2
timeout = "400ms"
"#
    );
    let mut last_customer = "";
    let mut last_service = "";
    for ((customer, service, id, role), server) in FLEET.iter().zip(servers) {
        if *customer != last_customer {
            text.push_str(&format!(
                "\n[[customers]]\nid = \"{customer}\"\nname = \"{}\"\nstatus_token = \"demo-{customer}-token\"\n\
                 contacts = [{{ name = \"IT desk\", email = \"it@{customer}.test\", phone = \"+15550100\", channels = [\"customer-mail\", \"customer-phone\"] }}]\n",
                capitalise(customer)
            ));
            last_customer = customer;
            last_service = "";
        }
        if *service != last_service {
            text.push_str(&format!(
                "\n[[customers.services]]\nid = \"{service}\"\nname = \"{}\"\n",
                capitalise(service)
            ));
            last_service = service;
        }
        text.push_str(&format!(
            "\n[[customers.services.servers]]\nid = \"{id}\"\ntarget = \"{}\"\nrole = \"{role}\"\n",
            server.url()
        ));
    }
    text
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
