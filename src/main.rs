//! Thin entry point: parse the command line, set up logging, call the library, map errors to
//! exit statuses (2 for a refused configuration or argument, 1 for anything else).

use std::process::ExitCode;

use clap::Parser;
use firstwatch::cli::{Cli, Command};
use firstwatch::{commands, operator};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run { config } => commands::run(&config).await,
            Command::CheckConfig { config } => commands::check_config(&config),
            Command::Probe { target, timeout, expect_status, dns_server } => {
                commands::probe(&target, timeout, expect_status, dns_server).await
            }
            Command::Cases { config, command } => operator::cases(&config, command).await,
            Command::Maintenance { config, command } => operator::maintenance(&config, command).await,
            Command::Demo { duration, listen } => firstwatch::demo::run(listen, duration).await,
            Command::Bench { servers, interval, duration, bare, pages, web, serve_fleet } => {
                match (serve_fleet, pages, web) {
                    (Some(addresses), _, _) => firstwatch::bench::serve_fleet(addresses).await,
                    (None, Some(cases), _) => firstwatch::bench::run_pages(cases).await,
                    (None, None, Some(clients)) => firstwatch::bench::run_web(clients, duration).await,
                    (None, None, None) => firstwatch::bench::run(servers, interval, duration, bare).await,
                }
            }
        }
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
