//! The process's open-file budget (PRODUCT.md section 11): at start the soft limit is raised
//! to the hard limit, and a config whose probes (`probing.max_concurrency`) plus client
//! connections (`server.max_connections`) plus a reserve for the database, listeners and logs
//! would not fit in it is refused, so a crowd of slow clients can never take the descriptors
//! status requests need. Owns nothing else.

use crate::config::{defaults, Config, ConfigError};

/// Raise the open-file soft limit to the hard limit; the limit now in force, `None` where the
/// platform does not say.
pub fn raise_open_files() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit");
            None
        }
    }
}

/// Open files `config` may need at once.
pub fn open_files_needed(config: &Config) -> u64 {
    (config.probing.max_concurrency + config.server.max_connections) as u64 + defaults::RESERVED_FILES
}

/// Refuse `config` when what it may open at once does not fit in `limit`.
pub fn check_open_files(config: &Config, limit: u64) -> Result<(), ConfigError> {
    let needed = open_files_needed(config);
    if needed <= limit {
        return Ok(());
    }
    Err(ConfigError {
        path: "server.max_connections".to_string(),
        msg: format!(
            "{} connections + probing.max_concurrency {} + {} reserved = {needed} open files, more than the \
             open-file limit of {limit} (ulimit -Hn; LimitNOFILE= under systemd): lower one of them or raise the limit",
            config.server.max_connections,
            config.probing.max_concurrency,
            defaults::RESERVED_FILES,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_over_the_limit_is_refused_with_its_key() {
        let config =
            Config::from_toml("[server]\nmax_connections = 1000\n[probing]\nmax_concurrency = 3000\n", |_| None)
                .expect("valid config");
        assert_eq!(open_files_needed(&config), 4000 + defaults::RESERVED_FILES);
        assert!(check_open_files(&config, 8192).is_ok());
        let error = check_open_files(&config, 1024).expect_err("does not fit");
        assert_eq!(error.path, "server.max_connections");
        assert!(error.msg.contains("open-file limit of 1024"), "{}", error.msg);
    }
}
