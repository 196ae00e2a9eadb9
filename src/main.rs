//! Thin entry point: parse the command line, set up logging, call the library, and map the
//! one `CliError` to the exit status (2 for a refused configuration, argument or input, 1 for
//! anything else).

use std::process::ExitCode;

use clap::Parser;
use firstwatch::cli::{self, Cli, CliError, Command};
use firstwatch::tools::{bench, demo};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo tells its own story on stdout; its log shows only errors unless --verbose.
    let default_filter = match cli.command {
        Command::Demo { verbose: false, .. } => "error",
        _ => "info,sqlx=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        // Colour codes only for a person at a terminal, never into a file or a journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
        let done = |result: Result<(), CliError>| result.map(|()| ExitCode::SUCCESS);
        match cli.command {
            Command::Run { config } => done(cli::service::run(&config).await),
            Command::CheckConfig { config } => done(cli::service::check_config(&config)),
            Command::Probe { target, timeout, expect_status, dns_server } => {
                done(cli::service::probe(&target, timeout, expect_status, dns_server).await)
            }
            Command::Cases { config, command } => done(cli::cases::cases(&config, command).await),
            Command::Maintenance { config, command } => done(cli::maintenance::maintenance(&config, command).await),
            Command::Healthcheck { url } => done(cli::upkeep::healthcheck(&url).await),
            Command::Backup { config, to } => done(cli::upkeep::backup(&config, &to).await),
            Command::DeadLetters { config, command: cli::DeadLettersCommand::List { limit } } => {
                done(cli::upkeep::dead_letters(&config, limit).await)
            }
            Command::Notify { config, command: cli::NotifyCommand::Test { person } } => {
                done(cli::notify::test(&config, &person).await)
            }
            Command::Demo { duration, listen, .. } => demo::run(listen, duration).await.map_err(CliError::from),
            Command::Bench {
                servers,
                interval,
                duration,
                bare,
                pages,
                web,
                instances,
                database,
                lease_ttl,
                serve_fleet,
            } => {
                let measured = match (serve_fleet, pages, web, instances) {
                    (Some(addresses), ..) => bench::serve_fleet(addresses).await,
                    (None, Some(cases), ..) => bench::run_pages(cases).await,
                    (None, None, Some(clients), _) => bench::run_web(clients, duration).await,
                    (None, None, None, Some(n)) => match database {
                        Some(url) => bench::run_cluster(n, servers, interval, duration, &url, lease_ttl).await,
                        None => Err(anyhow::anyhow!("--instances needs --database postgres://…")),
                    },
                    (None, None, None, None) => {
                        bench::run(bench::Options { servers, interval, duration, bare, database }).await
                    }
                };
                measured.map_err(CliError::from)
            }
        }
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            error.report();
            ExitCode::from(error.exit_code())
        }
    }
}
