//! Case rows, timelines and escalation marks. Every change the case engine makes goes through
//! one [`Tx`], so a case change, its timeline events and the notifications it implies (queued
//! through `outbox.rs`), the statuses it rests on and the flags it sets (`flags.rs`) commit
//! together or not at all. Maintenance windows are in `maintenance.rs`.

use sqlx::any::AnyRow;
use sqlx::{Any, FromRow, Row, Transaction};

use super::{Backend, Store, StoreError, StoredStatus};
use crate::domain::case_status::inactive_sql;
use crate::domain::shard::shard_of;
use crate::domain::{CaseStatus, Severity, TimelineKind};

pub(super) const CASE_COLS: &str = "id, customer, service, server, severity, status, opened_at, updated_at, acknowledged_at, \
     acknowledged_by, recovered_at, resolved_at, closed_at, consecutive_failures, last_error, response_due_at, sla_breached, \
     severity1_since, last_update_at";

/// A case as stored (`status` by its name).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub id: i64,
    pub customer: String,
    pub service: String,
    pub server: String,
    pub severity: Severity,
    pub status: CaseStatus,
    pub opened_at: i64,
    pub updated_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub recovered_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    pub response_due_at: i64,
    pub sla_breached: bool,
    /// When it last became Severity 1; escalation levels count from here. Set by the engine.
    pub severity1_since: Option<i64>,
    /// When the customer last got a `customer.update`; set by the escalation step.
    pub last_update_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CaseEventRow {
    pub id: i64,
    pub case_id: i64,
    pub at: i64,
    #[sqlx(try_from = "String")]
    pub kind: TimelineKind,
    pub actor: String,
    pub text: String,
}

pub(super) fn case_from(row: &AnyRow) -> Result<CaseRow, sqlx::Error> {
    Ok(CaseRow {
        id: row.try_get("id")?,
        customer: row.try_get("customer")?,
        service: row.try_get("service")?,
        server: row.try_get("server")?,
        severity: Severity::from_number(row.try_get("severity")?).map_err(|e| sqlx::Error::Decode(e.into()))?,
        status: {
            let status: String = row.try_get("status")?;
            status.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?
        },
        opened_at: row.try_get("opened_at")?,
        updated_at: row.try_get("updated_at")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        recovered_at: row.try_get("recovered_at")?,
        resolved_at: row.try_get("resolved_at")?,
        closed_at: row.try_get("closed_at")?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        last_error: row.try_get("last_error")?,
        response_due_at: row.try_get("response_due_at")?,
        sla_breached: row.try_get::<i64, _>("sla_breached")? != 0,
        severity1_since: row.try_get("severity1_since")?,
        last_update_at: row.try_get("last_update_at")?,
    })
}

/// A unique constraint said no: another engine got there first.
fn conflict_or(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Query(error),
    }
}

/// A write transaction for one case-engine operation. Dropping it without [`Tx::commit`]
/// rolls everything back.
pub struct Tx {
    pub(super) tx: Transaction<'static, Any>,
    pub(super) backend: Backend,
    pub(super) fence: Option<std::sync::Arc<str>>,
}

