//! The bench's inventory, written as an operator's would be: a main file with `[server]`,
//! `[database]` and `[probing]`, and the customers in include files of [`PER_FILE`] servers
//! each (`customers.d/part-NNNN.toml`), 100 servers per customer in one service, spread over
//! the loopback fleet's addresses.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::LoopbackFleet;

/// Servers per include file.
pub const PER_FILE: usize = 10_000;
/// The viewer token the bench reads pages and the API with.
pub const VIEWER: &str = "bench-viewer";
/// The operator token it changes the inventory with.
pub const OPERATOR: &str = "bench-operator";

/// Write the customers into `dir/customers.d`, and the main file `dir/bench.toml`; returns
/// the main file's path.
pub fn write(
    dir: &Path,
    db_url: &str,
    servers: usize,
    interval: Duration,
    fleet: &LoopbackFleet,
) -> anyhow::Result<PathBuf> {
    write_customers(dir, servers, fleet)?;
    let main = dir.join("bench.toml");
    std::fs::write(&main, main_file(db_url, interval, "", ""))?;
    Ok(main)
}

/// The main file: `[server]` with the viewer token and `server_keys`, `[database]`,
/// `[probing]`, then `tail`; it includes `customers.d/*.toml` next to it.
pub fn main_file(db_url: &str, interval: Duration, server_keys: &str, tail: &str) -> String {
    format!(
        "include = [\"customers.d/*.toml\"]\n[server]\nviewer_tokens = [{{ name = \"bench\", token = \"{VIEWER}\" }}]\n\
         operator_tokens = [{{ name = \"bench-operator\", token = \"{OPERATOR}\" }}]\n\
         {server_keys}\n[database]\nurl = \"{db_url}\"\n[probing]\ninterval = \"{i}\"\nretry_interval = \"{i}\"\n\
         timeout = \"5s\"\nmax_concurrency = 4096\n{tail}",
        i = humantime::format_duration(interval)
    )
}

/// `servers` servers in files of [`PER_FILE`] in `dir/customers.d`.
pub fn write_customers(dir: &Path, servers: usize, fleet: &LoopbackFleet) -> anyhow::Result<()> {
    let included = dir.join("customers.d");
    std::fs::create_dir_all(&included)?;
    for part in 0..servers.div_ceil(PER_FILE) {
        let first = part * PER_FILE;
        let last = (first + PER_FILE).min(servers);
        let mut text = String::with_capacity((last - first) * 90);
        for s in first..last {
            if s % 100 == 0 || s == first {
                let c = s / 100;
                let _ = write!(
                    text,
                    "[[customers]]\nid = \"c{c}\"\nname = \"Customer {c}\"\n[[customers.services]]\nid = \"web\"\n"
                );
            }
            let _ = write!(text, "[[customers.services.servers]]\nid = \"s{s}\"\ntarget = \"{}\"\n", fleet.target(s));
        }
        std::fs::write(included.join(format!("part-{part:04}.toml")), text)?;
    }
    Ok(())
}
