//! On-call overrides added through the API (`oncall_overrides`) and who held each scheduled
//! role at the last sweep (`oncall_holders`). Not here: who is on call
//! (`crate::escalation::oncall`).

use sqlx::{FromRow, Row};

use super::{Store, StoreError, Tx};
use crate::clock::from_unix_ms;
use crate::config::Override;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OverrideRow {
    pub id: i64,
    pub role: String,
    pub person: String,
    pub start_at: i64,
    pub end_at: i64,
    pub created_by: String,
    pub created_at: i64,
}

impl OverrideRow {
    pub fn as_override(&self) -> Override {
        Override {
            role: self.role.clone(),
            person: self.person.clone(),
            start: from_unix_ms(self.start_at),
            end: from_unix_ms(self.end_at),
        }
    }
}

const NOT_OVER: &str = "SELECT id, role, person, start_at, end_at, created_by, created_at FROM oncall_overrides \
                        WHERE end_at > $1 ORDER BY id";

impl Store {
    /// The stored overrides not over at `now`, oldest first.
    pub async fn oncall_overrides(&self, now: i64) -> Result<Vec<OverrideRow>, StoreError> {
        let rows = sqlx::query(NOT_OVER).bind(now).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(OverrideRow::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn add_oncall_override(&self, o: &OverrideRow) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO oncall_overrides (role, person, start_at, end_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&o.role)
        .bind(&o.person)
        .bind(o.start_at)
        .bind(o.end_at)
        .bind(&o.created_by)
        .bind(o.created_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Remove a stored override; `false` when there is none with that id.
    pub async fn delete_oncall_override(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM oncall_overrides WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Tx {
    /// The stored overrides not over at `now`, as the pager reads them when it pages.
    pub async fn oncall_overrides(&mut self, now: i64) -> Result<Vec<Override>, StoreError> {
        let rows = sqlx::query(NOT_OVER).bind(now).fetch_all(&mut *self.tx).await?;
        rows.iter().map(|r| Ok(OverrideRow::from_row(r)?.as_override())).collect()
    }

    /// Who held each scheduled role at the last sweep.
    pub async fn oncall_holders(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT role, person FROM oncall_holders").fetch_all(&mut *self.tx).await?;
        rows.iter().map(|r| Ok((r.try_get("role")?, r.try_get("person")?))).collect()
    }

    /// Record that `person` holds `role` since `since`, if the role was last held by
    /// `previous` (`None`: never recorded). `false` when another sweep got there first, and
    /// then nothing is written.
    pub async fn hand_over(
        &mut self,
        role: &str,
        previous: Option<&str>,
        person: &str,
        since: i64,
    ) -> Result<bool, StoreError> {
        let done = match previous {
            None => sqlx::query(
                "INSERT INTO oncall_holders (role, person, since) VALUES ($1, $2, $3) ON CONFLICT (role) DO NOTHING",
            )
            .bind(role)
            .bind(person)
            .bind(since)
            .execute(&mut *self.tx)
            .await?,
            Some(previous) => {
                sqlx::query("UPDATE oncall_holders SET person = $1, since = $2 WHERE role = $3 AND person = $4")
                    .bind(person)
                    .bind(since)
                    .bind(role)
                    .bind(previous)
                    .execute(&mut *self.tx)
                    .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }
}
