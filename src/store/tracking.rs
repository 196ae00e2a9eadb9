//! Per-server tracking rows: the status that survives restarts, state changes, failures and
//! hourly roll-ups. Writes arrive as one [`Batch`] per write-behind window and land in a single
//! transaction with multi-row statements, so persisting 1,000 results a second stays cheap.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::domain::shard::shard_of;
use crate::domain::ServerState;

/// Rows per multi-row statement; well under SQLite's and PostgreSQL's parameter limits.
const CHUNK: usize = 200;

/// A server's tracking as persisted. `seq` counts the results applied; a row is only
/// overwritten by a newer `seq`, so a late or retried batch can never move a count backwards.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStatus {
    pub server_id: String,
    pub state: ServerState,
    pub consecutive_failures: i64,
    pub consecutive_successes: i64,
    pub confirmed_down: bool,
    pub last_error: Option<String>,
    pub last_probe_at: Option<i64>,
    pub state_since: i64,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateChangeRow {
    pub server_id: String,
    pub at: i64,
    pub from: ServerState,
    pub to: ServerState,
    pub consecutive_failures: i64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailureRow {
    pub server_id: String,
    pub at: i64,
    pub error: String,
    pub duration_ms: i64,
}

/// Counts to add to one server's roll-up for one hour.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RollupDelta {
    pub server_id: String,
    /// The customer and service of the server, for the per-service day totals (empty: none);
    /// shared with the fleet, so a delta costs no copy of them.
    pub customer: std::sync::Arc<str>,
    pub service: std::sync::Arc<str>,
    /// Unix milliseconds of the hour's start.
    pub hour: i64,
    pub probes: i64,
    pub failures: i64,
    pub latency_sum_ms: i64,
    pub latency_max_ms: i64,
}

impl RollupDelta {
    /// Add another delta of the same server and hour to this one.
    pub fn add(&mut self, other: &RollupDelta) {
        self.server_id.clone_from(&other.server_id);
        self.customer.clone_from(&other.customer);
        self.service.clone_from(&other.service);
        self.hour = other.hour;
        self.probes += other.probes;
        self.failures += other.failures;
        self.latency_sum_ms += other.latency_sum_ms;
        self.latency_max_ms = self.latency_max_ms.max(other.latency_max_ms);
    }
}

/// Everything one write-behind window produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub statuses: Vec<StoredStatus>,
    pub changes: Vec<StateChangeRow>,
    pub failures: Vec<FailureRow>,
    pub rollups: Vec<RollupDelta>,
    /// The lease epoch each shard's rows were produced under. A fenced write keeps a shard's
    /// rows only while this instance holds that very epoch: rows from before a lease was lost
    /// and claimed again are refused. A shard missing here is checked by owner only.
    pub epochs: BTreeMap<u8, i64>,
}

impl Batch {
    /// The rows of the servers `keep` says yes to.
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> Batch {
        Batch {
            statuses: self.statuses.iter().filter(|s| keep(&s.server_id)).cloned().collect(),
            changes: self.changes.iter().filter(|c| keep(&c.server_id)).cloned().collect(),
            failures: self.failures.iter().filter(|f| keep(&f.server_id)).cloned().collect(),
            rollups: self.rollups.iter().filter(|r| keep(&r.server_id)).cloned().collect(),
            epochs: self.epochs.clone(),
        }
    }

    /// Drop every row of the servers in `shard`.
    pub fn forget_shard(&mut self, shard: u8) {
        let keep = |id: &str| shard_of(id) != shard;
        self.statuses.retain(|s| keep(&s.server_id));
        self.changes.retain(|c| keep(&c.server_id));
        self.failures.retain(|f| keep(&f.server_id));
        self.rollups.retain(|r| keep(&r.server_id));
        self.epochs.remove(&shard);
    }

    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty() && self.changes.is_empty() && self.failures.is_empty() && self.rollups.is_empty()
    }
}

/// `INSERT INTO table (cols) VALUES ($1,…),(…)` for `rows` rows of `cols.len()` columns.
/// SQLite gets anonymous `?` placeholders instead: looking up a numbered parameter's name is
/// linear in SQLite, which made binding a 1,800-parameter statement quadratic.
pub(super) fn multi_row_insert(backend: Backend, table: &str, cols: &[&str], rows: usize) -> String {
    multi_row_insert_with(backend, table, cols, rows, &[])
}

/// [`multi_row_insert`] with more columns whose value is an SQL expression (the same in
/// every row), e.g. the database's clock.
fn multi_row_insert_with(backend: Backend, table: &str, cols: &[&str], rows: usize, exprs: &[(&str, &str)]) -> String {
    let names: Vec<&str> = cols.iter().copied().chain(exprs.iter().map(|(col, _)| *col)).collect();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..cols.len() {
            n += 1;
            sql.push_str(if col == 0 { "" } else { ", " });
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${n}");
                }
            }
        }
        for (_, expr) in exprs {
            let _ = write!(sql, ", {expr}");
        }
        sql.push(')');
    }
    sql
}

