//! Wiring: `App::build(Config)` connects the store, restores every server's tracking and
//! builds the prober; `App::run_until_stopped` runs the scheduler, the result writer and the
//! web server until the shutdown token fires, then drains them within a deadline. Tests, the
//! demo and the benchmark all boot the production code through here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::cases::engine::{self, CaseEngine};
use crate::clock::{Clock, SystemClock};
use crate::cluster::membership::Membership;
use crate::cluster::sqlite_lock::SqliteLock;
use crate::cluster::{self, Ownership};
use crate::config::Config;
use crate::fleet::Fleet;
use crate::guard::Guard;
use crate::inventory::Inventory;
use crate::live::Live;
use crate::maintenance::{SharedWindows, Windows};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::outbox::worker::Worker;
use crate::probe::Prober;
use crate::scheduler::backlog::{self, Backlog};
use crate::scheduler::heartbeat::Heartbeat;
use crate::scheduler::{self, FleetEvent, Scheduler};
use crate::store::{Backend, Store};
use crate::web::{self, AppState};

/// How long shutdown waits for the writer and the web server before giving up.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
/// How often the case engine runs its periodic checks (sweep, guard, response targets); the
/// detection arithmetic counts on it.
const ENGINE_TICK: Duration = crate::config::detection::ENGINE_TURN;
/// Hints the case engine may have waiting; more are dropped (its sweep catches up).
const ENGINE_HINTS: usize = 4096;

