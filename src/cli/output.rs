//! What the operator verbs share: opening the database, and printing for a person (aligned
//! tables, terminal-safe text, ages).

use std::fmt::Write as _;
use std::time::Duration;

use crate::config::Config;
use crate::store::Store;

/// Write to stdout. A closed pipe means the reader has what it wanted
/// (`firstwatch check-config … | head -n 1`): the rest of the text is dropped and the verb
/// still ends with its own exit status, where `print!` would panic. Other write errors are
/// said on stderr.
pub(super) fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(text).and_then(|()| out.flush()) {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to stdout: {error}");
        }
    }
}

pub(super) async fn connect(config: &Config) -> anyhow::Result<Store> {
    use anyhow::Context as _;
    Store::connect(config.database.url.expose()).await.context("opening the database")
}

/// How long ago `since` was: `3h 2m`, `1m 1s`.
pub(super) fn age(now: i64, since: i64) -> String {
    let seconds = u64::try_from((now - since) / 1000).unwrap_or(0);
    crate::clock::short_duration(Duration::from_secs(seconds))
}

/// Text from the database as one safe terminal line: control characters (escape sequences,
/// newlines) become spaces.
pub(super) fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub(super) fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// Columns padded to their widest cell; the last column is not padded.
pub(super) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                let pad = width.saturating_sub(cell.chars().count());
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
