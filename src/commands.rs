//! What each operator verb does, as library functions `main.rs` calls: reading the config,
//! printing for a person, and choosing the exit status.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::app::App;
use crate::config::{summary, Config, DnsConfig, ExpectStatus};
use crate::domain::Target;
use crate::probe::{Limits, Prober};

/// Exit status of a refused configuration (and of a refused command-line value).
pub const EXIT_CONFIG: u8 = 2;

pub(crate) fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|errors| {
        eprintln!("{} is not valid:", path.display());
        for error in &errors.0 {
            eprintln!("  {error}");
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

/// [`load`], then the open-file budget: the soft limit raised to the hard one, and a config
/// that does not fit in it refused like any other bad key.
fn load_to_run(path: &Path) -> Result<Config, ExitCode> {
    let config = load(path)?;
    if let Some(limit) = crate::limits::raise_open_files() {
        if let Err(error) = crate::limits::check_open_files(&config, limit) {
            eprintln!("{} is not valid:", path.display());
            eprintln!("  {error}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    }
    Ok(config)
}

pub fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    match load_to_run(path) {
        Ok(config) => {
            println!("{} is valid.", path.display());
            print!("{}", summary::summary(&config));
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub async fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match load_to_run(path) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let listen = config.server.listen;
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    app.run_until_stopped(listener, crate::shutdown::on_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn probe(
    target: &str,
    timeout: Duration,
    expect: Vec<u16>,
    dns: Vec<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let target: Target = match target.parse() {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: target {target:?}: {error}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let prober = Prober::new(&DnsConfig { servers: dns })?;
    let expect_status = if expect.is_empty() { ExpectStatus::AnySuccess } else { ExpectStatus::OneOf(expect) };
    let result = prober.probe(&target, &Limits { timeout, expect_status }).await;
    let took = format!("{:.1} ms", result.duration.as_secs_f64() * 1000.0);
    match &result.outcome {
        Ok(success) => {
            println!("{target}: up ({}) in {took}", success.detail);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("{target}: failed after {took}: {error}");
            Ok(ExitCode::from(1))
        }
    }
}
