//! `firstwatch bench`: the probe path under load, measured in-process. A child process
//! (`bench --serve-fleet N`) serves a loopback fleet on N addresses 127.0.1.x with [`PORTS`]
//! ports each (so ephemeral ports last at 1,000 fresh connections a second, and no one
//! listener takes every connection); this process reads the fleet from include
//! files as an operator's would be (`inventory.rs`), runs the production `App` against it with
//! a temporary SQLite file (or a throw-away PostgreSQL database) and reports start-up time,
//! probes/s, CPU seconds per 10,000 probes, peak RSS, scheduler lag p50/p99, and the latency
//! of `GET /` and `GET /api/v1/servers?limit=500` at that size. CPU and RSS come from /proc
//! (Linux).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use prometheus::core::Metric as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::tools::sim::SimServer;

mod cluster;
mod inventory;
mod paging;
mod web;

pub use cluster::run_cluster;
pub use paging::run_pages;
pub use web::run_web;

/// Loopback addresses the fleet is spread over.
const ADDRESSES: usize = 64;
/// Ports each address serves on.
const PORTS: usize = 100;

fn fleet_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, u8::try_from(i % ADDRESSES + 1).unwrap_or(1)))
}

/// Where the loopback fleet listens: [`PORTS`] ports, each on every address.
#[derive(Debug, Clone)]
pub struct LoopbackFleet {
    ports: Vec<u16>,
}

impl LoopbackFleet {
    /// The target of bench server `i`: addresses first, then ports, so consecutive servers
    /// spread over every address and each (address, port) serves 1 in 6,400.
    pub fn target(&self, i: usize) -> String {
        let port = self.ports.get((i / ADDRESSES) % self.ports.len().max(1)).copied().unwrap_or(0);
        format!("http://{}:{port}/health", fleet_ip(i))
    }
}

/// Child side: serve `200 OK` on `addresses` loopback addresses, each on the same [`PORTS`]
/// ports; print them.
pub async fn serve_fleet(addresses: usize) -> anyhow::Result<ExitCode> {
    let mut servers = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..PORTS {
        let first = SimServer::start(SocketAddr::new(fleet_ip(0), 0)).await.context("binding 127.0.1.1")?;
        let port = first.addr().port();
        servers.push(first);
        for i in 1..addresses.min(ADDRESSES) {
            servers.push(
                SimServer::start(SocketAddr::new(fleet_ip(i), port))
                    .await
                    .with_context(|| format!("binding {}:{port}", fleet_ip(i)))?,
            );
        }
        ports.push(port.to_string());
    }
    println!("READY {}", ports.join(","));
    // Serve until the parent closes our stdin or kills us.
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = stdin.next_line().await {}
    Ok(ExitCode::SUCCESS)
}

/// CPU seconds (user + system) used by this process so far.
fn cpu_seconds() -> anyhow::Result<f64> {
    cpu_seconds_of("self")
}

/// CPU seconds (user + system) used so far by the process `pid` (`self`, or a number).
fn cpu_seconds_of(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the ")" that ends the command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("unexpected /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields.get(11).context("utime")?.parse::<f64>()? + fields.get(12).context("stime")?.parse::<f64>()?;
    // USER_HZ is 100 on every Linux architecture Rust targets.
    Ok(ticks / 100.0)
}

fn peak_rss_mib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
    let kib: f64 = line.split_whitespace().nth(1).context("VmHWM value")?.parse()?;
    Ok(kib / 1024.0)
}

fn probes(metrics: &Metrics) -> (u64, u64) {
    let get = |result: &str| {
        ["http", "tcp", "dns"].iter().map(|k| metrics.probes_total.with_label_values(&[k, result]).get()).sum()
    };
    (get("success"), get("failure"))
}

/// Cumulative lag histogram buckets: (upper bound, count).
fn lag_buckets(metrics: &Metrics) -> Vec<(f64, u64)> {
    let m = metrics.scheduler_lag_seconds.metric();
    let h = m.get_histogram();
    let mut buckets: Vec<(f64, u64)> = h.get_bucket().iter().map(|b| (b.upper_bound(), b.cumulative_count())).collect();
    buckets.push((f64::INFINITY, h.get_sample_count()));
    buckets
}

/// The q-quantile of the samples between two snapshots, interpolated within its bucket the
/// way PromQL's `histogram_quantile` does.
fn quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> f64 {
    let counts: Vec<(f64, u64)> = after.iter().zip(before).map(|(a, b)| (a.0, a.1 - b.1)).collect();
    let total = counts.last().map(|c| c.1).unwrap_or(0);
    if total == 0 {
        return 0.0;
    }
    let rank = q * total as f64;
    let mut lower = (0.0, 0u64);
    for &(bound, count) in &counts {
        if count as f64 >= rank {
            if bound.is_infinite() {
                return lower.0;
            }
            let within = (rank - lower.1 as f64) / ((count - lower.1).max(1) as f64);
            return lower.0 + (bound - lower.0) * within;
        }
        lower = (bound, count);
    }
    lower.0
}

