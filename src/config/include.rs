//! `include = ["customers.d/*.toml"]` (PRODUCT.md section 13): more files holding
//! `[[customers]]` entries, found by glob relative to the main file, read in path order and
//! appended to the main file's customers before validation. An error in an included customer
//! is reported in that file's terms (`customers.d/acme.toml: customers[0].id: …`), not at its
//! place in the merged list.
//!
//! Not here: what a customer must look like (`validate/fleet.rs`), nor reloading (the app).

use std::path::{Path, PathBuf};

use super::raw::{self, RawConfig, RawIncluded};
use super::{ConfigError, ConfigErrors};

/// Where each customer of the merged list came from: `None` for the main file, else the
/// included file (as written relative to the main one) and its index there.
#[derive(Debug, Default, Clone)]
pub struct Origins(Vec<Option<(String, usize)>>);

impl Origins {
    /// An error in the file it belongs to: its key path, and a path its message mentions
    /// (`duplicate customer id "acme" (first at customers[0])`).
    pub fn locate(&self, error: ConfigError) -> ConfigError {
        let msg = match error.msg.find("customers[") {
            Some(at) => format!("{}{}", &error.msg[..at], self.relocate(&error.msg[at..])),
            None => error.msg,
        };
        ConfigError { path: self.relocate(&error.path), msg }
    }

    /// `customers[N]…` of the merged list as `file: customers[local]…`.
    fn relocate(&self, path: &str) -> String {
        let Some(rest) = path.strip_prefix("customers[") else { return path.to_string() };
        let Some((index, tail)) = rest.split_once(']') else { return path.to_string() };
        match index.parse::<usize>().ok().and_then(|i| self.0.get(i)).cloned().flatten() {
            Some((file, local)) => format!("{file}: customers[{local}]{tail}"),
            None => path.to_string(),
        }
    }

    /// The included file each customer came from (`None`: the main file), in merged order.
    pub fn files(&self) -> impl Iterator<Item = Option<&str>> {
        self.0.iter().map(|o| o.as_ref().map(|(file, _)| file.as_str()))
    }
}

/// Read every file `raw.include` names (relative to `base`, the main file's folder) and append
/// its customers to `raw.customers`. All problems come back together.
pub fn merge(raw: &mut RawConfig, base: Option<&Path>) -> Result<Origins, ConfigErrors> {
    let mut origins = Origins(vec![None; raw.customers.len()]);
    let mut errors = Vec::new();
    let mut read = std::collections::HashSet::new();
    for (i, pattern) in std::mem::take(&mut raw.include).iter().enumerate() {
        let at = format!("include[{i}]");
        let Some(base) = base else {
            errors.push(ConfigError { path: at, msg: "includes are read relative to a config file".into() });
            continue;
        };
        // The folder is taken literally (it may hold `[` or `*`); only the pattern globs.
        let full = format!("{}/{pattern}", glob::Pattern::escape(&base.to_string_lossy()));
        let paths = match glob::glob(&full) {
            Ok(paths) => paths,
            Err(e) => {
                errors.push(ConfigError { path: at, msg: format!("not a valid glob: {e}") });
                continue;
            }
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in paths {
            match entry {
                Ok(path) if path.is_file() => files.push(path),
                Ok(_) => {}
                Err(e) => errors.push(ConfigError {
                    path: at.clone(),
                    msg: format!("cannot read {}: {}", e.path().display(), e.error()),
                }),
            }
        }
        files.sort();
        // A file two patterns match is read once.
        files.retain(|path| read.insert(path.clone()));
        for path in files {
            let shown = path.strip_prefix(base).unwrap_or(&path).display().to_string();
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    errors.push(ConfigError { path: shown, msg: format!("cannot read: {e}") });
                    continue;
                }
            };
            match raw::parse_as::<RawIncluded>(&text) {
                Ok(included) => {
                    for (local, customer) in included.customers.into_iter().enumerate() {
                        raw.customers.push(customer);
                        origins.0.push(Some((shown.clone(), local)));
                    }
                }
                Err(e) => errors.push(ConfigError { path: format!("{shown}: {}", e.path), msg: e.msg }),
            }
        }
    }
    if errors.is_empty() {
        Ok(origins)
    } else {
        Err(ConfigErrors(errors))
    }
}
