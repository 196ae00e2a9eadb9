//! Acknowledgement-link tokens (table `ack_tokens`, PRODUCT.md section 14): kept as SHA-256
//! only, one per page or escalation message, used once. What a token may do is decided by the
//! case engine; this only stores and claims.

use sqlx::Row;

use super::{Store, StoreError, Tx};

/// A token's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckToken {
    /// The case it acknowledges (0 for a test page's token).
    pub case_id: i64,
    pub person: String,
    pub used_at: Option<i64>,
    /// Set for a test page's token: the `paging_tests` row it verifies.
    pub test_id: Option<i64>,
}

const COLUMNS: &str = "SELECT case_id, person, used_at, test_id FROM ack_tokens WHERE token_hash = $1";

fn of_row(row: &sqlx::any::AnyRow) -> Result<AckToken, sqlx::Error> {
    Ok(AckToken {
        case_id: row.try_get("case_id")?,
        person: row.try_get("person")?,
        used_at: row.try_get("used_at")?,
        test_id: row.try_get("test_id")?,
    })
}

impl Store {
    /// The token with this hash, if any.
    pub async fn ack_token(&self, token_hash: &str) -> Result<Option<AckToken>, StoreError> {
        let row = sqlx::query(COLUMNS).bind(token_hash).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(of_row).transpose()?)
    }
}

impl Store {
    /// The active case `person` was paged or escalated to most recently, if any.
    pub async fn latest_paged_case(&self, person: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT o.case_id AS case_id FROM outbox o JOIN cases c ON c.id = o.case_id \
             WHERE o.recipient_kind = 'person' AND o.recipient_id = $1 AND o.event IN ('page', 'escalation') \
             AND c.status NOT IN {} ORDER BY o.id DESC LIMIT 1",
            crate::domain::case_status::inactive_sql()
        ))
        .bind(person)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("case_id")).transpose()?)
    }
}

impl Tx {
    /// Keep a new token for the message `outbox_key`; `false` when that message has one
    /// already (a replayed enqueue), and then nothing is written.
    pub async fn add_ack_token(
        &mut self,
        token_hash: &str,
        case_id: i64,
        person: &str,
        outbox_key: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO ack_tokens (token_hash, case_id, person, outbox_key, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (outbox_key) DO NOTHING",
        )
        .bind(token_hash)
        .bind(case_id)
        .bind(person)
        .bind(outbox_key)
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keep a new token for the test page message `outbox_key` of test `test_id`; `false`
    /// when that message has one already.
    pub async fn add_test_token(
        &mut self,
        token_hash: &str,
        test_id: i64,
        person: &str,
        outbox_key: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO ack_tokens (token_hash, case_id, person, outbox_key, created_at, test_id) \
             VALUES ($1, 0, $2, $3, $4, $5) ON CONFLICT (outbox_key) DO NOTHING",
        )
        .bind(token_hash)
        .bind(person)
        .bind(outbox_key)
        .bind(at)
        .bind(test_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Use the token: its row if it was unused (now marked used at `at`), else `None`.
    pub async fn claim_ack_token(&mut self, token_hash: &str, at: i64) -> Result<Option<AckToken>, StoreError> {
        let claimed = sqlx::query("UPDATE ack_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(at)
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(COLUMNS).bind(token_hash).fetch_one(&mut *self.tx).await?;
        Ok(Some(of_row(&row)?))
    }

    /// Every (person, channel) a page or escalation of the case went to.
    pub async fn paged_for_case(&mut self, case_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT recipient_id, channel FROM outbox WHERE case_id = $1 AND recipient_kind = 'person' \
             AND event IN ('page', 'escalation') ORDER BY recipient_id, channel",
        )
        .bind(case_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("recipient_id")?, row.try_get("channel")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
