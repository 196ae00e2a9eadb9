//! `firstwatch bench --instances N --database postgres://…`: several `firstwatch run`
//! processes on one PostgreSQL against the loopback fleet (PRODUCT.md section 12). Reports the
//! shard split, probes/s and CPU seconds per 10,000 probes of each instance, the roll-ups
//! against the requests the instances counted (each request stored once), then `kill -9` of
//! one instance and the take-over gap: until its shards are held again, and until every
//! server has been probed again. It works in a throw-away database it creates on the server
//! named by `--database` and drops at the end.

use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::{Connection, Executor};
use tokio::process::Child;
use tokio::time::Instant;

use super::{cpu_seconds_of, inventory, start_fleet, tempfile_dir, ADDRESSES};
use crate::clock::{Clock, SystemClock};
use crate::store::{Backend, Store};

/// One `firstwatch run` child and the port of its HTTP server.
struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn pid(&self) -> anyhow::Result<String> {
        Ok(self.child.id().context("the instance has exited")?.to_string())
    }

    /// The sum of `firstwatch_probes_total` on its `/metrics`.
    async fn probes(&self, client: &reqwest::Client) -> anyhow::Result<f64> {
        let text = client.get(format!("http://127.0.0.1:{}/metrics", self.port)).send().await?.text().await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with("firstwatch_probes_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }
}

/// A free loopback port (bound, read, released: the child binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh database on the server of `base`; returns its URL and name.
pub(super) async fn create_database(base: &str) -> anyhow::Result<(String, String)> {
    let name = format!("firstwatch_bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(base).await.context("connecting to --database")?;
    conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.context("creating the bench database")?;
    conn.close().await?;
    let mut url = reqwest::Url::parse(base).context("--database is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok((url.to_string(), name))
}

pub(super) async fn drop_database(base: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
        let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        let _ = conn.close().await;
    }
}

fn spawn(dir: &Path, i: usize, url: &str, interval: Duration, tail: &str) -> anyhow::Result<Node> {
    let port = free_port()?;
    let config = dir.join(format!("instance-{i}.toml"));
    let listen = format!("listen = \"127.0.0.1:{port}\"");
    std::fs::write(&config, inventory::main_file(url, interval, &listen, tail))?;
    let log = std::fs::File::create(dir.join(format!("instance-{i}.log")))?;
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting an instance")?;
    Ok(Node { child, port })
}

/// Poll `check` every 100 ms for at most `limit`; how long it took, if it held.
async fn within<F, Fut>(limit: Duration, mut check: F) -> anyhow::Result<Option<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await? {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(None)
}

pub async fn run_cluster(
    instances: usize,
    servers: usize,
    interval: Duration,
    duration: Duration,
    database: &str,
    lease_ttl: Duration,
) -> anyhow::Result<ExitCode> {
    if !(2..=8).contains(&instances) {
        bail!("--instances must be 2 to 8");
    }
    if servers == 0 {
        bail!("--servers must be at least 1");
    }
    if Backend::from_url(database)? != Backend::Postgres {
        bail!("several instances share one PostgreSQL: --database must be a postgres:// URL");
    }
    let (url, name) = create_database(database).await?;
    let result = measure(instances, servers, interval, duration, &url, lease_ttl).await;
    drop_database(database, &name).await;
    result
}

async fn measure(
    instances: usize,
    servers: usize,
    interval: Duration,
    duration: Duration,
    url: &str,
    lease_ttl: Duration,
) -> anyhow::Result<ExitCode> {
    let (mut fleet, targets) = start_fleet().await?;
    let dir = tempfile_dir()?;
    inventory::write_customers(&dir, servers, &targets)?;
    let cluster = format!("[cluster]\nlease_ttl = \"{}\"\n", humantime::format_duration(lease_ttl));
    // The schema first, so the instances do not race to migrate.
    let store = Store::connect(url).await?;
    let mut nodes = Vec::new();
    for i in 0..instances {
        nodes.push(spawn(&dir, i, url, interval, &cluster)?);
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let fair = crate::cluster::fair_share(instances);
    let split = within(Duration::from_secs(60), || async {
        let table = store.lease_table().await?;
        let held: usize = table.instances.iter().map(|(_, n)| n).sum();
        Ok(table.instances.len() == instances && held == 256 && table.instances.iter().all(|(_, n)| *n <= fair))
    })
    .await?;
    let Some(split) = split else {
        bail!("the instances did not share the shards within 60 s (logs in {})", dir.display())
    };
    let table = store.lease_table().await?;
    println!(
        "bench: {instances} instances on one PostgreSQL, {servers} servers over {ADDRESSES} loopback addresses, interval {}, lease {}",
        humantime::format_duration(interval),
        humantime::format_duration(lease_ttl)
    );
    let shares: Vec<String> = table.instances.iter().map(|(_, n)| n.to_string()).collect();
    println!("shards:          split {} within {:.1} s of the start", shares.join("/"), split.as_secs_f64());
    tokio::time::sleep(interval).await;

    let rolled =
        || async { Ok::<i64, anyhow::Error>(store.daily_rollups(0, i64::MAX).await?.iter().map(|r| r.probes).sum()) };
    // Roll-ups, then each instance's counters, at both ends: the write-behind window lags
    // both ends alike.
    let rolled0 = rolled().await?;
    let mut before = Vec::new();
    for node in &nodes {
        before.push((cpu_seconds_of(&node.pid()?)?, node.probes(&client).await?));
    }
    let t0 = Instant::now();
    tokio::time::sleep(duration).await;
    let stored = rolled().await? - rolled0;
    let elapsed = t0.elapsed().as_secs_f64();
    let mut total = 0.0;
    for (i, (node, (cpu0, probes0))) in nodes.iter().zip(&before).enumerate() {
        let (cpu, probes) = (cpu_seconds_of(&node.pid()?)? - cpu0, node.probes(&client).await? - probes0);
        total += probes;
        println!(
            "instance {i}:      {probes:.0} probes = {:.0}/s, {cpu:.2} CPU-s = {:.3} CPU-s per 10,000 probes",
            probes / elapsed,
            cpu * 10_000.0 / probes.max(1.0)
        );
    }
    println!(
        "all instances:   {total:.0} probes in {elapsed:.1} s = {:.0}/s (planned {:.0}/s); roll-ups stored {stored} ({:+.1}%)",
        total / elapsed,
        servers as f64 / interval.as_secs_f64(),
        (stored as f64 - total) * 100.0 / total.max(1.0)
    );

    let victim = nodes.remove(0);
    let mut victim_child = victim.child;
    let killed_ms = SystemClock.now_ms();
    victim_child.start_kill().context("kill -9")?;
    victim_child.wait().await?;
    let killed = Instant::now();
    let limit = lease_ttl + interval * 3 + Duration::from_secs(30);
    let held = within(limit, || async {
        let table = store.lease_table().await?;
        Ok(table.instances.len() == instances - 1 && table.instances.iter().map(|(_, n)| n).sum::<usize>() == 256)
    })
    .await?;
    let held = held.map(|_| killed.elapsed());
    let probed = within(limit, || async { Ok(store.servers_not_probed_since(killed_ms).await? == 0) }).await?;
    let probed = probed.map(|_| killed.elapsed());
    let show = |d: Option<Duration>| {
        d.map_or_else(|| format!("not within {limit:?}"), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    println!(
        "kill -9:         every shard held again {} after the kill, every server probed again {} after it (lease {}, interval {})",
        show(held),
        show(probed),
        humantime::format_duration(lease_ttl),
        humantime::format_duration(interval)
    );
    for node in &mut nodes {
        if let Ok(pid) = node.pid() {
            let _ = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), node.child.wait()).await;
    }
    store.close().await;
    let _ = fleet.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
