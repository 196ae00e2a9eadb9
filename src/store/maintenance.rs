//! Maintenance windows added at run time (`maintenance_windows`). Not here: which servers a
//! window covers (`crate::maintenance`).

use sqlx::{FromRow, Row};

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MaintenanceRow {
    pub id: i64,
    pub customer: Option<String>,
    pub server: Option<String>,
    pub start_at: i64,
    pub end_at: i64,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

impl Store {
    pub async fn maintenance_windows(&self) -> Result<Vec<MaintenanceRow>, StoreError> {
        self.maintenance_windows_after(i64::MIN).await
    }

    /// The windows added after window `after` (windows are only ever added), oldest first.
    pub async fn maintenance_windows_after(&self, after: i64) -> Result<Vec<MaintenanceRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, customer, server, start_at, end_at, reason, created_by, created_at FROM maintenance_windows \
             WHERE id > $1 ORDER BY id",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(MaintenanceRow::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn add_maintenance(&self, w: &MaintenanceRow) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO maintenance_windows (customer, server, start_at, end_at, reason, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(w.customer.as_deref())
        .bind(w.server.as_deref())
        .bind(w.start_at)
        .bind(w.end_at)
        .bind(w.reason.as_deref())
        .bind(w.created_by.as_str())
        .bind(w.created_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }
}
