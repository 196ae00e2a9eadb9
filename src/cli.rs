//! The command line (clap derive). `main.rs` maps each verb to a library call and each error
//! to an exit status: 0 fine, 1 runtime failure (or a failed `probe`), 2 bad configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "firstwatch", version, about = "Proactive server health monitor: probes, cases, pages, status page.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: scheduler, result writer and web server, until SIGINT/SIGTERM.
    Run {
        #[arg(long, default_value = "config/firstwatch.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file and print a summary; exit 0 if good, 2 if not.
    CheckConfig {
        #[arg(long, default_value = "config/firstwatch.toml")]
        config: PathBuf,
    },
    /// Send one status request now and print the outcome with its timing.
    Probe {
        /// https://…, http://…, tcp://host:port or dns://name
        target: String,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: Duration,
        /// Statuses that count as success (default: any 2xx), e.g. --expect-status 200,204
        #[arg(long, value_delimiter = ',')]
        expect_status: Vec<u16>,
        /// Name servers to use instead of the system's, e.g. --dns-server 127.0.0.1:5353
        #[arg(long)]
        dns_server: Vec<SocketAddr>,
    },
    /// A self-contained showcase: a simulated fleet on loopback with scripted outages.
    Demo {
        /// Stop by itself after this long (default: run until Ctrl-C).
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Where to serve the status page and API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Measure the probe path against a loopback fleet and print throughput, CPU, memory, lag.
    Bench {
        #[arg(long, default_value_t = 10_000)]
        servers: usize,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        interval: Duration,
        #[arg(long = "for", default_value = "60s", value_parser = parse_duration)]
        duration: Duration,
        /// Baseline: the same request rate from a bare loop over the prober, without the
        /// scheduler, tracker or store, to show what the bookkeeping costs on this machine.
        #[arg(long)]
        bare: bool,
        /// Serve the fleet only (used by `bench` itself, in a child process).
        #[arg(long, hide = true)]
        serve_fleet: Option<usize>,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}