const STATUS_COLS: [&str; 9] = [
    "server_id",
    "state",
    "consecutive_failures",
    "consecutive_successes",
    "confirmed_down",
    "last_error",
    "last_probe_at",
    "state_since",
    "seq",
];

/// Upsert statuses with the newer-`seq`-wins rule, in the caller's transaction. Shared by the
/// write-behind batches and the case engine's decision transactions.
pub(super) async fn upsert_statuses(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    statuses: &[StoredStatus],
) -> Result<(), StoreError> {
    // One order for every writer (the batches and the engine's decisions), so two upserts that
    // overlap on PostgreSQL wait for each other instead of deadlocking.
    let mut sorted: Vec<&StoredStatus> = statuses.iter().collect();
    sorted.sort_unstable_by(|a, b| a.server_id.cmp(&b.server_id));
    for chunk in sorted.chunks(CHUNK) {
        // `written_at` on the database's clock: other instances read what changed since.
        let now = backend.now_ms_sql();
        let mut sql =
            multi_row_insert_with(backend, "server_status", &STATUS_COLS, chunk.len(), &[("written_at", now)]);
        sql.push_str(
            " ON CONFLICT (server_id) DO UPDATE SET written_at = excluded.written_at, state = excluded.state, \
             consecutive_failures = excluded.consecutive_failures, \
             consecutive_successes = excluded.consecutive_successes, \
             confirmed_down = excluded.confirmed_down, last_error = excluded.last_error, \
             last_probe_at = excluded.last_probe_at, state_since = excluded.state_since, \
             seq = excluded.seq WHERE excluded.seq > server_status.seq",
        );
        let mut query = sqlx::query(&sql);
        for s in chunk {
            query = query
                .bind(s.server_id.as_str())
                .bind(s.state.as_str())
                .bind(s.consecutive_failures)
                .bind(s.consecutive_successes)
                .bind(i64::from(s.confirmed_down))
                .bind(s.last_error.as_deref())
                .bind(s.last_probe_at)
                .bind(s.state_since)
                .bind(s.seq);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    /// Write one window's results in one transaction. A fenced store drops the rows of
    /// servers whose shard this instance no longer holds (a former owner, paused past its
    /// lease, never overwrites the new owner's counts).
    pub async fn save_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        // The write lock first: a transaction that reads (the fence) and then writes would fail at
        // once on SQLite if another writer committed in between, instead of waiting its turn.
        let mut tx = self.begin_write().await?;
        let fenced_batch;
        let batch = match super::leases::fence(&mut tx, self.backend, self.fence.as_deref()).await? {
            Some(held) => {
                fenced_batch = batch.only(|id| {
                    let shard = shard_of(id);
                    held.get(&shard).is_some_and(|epoch| batch.epochs.get(&shard).is_none_or(|e| e == epoch))
                });
                &fenced_batch
            }
            None => batch,
        };
        for chunk in batch.changes.chunks(CHUNK) {
            let cols = ["server_id", "at", "from_state", "to_state", "consecutive_failures", "error"];
            let sql = multi_row_insert(self.backend, "state_changes", &cols, chunk.len());
            let mut query = sqlx::query(&sql);
            for c in chunk {
                query = query
                    .bind(c.server_id.as_str())
                    .bind(c.at)
                    .bind(c.from.as_str())
                    .bind(c.to.as_str())
                    .bind(c.consecutive_failures)
                    .bind(c.error.as_deref());
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in batch.failures.chunks(CHUNK) {
            let cols = ["server_id", "at", "error", "duration_ms"];
            let sql = multi_row_insert(self.backend, "probe_failures", &cols, chunk.len());
            let mut query = sqlx::query(&sql);
            for f in chunk {
                query = query.bind(f.server_id.as_str()).bind(f.at).bind(f.error.as_str()).bind(f.duration_ms);
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in batch.rollups.chunks(CHUNK) {
            let cols = ["server_id", "hour", "probes", "failures", "latency_sum_ms", "latency_max_ms"];
            let mut sql = multi_row_insert(self.backend, "probe_rollups", &cols, chunk.len());
            sql.push_str(
                " ON CONFLICT (server_id, hour) DO UPDATE SET \
                 probes = probe_rollups.probes + excluded.probes, \
                 failures = probe_rollups.failures + excluded.failures, \
                 latency_sum_ms = probe_rollups.latency_sum_ms + excluded.latency_sum_ms, \
                 latency_max_ms = CASE WHEN excluded.latency_max_ms > probe_rollups.latency_max_ms \
                 THEN excluded.latency_max_ms ELSE probe_rollups.latency_max_ms END",
            );
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(r.server_id.as_str())
                    .bind(r.hour)
                    .bind(r.probes)
                    .bind(r.failures)
                    .bind(r.latency_sum_ms)
                    .bind(r.latency_max_ms);
            }
            query.execute(&mut *tx).await?;
        }
        super::service_days::add_rollups(&mut tx, self.backend, &batch.rollups).await?;
        // Last, just before the commit: `written_at` is then as close as it gets to the
        // moment other instances can see the row.
        upsert_statuses(&mut tx, self.backend, &batch.statuses).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every persisted server status, to continue counting after a restart.
    pub async fn load_statuses(&self) -> Result<Vec<StoredStatus>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {} FROM server_status", STATUS_COLS.join(", "))).fetch_all(&self.pool).await?;
        statuses_from(&rows)
    }

    /// The statuses written at or after `since` (Unix ms on the database's clock), and the
    /// database's clock as of the read: what other instances changed since the last look.
    pub async fn statuses_written_since(&self, since: i64) -> Result<(Vec<StoredStatus>, i64), StoreError> {
        let now = self.database_now().await?;
        let rows = sqlx::query(&format!("SELECT {} FROM server_status WHERE written_at >= $1", STATUS_COLS.join(", ")))
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok((statuses_from(&rows)?, now))
    }

    /// State changes of one server, newest first.
    pub async fn state_changes(&self, server_id: &str, limit: i64) -> Result<Vec<StateChangeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT server_id, at, from_state, to_state, consecutive_failures, error FROM state_changes \
             WHERE server_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(server_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let from: String = row.try_get("from_state")?;
                let to: String = row.try_get("to_state")?;
                Ok(StateChangeRow {
                    server_id: row.try_get("server_id")?,
                    at: row.try_get("at")?,
                    from: from.parse().map_err(StoreError::Corrupt)?,
                    to: to.parse().map_err(StoreError::Corrupt)?,
                    consecutive_failures: row.try_get("consecutive_failures")?,
                    error: row.try_get("error")?,
                })
            })
            .collect()
    }

    /// Hourly roll-ups of one server from `since_hour` on, oldest first.
    pub async fn rollups(&self, server_id: &str, since_hour: i64) -> Result<Vec<RollupDelta>, StoreError> {
        let rows = sqlx::query(
            "SELECT server_id, hour, probes, failures, latency_sum_ms, latency_max_ms FROM probe_rollups \
             WHERE server_id = $1 AND hour >= $2 ORDER BY hour",
        )
        .bind(server_id)
        .bind(since_hour)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RollupDelta {
                    server_id: row.try_get("server_id")?,
                    hour: row.try_get("hour")?,
                    probes: row.try_get("probes")?,
                    failures: row.try_get("failures")?,
                    latency_sum_ms: row.try_get("latency_sum_ms")?,
                    latency_max_ms: row.try_get("latency_max_ms")?,
                    // Per-server rows: their service is the fleet's to say.
                    ..RollupDelta::default()
                })
            })
            .collect()
    }

    /// Failure rows of one server, newest first.
    pub async fn failures(&self, server_id: &str, limit: i64) -> Result<Vec<FailureRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT server_id, at, error, duration_ms FROM probe_failures WHERE server_id = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(server_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FailureRow {
                    server_id: row.try_get("server_id")?,
                    at: row.try_get("at")?,
                    error: row.try_get("error")?,
                    duration_ms: row.try_get("duration_ms")?,
                })
            })
            .collect()
    }

    /// Delete history older than `before` (Unix ms), in chunks of [`PRUNE_CHUNK`] rows, one
    /// short statement each, yielding between them: a prune of millions of rows never holds
    /// SQLite's write lock for more than one chunk, so the case engine and other instances
    /// write in between (the leader's result writer, which calls this, waits for it).
    /// Returns how many rows went.
    pub async fn prune_history(&self, before: i64) -> Result<u64, StoreError> {
        let mut removed = 0;
        for (table, column) in
            [("probe_failures", "at"), ("state_changes", "at"), ("probe_rollups", "hour"), ("service_days", "day")]
        {
            let rows = format!("SELECT {{row}} FROM {table} WHERE {column} < $1 LIMIT {PRUNE_CHUNK}");
            let sql = format!("DELETE FROM {table} WHERE {}", self.backend.row_in(&rows));
            loop {
                let n = sqlx::query(&sql).bind(before).execute(&self.pool).await?.rows_affected();
                removed += n;
                if n < PRUNE_CHUNK {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(removed)
    }
}

fn statuses_from(rows: &[sqlx::any::AnyRow]) -> Result<Vec<StoredStatus>, StoreError> {
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("state")?;
            Ok(StoredStatus {
                server_id: row.try_get("server_id")?,
                state: state.parse().map_err(StoreError::Corrupt)?,
                consecutive_failures: row.try_get("consecutive_failures")?,
                consecutive_successes: row.try_get("consecutive_successes")?,
                confirmed_down: row.try_get::<i64, _>("confirmed_down")? != 0,
                last_error: row.try_get("last_error")?,
                last_probe_at: row.try_get("last_probe_at")?,
                state_since: row.try_get("state_since")?,
                seq: row.try_get("seq")?,
            })
        })
        .collect()
}

/// Rows one retention statement deletes at most (a few milliseconds of SQLite's write lock).
pub const PRUNE_CHUNK: u64 = 5_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_insert_numbers_every_parameter() {
        assert_eq!(
            multi_row_insert(Backend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            multi_row_insert(Backend::Sqlite, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
