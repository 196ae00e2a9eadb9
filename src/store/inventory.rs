//! Customers managed through the inventory API (`inventory_customers`): the JSON body each was
//! given, a tombstone for one deleted, and the version counter that lets every instance read
//! only what changed since its last look. Not here: what a body must hold
//! (`config::managed`), putting it in force (`inventory`).

use sqlx::Row;

use super::{Store, StoreError};

/// One stored customer: its body, or `None` once deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryRow {
    pub id: String,
    pub body: Option<String>,
    pub version: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

impl Store {
    /// Every row whose version is above `since`, in version order (tombstones included).
    pub async fn inventory_since(&self, since: i64) -> Result<Vec<InventoryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body, version, updated_at, updated_by FROM inventory_customers \
             WHERE version > $1 ORDER BY version",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InventoryRow {
                    id: r.try_get("id")?,
                    body: r.try_get("body")?,
                    version: r.try_get("version")?,
                    updated_at: r.try_get("updated_at")?,
                    updated_by: r.try_get("updated_by")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Store `body` for customer `id` (`None`: delete it, keeping a tombstone) under the next
    /// version, which is returned. Commits are ordered by the counter's row lock.
    pub async fn put_inventory(&self, id: &str, body: Option<&str>, at: i64, by: &str) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("UPDATE inventory_version SET version = version + 1 WHERE id = 1 RETURNING version")
            .fetch_one(&mut *tx)
            .await?;
        let version: i64 = row.try_get("version")?;
        sqlx::query(
            "INSERT INTO inventory_customers (id, body, version, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, version = excluded.version, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(id)
        .bind(body)
        .bind(version)
        .bind(at)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }
}
