//! The service verbs: `run`, `check-config` (both through the open-file budget) and
//! `probe`; and [`load`], how every verb reads its config.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::CliError;
use crate::app::App;
use crate::config::{summary, Config, DnsConfig, ExpectStatus};
use crate::domain::Target;
use crate::probe::{Limits, Prober};

/// The config at `path`, or every error in it at its key path.
pub(crate) fn load(path: &Path) -> Result<Config, CliError> {
    Config::load(path).map_err(|errors| CliError::Config {
        path: path.to_path_buf(),
        errors: errors.0.iter().map(ToString::to_string).collect(),
    })
}

/// [`load`], then the open-file budget: the soft limit raised to the hard one, and a config
/// that does not fit in it refused like any other bad key.
fn load_to_run(path: &Path) -> Result<Config, CliError> {
    let config = load(path)?;
    if let Some(limit) = crate::limits::raise_open_files() {
        if let Err(error) = crate::limits::check_open_files(&config, limit) {
            return Err(CliError::Config { path: path.to_path_buf(), errors: vec![error.to_string()] });
        }
    }
    Ok(config)
}

pub fn check_config(path: &Path) -> Result<(), CliError> {
    let config = load_to_run(path)?;
    sayln!("{} is valid.", path.display());
    say!("{}", summary::summary(&config));
    Ok(())
}

pub async fn run(path: &Path) -> Result<(), CliError> {
    let config = load_to_run(path)?;
    let listen = config.server.listen;
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    app.run_until_stopped(listener, crate::shutdown::on_signal()).await?;
    Ok(())
}

pub async fn probe(target: &str, timeout: Duration, expect: Vec<u16>, dns: Vec<SocketAddr>) -> Result<(), CliError> {
    let target: Target = target.parse().map_err(|error| CliError::Invalid(format!("target {target:?}: {error}")))?;
    let prober = Prober::new(&DnsConfig { servers: dns }).map_err(anyhow::Error::from)?;
    let expect_status = if expect.is_empty() { ExpectStatus::AnySuccess } else { ExpectStatus::OneOf(expect) };
    let result = prober.probe(&target, &Limits { timeout, expect_status }).await;
    let took = format!("{:.1} ms", result.duration.as_secs_f64() * 1000.0);
    match &result.outcome {
        Ok(success) => {
            sayln!("{target}: up ({}) in {took}", success.detail);
            Ok(())
        }
        Err(error) => {
            sayln!("{target}: failed after {took}: {error}");
            Err(CliError::Reported)
        }
    }
}
