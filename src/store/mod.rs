//! The only place that knows SQL. One `Store` over sqlx's `Any` driver serves SQLite and
//! PostgreSQL with the same statements: both accept `$N` parameters, `ON CONFLICT … DO UPDATE`
//! and `excluded.`; times are stored as Unix milliseconds (`BIGINT`) so no date type differs.
//! What does differ between the backends (DDL, connection set-up, row locking) is kept in
//! `dialect.rs`; migrations live in `migrations/sqlite` and `migrations/postgres` with the same
//! version numbers. Nothing outside this module names a pool type or writes SQL.

mod ack_tokens;
pub mod backup;
mod cases;
mod dialect;
mod flags;
mod inventory;
mod leases;
mod maintenance;
mod oncall;
mod outbox;
mod paging_tests;
mod service_days;
mod sessions;
mod tracking;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub use ack_tokens::AckToken;
pub use backup::{backup, network_file_system, BackupError, BackupReport};
pub use cases::{CaseEventRow, CaseRow, Tx};
pub use dialect::Backend;
pub use inventory::InventoryRow;
pub use leases::{Held, Lease, LeaseTable};
pub use maintenance::MaintenanceRow;
pub use oncall::OverrideRow;
pub use outbox::{AttemptOutcome, NewOutboxRow, OutboxRow};
pub use paging_tests::PagingTestRow;
pub use service_days::ServiceDay;
pub use sessions::SessionRow;
pub use tracking::{Batch, FailureRow, RollupDelta, StateChangeRow, StoredStatus, PRUNE_CHUNK};

/// Why the database refused or failed; the message names what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url (use sqlite://path or postgres://…)")]
    UnsupportedUrl,
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A uniqueness rule refused the write: another engine or instance got there first.
    #[error("conflicting write")]
    Conflict,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The lease a decision rests on (its shard's, or the leader's) is no longer this
    /// instance's, or has expired: another instance decides now, so nothing was written.
    #[error("this instance no longer holds the lease this write needs")]
    Fenced,
}

/// A connection pool plus the backend it talks to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The instance whose shard leases fence status and history writes (`None`: unfenced,
    /// for tools and tests that write on their own).
    fence: Option<Arc<str>>,
}

impl Store {
    /// Connect by URL scheme, create the SQLite file and its folders if needed, and apply
    /// pending migrations, so a first start on an empty machine just works.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = backend.prepare(url)?;
        backend.initialise(&url).await?;
        let pool = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            // Also the connect timeout: a database that does not answer fails a call within 5 s.
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| Box::pin(async move { backend.configure(conn).await }))
            .connect(&url)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Store { pool, backend, fence: None })
    }

    /// This store, with every status, roll-up, failure and state-change write refused for
    /// servers whose shard `instance` does not hold at the moment of the write.
    pub fn fenced(mut self, instance: &str) -> Store {
        self.fence = Some(Arc::from(instance));
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's clock (Unix ms): the watermark of the reads of what changed since.
    pub(crate) async fn database_now(&self) -> Result<i64, StoreError> {
        use sqlx::Row;
        let row = sqlx::query(&format!("SELECT {} AS now", self.backend.now_ms_sql())).fetch_one(&self.pool).await?;
        Ok(row.try_get("now")?)
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Close every connection, waiting for queries in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