pub struct App {
    inventory: Inventory,
    config: Arc<Config>,
    store: Store,
    metrics: Arc<Metrics>,
    live: Arc<Live>,
    prober: Prober,
    clock: Arc<dyn Clock>,
    windows: SharedWindows,
    events: broadcast::Sender<FleetEvent>,
    engine: Arc<CaseEngine>,
    worker: Worker,
    ownership: Arc<Ownership>,
    membership: Membership,
    /// Held for the life of the app on SQLite: no second instance on the same file.
    _sqlite_lock: Option<SqliteLock>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let instance = cluster::instance_id();
        let url = config.database.url.expose();
        let sqlite_lock = match Backend::sqlite_path(url) {
            Some(path) => {
                let lock = cluster::sqlite_lock::acquire(&path, &instance)?;
                if let Some(fs_type) = crate::store::network_file_system(&path) {
                    tracing::warn!(
                        path = %path.display(),
                        fs_type,
                        "the SQLite database is on a network file system, where its locks do not hold: \
                         a second writer or a lost lock can corrupt it. Keep it on a local disk, or use PostgreSQL"
                    );
                }
                Some(lock)
            }
            None => None,
        };
        let store = Store::connect(url).await.context("opening the database")?.fenced(&instance);
        store.ensure_leases().await.context("creating the lease rows")?;
        if sqlite_lock.is_some() {
            store.reset_leases().await.context("clearing the leases of a former run")?;
        }
        let (config, managed) = crate::inventory::managed::load(&store, config).await?;
        let (stored, loaded_at) = store.statuses_written_since(i64::MIN).await.context("loading server statuses")?;
        let fleet = Arc::new(Fleet::new(&config, stored, clock.now_ms()));
        let filled = store
            .fill_service_days(|id| fleet.get(id).map(|e| (e.customer.to_string(), e.service.to_string())))
            .await
            .context("summing the roll-ups of an older database per service")?;
        if filled > 0 {
            tracing::info!(rows = filled, "per-service day totals summed from the stored roll-ups");
        }
        let prober = Prober::new(&config.dns)?;
        let metrics = Arc::new(Metrics::new(&config));
        let mut windows = Windows::from_config(&config.maintenance);
        for row in store.maintenance_windows().await.context("loading maintenance windows")? {
            windows.add(&row);
        }
        let windows: SharedWindows = Arc::new(std::sync::RwLock::new(windows));
        let (events, _) = broadcast::channel(4096);
        let config = Arc::new(config);
        let live = Live::new(config.clone(), fleet);
        let outbox_ready = Arc::new(Notify::new());
        let notifier = Notifier::new(&config, &config.server.public_url)?;
        let worker = Worker::new(
            store.clone(),
            notifier.clone(),
            metrics.clone(),
            clock.clone(),
            &config.notifications,
            outbox_ready.clone(),
        );
        let ownership = Arc::new(Ownership::new(instance));
        let mut membership =
            Membership::new(store.clone(), live.clone(), ownership.clone(), metrics.clone(), config.cluster.lease_ttl)
                .read_since(loaded_at);
        // Claim this instance's shards before anything probes or decides.
        membership.step().await.context("claiming shard leases")?;
        let engine = Arc::new(CaseEngine::new(engine::Parts {
            live: live.clone(),
            store: store.clone(),
            guard: Guard::new(&config, prober.clone()),
            windows: windows.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            outbox_ready,
            ownership: ownership.clone(),
        }));
        let inventory = Inventory::new(crate::inventory::Parts {
            live: live.clone(),
            notifier,
            engine: engine.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
            store: store.clone(),
            managed,
        });
        Ok(App {
            inventory,
            config,
            store,
            metrics,
            live,
            prober,
            clock,
            windows,
            events,
            engine,
            worker,
            ownership,
            membership,
            _sqlite_lock: sqlite_lock,
        })
    }

    /// Fleet events (state changes, thresholds, recoveries) as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<FleetEvent> {
        self.events.subscribe()
    }

    /// The fleet in force now.
    pub fn fleet(&self) -> Arc<Fleet> {
        self.live.fleet()
    }

    /// The config and fleet in force.
    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Reloads and inventory changes.
    pub fn inventory(&self) -> Inventory {
        self.inventory.clone()
    }

    /// The outbox worker, for tests that step delivery themselves.
    pub fn worker(&self) -> Worker {
        self.worker.clone()
    }

    /// Which shards this instance probes and whether it leads.
    pub fn ownership(&self) -> Arc<Ownership> {
        self.ownership.clone()
    }

    /// The case engine, for operator commands and tests.
    pub fn engine(&self) -> Arc<CaseEngine> {
        self.engine.clone()
    }

    /// Serve on `listener` and monitor until `shutdown` is cancelled. Dropping the returned
    /// future aborts every task it started, like a crash would (tests rely on this).
    pub async fn run_until_stopped(self, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
        let backlog = Arc::new(Backlog::new(backlog::Limits::for_fleet(self.live.fleet().len()), &self.metrics));
        let writer_stop = CancellationToken::new();
        let writer = AbortOnDropHandle::new(tokio::spawn(scheduler::writer::run(
            self.store.clone(),
            backlog.clone(),
            self.clock.clone(),
            self.config.database.retention,
            self.ownership.clone(),
            writer_stop.clone(),
        )));
        let membership_stop = CancellationToken::new();
        let membership = AbortOnDropHandle::new(tokio::spawn(self.membership.run(membership_stop.clone())));

        let sighup =
            AbortOnDropHandle::new(tokio::spawn(crate::inventory::on_sighup(self.inventory.clone(), shutdown.clone())));
        let follow = AbortOnDropHandle::new(tokio::spawn(self.inventory.clone().follow(shutdown.clone())));
        let delivery = AbortOnDropHandle::new(tokio::spawn(self.worker.clone().run(shutdown.clone())));
        let (cases_tx, cases_rx) = mpsc::channel(ENGINE_HINTS);
        let engine =
            AbortOnDropHandle::new(tokio::spawn(self.engine.clone().run(cases_rx, ENGINE_TICK, shutdown.clone())));

        let heartbeat = Arc::new(Heartbeat::default());
        let scheduler = Scheduler::new(scheduler::Parts {
            live: self.live.clone(),
            prober: self.prober.clone(),
            metrics: self.metrics.clone(),
            windows: self.windows.clone(),
            clock: self.clock.clone(),
            events: self.events.clone(),
            cases: Some(cases_tx),
            backlog,
            heartbeat: heartbeat.clone(),
            write_behind: self.config.database.write_behind,
            max_in_flight: self.config.probing.max_concurrency,
            ownership: self.ownership.clone(),
        });
        let scheduler = AbortOnDropHandle::new(tokio::spawn(scheduler.run(shutdown.clone())));

        let state = AppState {
            live: self.live.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            heartbeat,
            engine: self.engine.clone(),
            windows: self.windows.clone(),
            clock: self.clock.clone(),
            pages: Arc::new(web::PageCache::new()),
            throttle: Arc::new(web::LoginThrottle::new()),
            sessions: Arc::new(web::SessionCache::new()),
            ownership: self.ownership.clone(),
            inventory: self.inventory.clone(),
        };
        let addr = listener.local_addr().ok();
        tracing::info!(addr = ?addr, servers = self.live.fleet().len(), "firstwatch running");
        let web_stop = shutdown.clone();
        let max_connections = self.config.server.max_connections;
        let web =
            AbortOnDropHandle::new(tokio::spawn(web::serve(listener, web::router(state), max_connections, web_stop)));

        shutdown.cancelled().await;
        let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
            let _ = scheduler.await;
            // The scheduler made its last push: the writer writes it and returns, while the
            // others wind down.
            writer_stop.cancel();
            let (_, _, _, web) = tokio::join!(writer, engine, delivery, web);
            // The last results are written under the leases; now they can go.
            membership_stop.cancel();
            let _ = membership.await;
            web
        })
        .await;
        drop(sighup);
        drop(follow);
        self.store.close().await;
        match drained {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error).context("web server task"),
            Err(_) => anyhow::bail!("shutdown did not finish within {DRAIN_DEADLINE:?}"),
        }
    }
}