/// What `firstwatch bench` (the probe path) is asked to measure.
pub struct Options {
    pub servers: usize,
    pub interval: Duration,
    pub duration: Duration,
    pub bare: bool,
    /// A PostgreSQL server to measure on (a throw-away database is made there); else SQLite.
    pub database: Option<String>,
}

pub async fn run(o: Options) -> anyhow::Result<ExitCode> {
    if o.servers == 0 {
        bail!("--servers must be at least 1");
    }
    let (mut child, fleet) = start_fleet().await?;
    let dir = tempfile_dir()?;
    let (db_url, pg) = match &o.database {
        Some(base) => {
            let (url, name) = cluster::create_database(base).await?;
            (url, Some((base.clone(), name)))
        }
        None => (format!("sqlite://{}", dir.join("bench.db").display()), None),
    };
    let result = measure(&o, &dir, &db_url, &fleet).await;
    let _ = child.kill().await;
    if let Some((base, name)) = pg {
        cluster::drop_database(&base, &name).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(o: &Options, dir: &std::path::Path, db_url: &str, fleet: &LoopbackFleet) -> anyhow::Result<ExitCode> {
    let main = inventory::write(dir, db_url, o.servers, o.interval, fleet)?;
    let started = tokio::time::Instant::now();
    let config = Config::load(&main).map_err(|e| anyhow::anyhow!("bench configuration: {e}"))?;
    let loaded = started.elapsed();
    if o.bare {
        return bare_loop(&config, o.duration).await;
    }
    let app = App::build(config).await?;
    let built = started.elapsed();
    let app_fleet = app.fleet();
    let metrics = app.metrics();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let running = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    let backend = if o.database.is_some() { "PostgreSQL" } else { "SQLite" };
    println!(
        "bench: {} servers over {ADDRESSES} loopback addresses x {PORTS} ports on {backend}, interval {}, from {} include files",
        o.servers,
        humantime::format_duration(o.interval),
        o.servers.div_ceil(inventory::PER_FILE)
    );
    println!(
        "start-up:        config read and validated in {:.1}s, ready to probe (store, fleet, leases) at {:.1}s; RSS then {:.0} MiB",
        loaded.as_secs_f64(),
        built.as_secs_f64(),
        peak_rss_mib()?
    );
    let held = app_fleet.footprint();
    println!(
        "fleet:           {:.0} B per server beyond its id (slots {:.0}, status cells {:.0}, index {:.0}, services {:.0}); ids {:.0} B",
        held.per_server(),
        held.entries as f64 / held.servers.max(1) as f64,
        held.cells as f64 / held.servers.max(1) as f64,
        held.index as f64 / held.servers.max(1) as f64,
        held.services as f64 / held.servers.max(1) as f64,
        held.ids as f64 / held.servers.max(1) as f64,
    );
    // Servers are spread over the interval by their offsets: the rate is steady from the
    // start, so a short warm-up (connections, first batches) is enough.
    let warm_up = o.interval.min(Duration::from_secs(20));
    println!(
        "measuring {} after {} of warm-up",
        humantime::format_duration(o.duration),
        humantime::format_duration(warm_up)
    );
    tokio::time::sleep(warm_up).await;
    let (cpu0, probes0, lag0) = (cpu_seconds()?, probes(&metrics), lag_buckets(&metrics));
    let t0 = tokio::time::Instant::now();
    tokio::time::sleep(o.duration).await;
    let (cpu1, probes1, lag1) = (cpu_seconds()?, probes(&metrics), lag_buckets(&metrics));
    let elapsed = t0.elapsed().as_secs_f64();

    let ok = probes1.0 - probes0.0;
    let failed = probes1.1 - probes0.1;
    let total = ok + failed;
    let expected = o.servers as f64 * elapsed / o.interval.as_secs_f64();
    println!(
        "probes:          {total} in {elapsed:.1}s = {:.0}/s (planned {:.0}/s), {failed} failed",
        total as f64 / elapsed,
        expected / elapsed
    );
    println!(
        "cpu:             {:.2} s = {:.3} CPU-s per 10,000 probes (monitor process only)",
        cpu1 - cpu0,
        (cpu1 - cpu0) * 10_000.0 / total.max(1) as f64
    );
    println!("peak RSS:        {:.0} MiB", peak_rss_mib()?);
    println!(
        "scheduler lag:   p50 {:.1} ms, p99 {:.1} ms (from histogram buckets)",
        quantile(&lag0, &lag1, 0.5) * 1000.0,
        quantile(&lag0, &lag1, 0.99) * 1000.0
    );
    // The reads an operator makes, one client at a time, while the fleet is probed.
    let bearer = Some(("authorization", format!("Bearer {}", inventory::VIEWER)));
    for (name, path) in [("GET /", "/"), ("GET /api/v1/servers?limit=500", "/api/v1/servers?limit=500")] {
        let url = format!("http://{addr}{path}");
        web::load(url.clone(), bearer.clone(), 1, Duration::from_millis(500)).await?;
        let (latencies, errors) = web::load(url, bearer.clone(), 1, Duration::from_secs(10)).await?;
        println!(
            "{name:<30} {} requests, {errors} errors; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (one client)",
            latencies.len(),
            web::pick(&latencies, 0.5),
            web::pick(&latencies, 0.99),
            web::pick(&latencies, 1.0),
        );
    }
    // A dashboard: one view every 1.2 s, past the 1 s page cache each time.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut spaced = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let started = tokio::time::Instant::now();
        let response = client.get(format!("http://{addr}/")).bearer_auth(inventory::VIEWER).send().await?;
        let _ = response.bytes().await?;
        spaced.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    spaced.sort_by(f64::total_cmp);
    println!(
        "{:<30} {} requests 1.2 s apart; latency p50 {:.1} ms, max {:.1} ms (each past the 1 s page cache)",
        "GET / (a dashboard)",
        spaced.len(),
        web::pick(&spaced, 0.5),
        web::pick(&spaced, 1.0),
    );
    // One customer of 100 servers put through the inventory API, then deleted: what a change
    // costs at this size.
    let servers: Vec<serde_json::Value> =
        (0..100).map(|i| serde_json::json!({ "id": format!("api-{i}"), "target": fleet.target(i) })).collect();
    let body = serde_json::json!({ "services": [{ "id": "web", "servers": servers }] });
    let url = format!("http://{addr}/api/v1/inventory/customers/bench-api");
    let started = tokio::time::Instant::now();
    let put = client.put(&url).bearer_auth(inventory::OPERATOR).header("content-type", "application/json");
    let put = put.body(body.to_string()).send().await?.status();
    let put_took = started.elapsed();
    let started = tokio::time::Instant::now();
    let deleted = client.delete(&url).bearer_auth(inventory::OPERATOR).send().await?.status();
    println!(
        "{:<30} PUT {put} in {:.0} ms, DELETE {deleted} in {:.0} ms (one customer of 100 servers)",
        "inventory API change",
        put_took.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    shutdown.cancel();
    running.await??;
    Ok(ExitCode::SUCCESS)
}

/// Start the loopback fleet in a child process (`bench --serve-fleet`); returns it and where
/// it listens.
async fn start_fleet() -> anyhow::Result<(tokio::process::Child, LoopbackFleet)> {
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .args(["bench", "--serve-fleet", &ADDRESSES.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the fleet process")?;
    let stdout = child.stdout.take().context("fleet stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready =
        tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.context("fleet start timed out")??;
    let ports = ready.as_deref().and_then(|l| l.strip_prefix("READY ")).context("fleet did not start")?;
    let ports = ports.split(',').map(str::parse).collect::<Result<Vec<u16>, _>>().context("fleet ports")?;
    Ok((child, LoopbackFleet { ports }))
}

/// The same status requests at the same rate, from a plain loop: one spawned task per request,
/// no scheduler, tracker, store or metrics.
async fn bare_loop(config: &Config, duration: Duration) -> anyhow::Result<ExitCode> {
    let prober = crate::probe::Prober::new(&config.dns)?;
    let targets: Vec<crate::domain::Target> = config.fleet().map(|f| (*f.server.target).clone()).collect();
    let settings = &config.probing.defaults;
    let limits = crate::probe::Limits { timeout: settings.timeout, expect_status: settings.expect_status.clone() };
    let per_second = targets.len() as f64 / settings.interval.as_secs_f64();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (cpu0, t0) = (cpu_seconds()?, tokio::time::Instant::now());
    let mut sent = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    while t0.elapsed() < duration {
        tick.tick().await;
        let (prober, target, limits, failed) =
            (prober.clone(), targets[sent as usize % targets.len()].clone(), limits.clone(), failed.clone());
        tasks.spawn(async move {
            if !prober.probe(&target, &limits).await.is_success() {
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        sent += 1;
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let (cpu1, elapsed) = (cpu_seconds()?, t0.elapsed().as_secs_f64());
    println!(
        "bare loop:       {sent} requests in {elapsed:.1}s = {:.0}/s, {} failed",
        sent as f64 / elapsed,
        failed.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "cpu:             {:.2} s = {:.3} CPU-s per 10,000 requests",
        cpu1 - cpu0,
        (cpu1 - cpu0) * 10_000.0 / sent.max(1) as f64
    );
    println!("peak RSS:        {:.0} MiB", peak_rss_mib()?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("firstwatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        let before = vec![(0.01, 0), (0.1, 0), (f64::INFINITY, 0)];
        let after = vec![(0.01, 50), (0.1, 100), (f64::INFINITY, 100)];
        assert!((quantile(&before, &after, 0.5) - 0.01).abs() < 1e-9);
        assert!((quantile(&before, &after, 0.99) - 0.0982).abs() < 1e-3);
    }
}
