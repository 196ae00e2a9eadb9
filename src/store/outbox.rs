//! Outbox rows: queued in the case engine's [`Tx`], claimed with leases by the delivery worker,
//! and marked delivered, retried or dead. Not here: what a message says (`crate::outbox`) or
//! how it is sent (`crate::notify`).

use sqlx::FromRow;

use super::{Store, StoreError, Tx};
use crate::domain::TimelineKind;

const OUTBOX_COLUMNS: [&str; 14] = [
    "id",
    "case_id",
    "event",
    "channel",
    "recipient_kind",
    "recipient_id",
    "idempotency_key",
    "body",
    "created_at",
    "attempts",
    "next_attempt_at",
    "delivered_at",
    "dead_at",
    "last_error",
];

/// `SELECT <every outbox column> FROM outbox`, the columns qualified by `alias` if given.
fn outbox_select(alias: &str) -> String {
    let prefix = if alias.is_empty() { String::new() } else { format!("{alias}.") };
    let cols: Vec<String> = OUTBOX_COLUMNS.iter().map(|c| format!("{prefix}{c}")).collect();
    format!("SELECT {} FROM outbox {alias}", cols.join(", "))
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy)]
pub enum AttemptOutcome<'a> {
    Delivered,
    /// Try again at this time (Unix ms).
    Retry {
        at: i64,
        error: &'a str,
    },
    /// Given up: a visible dead letter.
    Dead {
        error: &'a str,
    },
}

/// One message to one recipient through one channel. `body` is final when written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxRow {
    pub case_id: Option<i64>,
    pub event: String,
    pub channel: String,
    pub recipient_kind: String,
    pub recipient_id: String,
    pub idempotency_key: String,
    pub body: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub case_id: Option<i64>,
    pub event: String,
    pub channel: String,
    pub recipient_kind: String,
    pub recipient_id: String,
    pub idempotency_key: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub dead_at: Option<i64>,
    pub last_error: Option<String>,
}

impl Store {
    /// Outbox rows, oldest first; of one case, or all when `case_id` is `None`.
    pub async fn outbox(&self, case_id: Option<i64>) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = match case_id {
            Some(id) => {
                sqlx::query(&format!("{} WHERE case_id = $1 ORDER BY id", outbox_select("")))
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query(&format!("{} ORDER BY id", outbox_select(""))).fetch_all(&self.pool).await?,
        };
        Ok(rows.iter().map(OutboxRow::from_row).collect::<Result<_, _>>()?)
    }

    /// Outbox rows after row `after`, oldest first (for live views).
    pub async fn outbox_since(&self, after: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(&format!("{} WHERE id > $1 ORDER BY id LIMIT $2", outbox_select("")))
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(OutboxRow::from_row).collect::<Result<_, _>>()?)
    }

    /// Claim up to `limit` messages that are due, leasing them until `lease_until`. Only the
    /// oldest undelivered message of each (channel, recipient) is eligible, so each recipient
    /// gets its messages in order while different recipients are served concurrently.
    /// PostgreSQL skips rows another instance holds (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_outbox(&self, now: i64, limit: i64, lease_until: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = self.backend.claim_lock();
        let sql = format!(
            "{} WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= $1 \
             AND (o.lease_until IS NULL OR o.lease_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.channel = o.channel AND p.recipient_kind = o.recipient_kind \
             AND p.recipient_id = o.recipient_id AND p.id < o.id AND p.delivered_at IS NULL AND p.dead_at IS NULL) \
             ORDER BY o.id LIMIT $2{lock}",
            outbox_select("o")
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&mut *tx).await?;
        let rows: Vec<OutboxRow> = rows.iter().map(OutboxRow::from_row).collect::<Result<_, _>>()?;
        for row in &rows {
            sqlx::query("UPDATE outbox SET lease_until = $2 WHERE id = $1")
                .bind(row.id)
                .bind(lease_until)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows)
    }

    /// Record one delivery attempt: `Delivered`, `Retry` at a time, or `Dead`. Adds `event`
    /// (kind, text) to the message's case timeline in the same transaction, if given.
    pub async fn record_attempt(
        &self,
        row: &OutboxRow,
        outcome: AttemptOutcome<'_>,
        now: i64,
        event: Option<(TimelineKind, &str)>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let query = match outcome {
            AttemptOutcome::Delivered => {
                sqlx::query("UPDATE outbox SET attempts = attempts + 1, delivered_at = $2, lease_until = NULL WHERE id = $1")
                    .bind(row.id)
                    .bind(now)
            }
            AttemptOutcome::Retry { at, error } => sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, lease_until = NULL WHERE id = $1",
            )
            .bind(row.id)
            .bind(at)
            .bind(error),
            AttemptOutcome::Dead { error } => sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, dead_at = $2, last_error = $3, lease_until = NULL WHERE id = $1",
            )
            .bind(row.id)
            .bind(now)
            .bind(error),
        };
        query.execute(&mut *tx).await?;
        if let (Some(case_id), Some((kind, text))) = (row.case_id, event) {
            sqlx::query(
                "INSERT INTO case_events (case_id, at, kind, actor, text) VALUES ($1, $2, $3, 'firstwatch', $4)",
            )
            .bind(case_id)
            .bind(now)
            .bind(kind.as_str())
            .bind(text)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Messages given up on, newest first.
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "{} WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id DESC LIMIT $1",
            outbox_select("")
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(OutboxRow::from_row).collect::<Result<_, _>>()?)
    }
}

impl Tx {
    /// Queue a message. A second row with the same idempotency key is ignored, so replaying
    /// an operation cannot queue a message twice.
    pub async fn enqueue(&mut self, m: &NewOutboxRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (case_id, event, channel, recipient_kind, recipient_id, idempotency_key, body, created_at, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(m.case_id)
        .bind(m.event.as_str())
        .bind(m.channel.as_str())
        .bind(m.recipient_kind.as_str())
        .bind(m.recipient_id.as_str())
        .bind(m.idempotency_key.as_str())
        .bind(m.body.as_str())
        .bind(m.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
