//! What differs between SQLite and PostgreSQL: URL handling, first-connection set-up,
//! per-connection settings, pool size and migrations. Statements themselves are shared.

use sqlx::migrate::Migrator;
use sqlx::AnyConnection;
use sqlx::{Connection, Executor};

use super::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// What a `SELECT` appends to lock the rows it reads until the transaction ends: SQLite
    /// needs nothing (a write transaction holds the whole database).
    pub fn row_lock(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// A statement that makes a transaction take the write lock at once: SQLite's
    /// transactions start reading and would fail with "database is locked" when they write
    /// after another writer committed; PostgreSQL locks rows instead.
    pub fn write_lock_statement(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => Some("UPDATE monitor_flags SET value = value WHERE 1 = 0"),
            Backend::Postgres => None,
        }
    }

    /// What a `SELECT` appends to keep the lease rows a write is fenced by from being taken
    /// over until the transaction ends: a claim (`FOR UPDATE SKIP LOCKED`) skips them. `KEY
    /// SHARE` and not `SHARE`: renewals and releases (plain updates) do not wait for it, so a
    /// decision holding some lease rows and a renewal updating them can never deadlock.
    pub fn share_lock(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR KEY SHARE",
            Backend::Sqlite => "",
        }
    }

    /// The database's clock in Unix ms, as an SQL expression: leases are timed by it, never
    /// by an instance's own clock.
    pub fn now_ms_sql(self) -> &'static str {
        match self {
            Backend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        }
    }

    /// `WHERE` condition: the row is one of those `select` names (a sub-select whose
    /// `{row}` is replaced by the physical row id), for deleting in chunks. PostgreSQL gets
    /// `ctid = ANY(ARRAY(…))`, which every version runs as a TID scan.
    pub fn row_in(self, select: &str) -> String {
        match self {
            Backend::Postgres => format!("ctid = ANY(ARRAY({}))", select.replace("{row}", "ctid")),
            Backend::Sqlite => format!("rowid IN ({})", select.replace("{row}", "rowid")),
        }
    }

    /// Like [`Self::row_lock`] for a claim: rows of table alias `o` another instance holds
    /// are skipped rather than waited for.
    pub fn claim_lock(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE OF o SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The SQLite database file of `url`, if it names one (not `:memory:`).
    pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
        if Backend::from_url(url).ok()? != Backend::Sqlite {
            return None;
        }
        let (path, _) = sqlite_parts(url);
        (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
    }

    /// SQLite: create the folder and ask for the file to be created. PostgreSQL: as given.
    pub(super) fn prepare(self, url: &str) -> Result<String, StoreError> {
        if self == Backend::Postgres {
            return Ok(url.to_string());
        }
        let (path, query) = sqlite_parts(url);
        if path.is_empty() || path == ":memory:" {
            return Ok(url.to_string());
        }
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let query = if query.is_empty() { "mode=rwc".to_string() } else { query.to_string() };
        Ok(format!("sqlite://{path}?{query}"))
    }

    /// Run once on a single connection before the pool opens: settings that need an exclusive
    /// lock (SQLite's WAL switch) and the migrations.
    pub(super) async fn initialise(self, url: &str) -> Result<(), StoreError> {
        let mut conn = AnyConnection::connect(url).await.map_err(StoreError::Connect)?;
        let migrator = match self {
            Backend::Sqlite => {
                conn.execute("PRAGMA journal_mode = WAL").await?;
                &SQLITE_MIGRATIONS
            }
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }

    /// Per-connection settings. SQLite in WAL mode with `synchronous = NORMAL` survives a
    /// process kill without losing a committed transaction (only a power loss can); a
    /// statement waits at most 5 s for another writer's lock (`busy_timeout`), then fails
    /// and the caller retries later. PostgreSQL: no statement (lock waits included) runs
    /// past 10 s, an abandoned transaction is ended after 60 s, and the server probes idle
    /// connections with TCP keepalives (10 s idle, 5 s apart, 3 probes) so a vanished client
    /// frees its locks. sqlx offers no client-side keepalive: every caller bounds its own
    /// operations in time instead (writer, engine, `/readyz`, the pool's acquire timeout).
    pub(super) async fn configure(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        match self {
            Backend::Sqlite => {
                conn.execute("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000").await?;
            }
            Backend::Postgres => {
                conn.execute(
                    "SET statement_timeout = '10s'; SET idle_in_transaction_session_timeout = '5s'; \
                     SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3",
                )
                .await?;
            }
        }
        Ok(())
    }

    pub(super) fn max_connections(self) -> u32 {
        match self {
            // One writer at a time anyway; a few readers for the web pages.
            Backend::Sqlite => 4,
            Backend::Postgres => 10,
        }
    }
}

/// `sqlite://path?query` (or `sqlite:path`) split into the path and the query.
fn sqlite_parts(url: &str) -> (&str, &str) {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.split_once('?').unwrap_or((rest, ""))
}