impl Store {
    /// Begin a write transaction. On SQLite it takes the write lock first, so that what it
    /// reads cannot be changed under it by the result writer (which would fail the commit).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx { tx: self.begin_write().await?, backend: self.backend, fence: self.fence.clone() })
    }

    /// A transaction that holds SQLite's write lock from its first statement: a transaction
    /// that reads first and writes later would fail with "database is locked" instead of
    /// waiting, when another writer committed in between.
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(statement) = self.backend.write_lock_statement() {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    pub async fn case(&self, id: i64) -> Result<Option<CaseRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {CASE_COLS} FROM cases WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(case_from).transpose()?)
    }

    /// Cases, newest first; `statuses` empty means all.
    pub async fn cases(&self, statuses: &[CaseStatus], limit: i64) -> Result<Vec<CaseRow>, StoreError> {
        self.cases_before(statuses, None, limit).await
    }

    /// Like [`Store::cases`], only cases older than case `before` (a page after it).
    pub async fn cases_before(
        &self,
        statuses: &[CaseStatus],
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let mut sql = format!("SELECT {CASE_COLS} FROM cases WHERE id < $1");
        if !statuses.is_empty() {
            let list: Vec<String> = (0..statuses.len()).map(|i| format!("${}", i + 2)).collect();
            sql.push_str(&format!(" AND status IN ({})", list.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", statuses.len() + 2));
        let mut query = sqlx::query(&sql).bind(before.unwrap_or(i64::MAX));
        for status in statuses {
            query = query.bind(status.as_str());
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(case_from).collect::<Result<_, _>>()?)
    }

    /// The most recent case of every service that ever had one.
    pub async fn latest_cases(&self) -> Result<Vec<CaseRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CASE_COLS} FROM cases WHERE id IN (SELECT MAX(id) FROM cases GROUP BY customer, service)"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(case_from).collect::<Result<_, _>>()?)
    }

    /// The cases written at or after `since` (Unix ms on the database's clock; `None`: the
    /// latest case of every service instead), and the database's clock as of the read: what
    /// the sweep needs to know of cases changed since its last look.
    pub async fn cases_written_since(&self, since: Option<i64>) -> Result<(Vec<CaseRow>, i64), StoreError> {
        let now = self.database_now().await?;
        let rows = match since {
            None => return Ok((self.latest_cases().await?, now)),
            Some(since) => {
                sqlx::query(&format!("SELECT {CASE_COLS} FROM cases WHERE written_at >= $1 ORDER BY id"))
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok((rows.iter().map(case_from).collect::<Result<_, _>>()?, now))
    }

    /// Timeline events of every case after event `after`, oldest first (for live views).
    pub async fn events_since(&self, after: i64, limit: i64) -> Result<Vec<CaseEventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, at, kind, actor, text FROM case_events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(CaseEventRow::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn timeline(&self, case_id: i64) -> Result<Vec<CaseEventRow>, StoreError> {
        let rows =
            sqlx::query("SELECT id, case_id, at, kind, actor, text FROM case_events WHERE case_id = $1 ORDER BY id")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(CaseEventRow::from_row).collect::<Result<_, _>>()?)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    /// The service's case that is not resolved or closed, locked for this transaction.
    pub async fn active_case(&mut self, customer: &str, service: &str) -> Result<Option<CaseRow>, StoreError> {
        let lock = self.backend.row_lock();
        let row = sqlx::query(&format!(
            "SELECT {CASE_COLS} FROM cases WHERE customer = $1 AND service = $2 AND status NOT IN {inactive}{lock}",
            inactive = inactive_sql()
        ))
        .bind(customer)
        .bind(service)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.as_ref().map(case_from).transpose()?)
    }

    /// The service's most recent case of any status.
    pub async fn latest_case(&mut self, customer: &str, service: &str) -> Result<Option<CaseRow>, StoreError> {
        let lock = self.backend.row_lock();
        let row = sqlx::query(&format!(
            "SELECT {CASE_COLS} FROM cases WHERE customer = $1 AND service = $2 ORDER BY id DESC LIMIT 1{lock}"
        ))
        .bind(customer)
        .bind(service)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.as_ref().map(case_from).transpose()?)
    }

    pub async fn case(&mut self, id: i64) -> Result<Option<CaseRow>, StoreError> {
        let lock = self.backend.row_lock();
        let row = sqlx::query(&format!("SELECT {CASE_COLS} FROM cases WHERE id = $1{lock}"))
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.as_ref().map(case_from).transpose()?)
    }

    /// Cases not resolved or closed, for the periodic checks; locked on PostgreSQL so two
    /// instances never both send the same update.
    pub async fn active_cases(&mut self) -> Result<Vec<CaseRow>, StoreError> {
        let lock = self.backend.row_lock();
        let rows = sqlx::query(&format!(
            "SELECT {CASE_COLS} FROM cases WHERE status NOT IN {inactive} ORDER BY id{lock}",
            inactive = inactive_sql()
        ))
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.iter().map(case_from).collect::<Result<_, _>>()?)
    }

    /// Insert a new case (its `id` is ignored) and return its id. [`StoreError::Conflict`]
    /// when the service already has an active case.
    pub async fn insert_case(&mut self, c: &CaseRow) -> Result<i64, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO cases (customer, service, server, severity, status, opened_at, updated_at, consecutive_failures, \
             last_error, response_due_at, sla_breached, severity1_since, last_update_at, written_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, {now}) RETURNING id",
            now = self.backend.now_ms_sql()
        ))
        .bind(c.customer.as_str())
        .bind(c.service.as_str())
        .bind(c.server.as_str())
        .bind(c.severity.number())
        .bind(c.status.as_str())
        .bind(c.opened_at)
        .bind(c.updated_at)
        .bind(c.consecutive_failures)
        .bind(c.last_error.as_deref())
        .bind(c.response_due_at)
        .bind(i64::from(c.sla_breached))
        .bind(c.severity1_since)
        .bind(c.last_update_at)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(conflict_or)?;
        Ok(row.try_get("id")?)
    }

    /// Write every mutable column of `c`. [`StoreError::Conflict`] when reactivating it would
    /// give its service a second active case.
    pub async fn update_case(&mut self, c: &CaseRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE cases SET severity = $2, status = $3, updated_at = $4, acknowledged_at = $5, acknowledged_by = $6, \
             recovered_at = $7, resolved_at = $8, closed_at = $9, consecutive_failures = $10, last_error = $11, \
             response_due_at = $12, sla_breached = $13, server = $14, opened_at = $15, severity1_since = $16, \
             last_update_at = $17, written_at = {now} WHERE id = $1",
            now = self.backend.now_ms_sql()
        ))
        .bind(c.id)
        .bind(c.severity.number())
        .bind(c.status.as_str())
        .bind(c.updated_at)
        .bind(c.acknowledged_at)
        .bind(c.acknowledged_by.as_deref())
        .bind(c.recovered_at)
        .bind(c.resolved_at)
        .bind(c.closed_at)
        .bind(c.consecutive_failures)
        .bind(c.last_error.as_deref())
        .bind(c.response_due_at)
        .bind(i64::from(c.sla_breached))
        .bind(c.server.as_str())
        .bind(c.opened_at)
        .bind(c.severity1_since)
        .bind(c.last_update_at)
        .execute(&mut *self.tx)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    /// Append a timeline event; returns its id (used in idempotency keys).
    pub async fn add_event(
        &mut self,
        case_id: i64,
        at: i64,
        kind: TimelineKind,
        actor: &str,
        text: &str,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO case_events (case_id, at, kind, actor, text) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(case_id)
        .bind(at)
        .bind(kind.as_str())
        .bind(actor)
        .bind(text)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Record that escalation `level` fired for the case. Returns false if it already had,
    /// so a level fires once however often the check runs, on however many instances.
    pub async fn fire_escalation(&mut self, case_id: i64, level: i64, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO case_escalations (case_id, level, fired_at) VALUES ($1, $2, $3) ON CONFLICT (case_id, level) DO NOTHING",
        )
        .bind(case_id)
        .bind(level)
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forget fired levels (a reopened case escalates afresh).
    pub async fn clear_escalations(&mut self, case_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM case_escalations WHERE case_id = $1").bind(case_id).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// The text of the case's latest operator note, if any.
    pub async fn latest_note(&mut self, case_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT text FROM case_events WHERE case_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1")
            .bind(case_id)
            .bind(TimelineKind::Note.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get("text")).transpose()?)
    }

    /// Go on only while this instance holds `lease` (a no-op on an unfenced store); see
    /// [`super::leases::hold`]. Call it first in a decision's transaction.
    pub async fn hold(&mut self, lease: super::Lease) -> Result<(), StoreError> {
        super::leases::hold(&mut self.tx, self.backend, self.fence.as_deref(), lease).await
    }

    /// Persist the statuses a decision is based on, in the decision's transaction, in one
    /// statement (same newer-`seq`-wins rule as the write-behind batches).
    pub async fn save_statuses(&mut self, statuses: &[StoredStatus]) -> Result<(), StoreError> {
        match super::leases::fence(&mut self.tx, self.backend, self.fence.as_deref()).await? {
            Some(owned) => {
                let kept: Vec<StoredStatus> =
                    statuses.iter().filter(|s| owned.contains_key(&shard_of(&s.server_id))).cloned().collect();
                super::tracking::upsert_statuses(&mut self.tx, self.backend, &kept).await
            }
            None => super::tracking::upsert_statuses(&mut self.tx, self.backend, statuses).await,
        }
    }
}
