//! Test pages (`paging_tests`, PRODUCT.md section 14): one row per test sent to a person, when
//! it must be acknowledged by, whether it was, and whether its failure was reported. Their
//! ack tokens are `ack_tokens` rows with `test_id` set. Not here: what a test sends and when
//! (`crate::escalation::paging_test`).

use sqlx::{FromRow, Row};

use super::{Store, StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PagingTestRow {
    pub id: i64,
    pub person: String,
    /// `api`, `cli` or `handover`.
    pub reason: String,
    pub sent_at: i64,
    pub deadline: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_via: Option<String>,
    pub reported_at: Option<i64>,
}

const COLUMNS: &str =
    "SELECT id, person, reason, sent_at, deadline, acknowledged_at, acknowledged_via, reported_at FROM paging_tests";

/// People whose latest test was reported unverified and not acknowledged since.
const UNVERIFIED: &str = "SELECT COUNT(*) AS n FROM paging_tests t WHERE t.reported_at IS NOT NULL \
     AND t.acknowledged_at IS NULL AND t.id = (SELECT MAX(l.id) FROM paging_tests l WHERE l.person = t.person)";

impl Store {
    pub async fn paging_test(&self, id: i64) -> Result<Option<PagingTestRow>, StoreError> {
        let row = sqlx::query(&format!("{COLUMNS} WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(PagingTestRow::from_row).transpose()?)
    }

    /// The newest tests, newest first.
    pub async fn paging_tests(&self, limit: i64) -> Result<Vec<PagingTestRow>, StoreError> {
        let rows =
            sqlx::query(&format!("{COLUMNS} ORDER BY id DESC LIMIT $1")).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(PagingTestRow::from_row).collect::<Result<_, _>>()?)
    }

    /// The people whose latest test was reported unverified and not acknowledged since, each
    /// with when that test was sent (for the operations page).
    pub async fn paging_unverified_people(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(&UNVERIFIED.replace("COUNT(*) AS n", "t.person AS person, t.sent_at AS sent_at"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("person")?, r.try_get("sent_at")?))).collect()
    }

    /// The person's newest tests not acknowledged yet, newest first (a text `ACK` confirms
    /// the newest that went by text).
    pub async fn open_paging_tests(&self, person: &str) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM paging_tests WHERE person = $1 AND acknowledged_at IS NULL ORDER BY id DESC LIMIT 20",
        )
        .bind(person)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Whether a message with this idempotency key was queued.
    pub async fn outbox_has(&self, idempotency_key: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS one FROM outbox WHERE idempotency_key = $1")
            .bind(idempotency_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// How many people's paging path is unproven: their latest test was not acknowledged in
    /// time (`firstwatch_paging_unverified`).
    pub async fn paging_unverified(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(UNVERIFIED).fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
    }
}

impl Tx {
    pub async fn add_paging_test(
        &mut self,
        person: &str,
        reason: &str,
        sent_at: i64,
        deadline: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO paging_tests (person, reason, sent_at, deadline) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(person)
        .bind(reason)
        .bind(sent_at)
        .bind(deadline)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Mark the test acknowledged (the first time only); `false` if it was already.
    pub async fn verify_paging_test(&mut self, id: i64, at: i64, via: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE paging_tests SET acknowledged_at = $1, acknowledged_via = $2 WHERE id = $3 AND acknowledged_at IS NULL",
        )
        .bind(at)
        .bind(via)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The tests past their deadline, unacknowledged and not yet reported, oldest first.
    pub async fn overdue_paging_tests(&mut self, now: i64) -> Result<Vec<PagingTestRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "{COLUMNS} WHERE acknowledged_at IS NULL AND reported_at IS NULL AND deadline <= $1 ORDER BY id LIMIT 100"
        ))
        .bind(now)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.iter().map(PagingTestRow::from_row).collect::<Result<_, _>>()?)
    }

    /// Record that the test's failure was reported; `false` if it was already (by another
    /// sweep) or the test was confirmed meanwhile, and then the caller reports nothing.
    pub async fn report_paging_test(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE paging_tests SET reported_at = $1 WHERE id = $2 AND reported_at IS NULL AND acknowledged_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
