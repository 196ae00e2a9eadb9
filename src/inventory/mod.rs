//! Changing what is monitored while it runs (PRODUCT.md section 13): re-reading the config
//! files on `SIGHUP` or `POST /api/v1/reload`. The next config is read and validated whole
//! before anything changes; a bad file changes nothing (the error is logged and returned, and
//! `firstwatch_config_last_reload_successful` drops to 0). A good one is put in force in one
//! swap ([`Live::replace`]) after the channels are rebuilt, with the fleet rebuilt so that
//! state follows the server id (`fleet::Fleet::rebuild`).
//!
//! Some settings are bound at start (the listener, the database, the cluster, DNS, the
//! guard, the concurrency cap, delivery policy): a reload keeps those as they are and says
//! which changed, so the config in force always tells the truth about what runs.
//!
//! Customers managed through the API live in `managed.rs`; a reload keeps them.
//!
//! Not here: what the timeline says about a changed or removed server (`cases::engine`,
//! whose sweep resolves the case of a removed server with actor `inventory`), re-keying the
//! scheduler (`scheduler`).

pub mod managed;

use std::sync::Arc;

use crate::cases::engine::CaseEngine;
use crate::clock::Clock;
use crate::config::{Config, ConfigErrors};
use crate::fleet::Changes;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::store::Store;
pub use managed::{ChangeError, Managed, Put};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the config was not read from a file; there is nothing to reload")]
    NoFile,
    #[error("the config is not valid; nothing changed:\n{0}")]
    Invalid(ConfigErrors),
    #[error("a channel cannot be set up; nothing changed: {0}")]
    Channels(String),
    #[error("reading the config failed: {0}")]
    Failed(String),
}

/// What a change put in force.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// Servers monitored now.
    pub servers: usize,
    pub added: usize,
    /// Servers whose target changed: they count afresh.
    pub retargeted: usize,
    pub removed: usize,
    /// Sections or keys that changed in the file but take effect only at the next restart.
    pub restart_needed: Vec<String>,
}

/// The parts a change touches. Cheap to clone.
#[derive(Clone)]
pub struct Inventory {
    live: Arc<Live>,
    notifier: Notifier,
    engine: Arc<CaseEngine>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    store: Store,
    /// One change at a time; the API customers known here.
    changing: Arc<tokio::sync::Mutex<Managed>>,
}

/// What an [`Inventory`] works with.
pub struct Parts {
    pub live: Arc<Live>,
    pub notifier: Notifier,
    pub engine: Arc<CaseEngine>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub store: Store,
    /// The API customers read at start (`managed::load`).
    pub managed: Managed,
}

impl Inventory {
    pub fn new(parts: Parts) -> Inventory {
        let Parts { live, notifier, engine, metrics, clock, store, managed } = parts;
        Inventory {
            live,
            notifier,
            engine,
            metrics,
            clock,
            store,
            changing: Arc::new(tokio::sync::Mutex::new(managed)),
        }
    }

    /// Read the config files again and put them in force, or change nothing.
    pub async fn reload(&self) -> Result<Applied, ReloadError> {
        let managed = self.changing.lock().await;
        let result = self.reload_files(&managed).await;
        match &result {
            Ok(applied) => {
                self.metrics.config_last_reload_successful.set(1);
                self.metrics.config_last_reload_success_timestamp_seconds.set(crate::metrics::unix_now());
                tracing::info!(
                    servers = applied.servers,
                    added = applied.added,
                    retargeted = applied.retargeted,
                    removed = applied.removed,
                    "config reloaded"
                );
                if !applied.restart_needed.is_empty() {
                    tracing::warn!(
                        changed = %applied.restart_needed.join(", "),
                        "these settings changed in the file and take effect at the next restart"
                    );
                }
            }
            Err(error) => {
                self.metrics.config_last_reload_successful.set(0);
                tracing::error!(%error, "config reload refused; the running config stays in force");
            }
        }
        result
    }

