//! Monitor flags (`monitor_flags`): named facts about the monitor itself that every instance
//! reads, such as the guard's `guard_degraded`. Setting one is conditional, so only the
//! instance that flips it notifies.

use sqlx::Row;

use super::{Store, StoreError, Tx};

impl Store {
    /// A monitor flag's value and since when, if set.
    pub async fn flag(&self, name: &str) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query("SELECT value, since FROM monitor_flags WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Ok::<_, sqlx::Error>((r.try_get("value")?, r.try_get("since")?))).transpose()?)
    }
}

impl Tx {
    /// Set (or with `None` clear) a monitor flag. Returns whether anything changed, so that
    /// only the instance that flips it sends the notification.
    pub async fn set_flag(&mut self, name: &str, value: Option<&str>, at: i64) -> Result<bool, StoreError> {
        let result = match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO monitor_flags (name, value, since) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(value)
                .bind(at)
                .execute(&mut *self.tx)
                .await?
            }
            None => sqlx::query("DELETE FROM monitor_flags WHERE name = $1").bind(name).execute(&mut *self.tx).await?,
        };
        Ok(result.rows_affected() > 0)
    }
}