    async fn reload_files(&self, managed: &Managed) -> Result<Applied, ReloadError> {
        let current = self.live.config();
        let Some(path) = current.file.clone() else { return Err(ReloadError::NoFile) };
        let loaded = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .map_err(|e| ReloadError::Failed(e.to_string()))?
            .map_err(ReloadError::Invalid)?;
        let (next, restart_needed) = keep_bound_at_start(&current, loaded);
        let next = managed::compose(next, managed).map_err(ReloadError::Invalid)?;
        let changes = self.put_in_force(next, None).map_err(ReloadError::Channels)?;
        Ok(Applied {
            servers: self.live.fleet().len(),
            added: changes.added,
            retargeted: changes.retargeted.len(),
            removed: changes.removed.len(),
            restart_needed,
        })
    }

    /// Rebuild the channels (the one step that can fail), then the fleet, and swap both in.
    /// `customers` names the only customers that changed (an inventory API change: the fleet
    /// changes only there); `None` rebuilds the whole fleet (a reload).
    fn put_in_force(&self, next: Config, customers: Option<&[&str]>) -> Result<Changes, String> {
        self.notifier.refresh(&next).map_err(|e| e.to_string())?;
        let fleet = self.live.fleet();
        let now = self.clock.now_ms();
        let (fleet, changes) = match customers {
            Some(ids) => fleet.change(&next, ids, now),
            None => fleet.rebuild(&next, now),
        };
        self.live.replace(Arc::new(next), Arc::new(fleet));
        if !changes.retargeted.is_empty() {
            let engine = self.engine.clone();
            let retargeted = changes.retargeted.clone();
            // Told, not decided: a lost note loses only the note.
            tokio::spawn(async move {
                if let Err(error) = engine.note_retargeted(&retargeted).await {
                    tracing::warn!(%error, "cannot note the changed targets on their cases");
                }
            });
        }
        Ok(changes)
    }
}

/// `next` with the settings bound at start taken from `current`, and the names of those that
/// differ (compared by their debug form, which redacts secrets but shows every other value).
fn keep_bound_at_start(current: &Config, mut next: Config) -> (Config, Vec<String>) {
    let mut changed = Vec::new();
    let mut keep = |name: &str, differs: bool| {
        if differs {
            changed.push(name.to_string());
        }
    };
    let s = (&current.server, &next.server);
    keep("server.listen", s.0.listen != s.1.listen);
    keep("server.max_connections", s.0.max_connections != s.1.max_connections);
    keep("server.per_server_metrics", s.0.per_server_metrics != s.1.per_server_metrics);
    keep("server.public_url", s.0.public_url != s.1.public_url);
    keep("[database]", format!("{:?}", current.database) != format!("{:?}", next.database));
    keep("[cluster]", format!("{:?}", current.cluster) != format!("{:?}", next.cluster));
    keep("[dns]", format!("{:?}", current.dns) != format!("{:?}", next.dns));
    keep("[guard]", format!("{:?}", current.guard) != format!("{:?}", next.guard));
    keep("[notifications]", format!("{:?}", current.notifications) != format!("{:?}", next.notifications));
    keep("probing.max_concurrency", current.probing.max_concurrency != next.probing.max_concurrency);
    next.server.listen = current.server.listen;
    next.server.max_connections = current.server.max_connections;
    next.server.per_server_metrics = current.server.per_server_metrics;
    next.server.public_url.clone_from(&current.server.public_url);
    next.database = current.database.clone();
    next.cluster = current.cluster.clone();
    next.dns = current.dns.clone();
    next.guard = current.guard.clone();
    next.notifications = current.notifications.clone();
    next.probing.max_concurrency = current.probing.max_concurrency;
    (next, changed)
}

/// Reload on every `SIGHUP` until `stop` (Unix only; elsewhere `POST /api/v1/reload`).
pub async fn on_sighup(inventory: Inventory, stop: tokio_util::sync::CancellationToken) {
    if inventory.live.config().file.is_none() {
        // Nothing to read again (a config given as text: tests, the demo).
        return;
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; reload with POST /api/v1/reload");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                received = hangup.recv() => {
                    if received.is_none() {
                        return;
                    }
                    tracing::info!("SIGHUP: reloading the config");
                    let _ = inventory.reload().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (inventory, stop);
    }
}
