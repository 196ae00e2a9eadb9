//! Read models for the HTML pages: day totals of the hourly roll-ups over the whole fleet,
//! open-case counts, one customer's cases, and timeline events of many cases at once. Each is
//! ONE statement whatever the fleet size, so a page costs a fixed number of round trips.

use sqlx::{FromRow, Row};

use super::cases::{case_from, CASE_COLS};
use super::{CaseEventRow, CaseRow, Store, StoreError};
use crate::domain::case_status::inactive_sql;
use crate::domain::{Severity, TimelineKind};

/// Milliseconds in a (UTC) day; roll-up hours are grouped into days with it.
pub const DAY_MS: i64 = 86_400_000;

/// One server's probes and failures over one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRollup {
    pub server_id: String,
    /// Unix ms of the day's start (00:00 UTC).
    pub day: i64,
    pub probes: i64,
    pub failures: i64,
}

/// `$first, $first+1, …` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// The hourly roll-ups of every server with an hour in `[from, until)`, summed per server
    /// and UTC day: one statement over the whole fleet.
    pub async fn daily_rollups(&self, from: i64, until: i64) -> Result<Vec<DayRollup>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT server_id, hour - (hour % {DAY_MS}) AS day, CAST(SUM(probes) AS BIGINT) AS probes, \
             CAST(SUM(failures) AS BIGINT) AS failures FROM probe_rollups WHERE hour >= $1 AND hour < $2 \
             GROUP BY server_id, hour - (hour % {DAY_MS})"
        ))
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DayRollup {
                    server_id: row.try_get("server_id")?,
                    day: row.try_get("day")?,
                    probes: row.try_get("probes")?,
                    failures: row.try_get("failures")?,
                })
            })
            .collect()
    }

    /// How many servers have no stored status request at or after `at` (for the cluster
    /// bench: every server probed again after a take-over).
    pub async fn servers_not_probed_since(&self, at: i64) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM server_status WHERE last_probe_at IS NULL OR last_probe_at < $1")
                .bind(at)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// How many cases are not resolved or closed, per severity, lowest severity number first.
    pub async fn open_case_counts(&self) -> Result<Vec<(Severity, i64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT severity, COUNT(*) AS n FROM cases WHERE status NOT IN {inactive} GROUP BY severity ORDER BY severity",
            inactive = inactive_sql()
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let severity = Severity::from_number(row.try_get("severity")?).map_err(StoreError::Corrupt)?;
                Ok((severity, row.try_get("n")?))
            })
            .collect()
    }

    /// One customer's cases that are still active or changed since `since` (Unix ms), newest
    /// first.
    pub async fn customer_cases(&self, customer: &str, since: i64, limit: i64) -> Result<Vec<CaseRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CASE_COLS} FROM cases WHERE customer = $1 AND (status NOT IN {inactive} OR updated_at >= $2) \
             ORDER BY id DESC LIMIT $3",
            inactive = inactive_sql()
        ))
        .bind(customer)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(case_from).collect::<Result<_, _>>()?)
    }

    /// The timeline events of the given cases whose kind is one of `kinds`, in order per case
    /// (case by case, oldest event first).
    pub async fn events_of(&self, case_ids: &[i64], kinds: &[TimelineKind]) -> Result<Vec<CaseEventRow>, StoreError> {
        if case_ids.is_empty() || kinds.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, case_id, at, kind, actor, text FROM case_events WHERE case_id IN ({}) AND kind IN ({}) \
             ORDER BY case_id, id",
            placeholders(1, case_ids.len()),
            placeholders(1 + case_ids.len(), kinds.len()),
        );
        let mut query = sqlx::query(&sql);
        for id in case_ids {
            query = query.bind(*id);
        }
        for kind in kinds {
            query = query.bind(kind.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(CaseEventRow::from_row).collect::<Result<_, _>>()?)
    }

    /// The latest timeline event of each given case, leaving out events of the `skip` kinds
    /// (delivery bookkeeping, say). Cases without such an event are absent.
    pub async fn latest_events(
        &self,
        case_ids: &[i64],
        skip: &[TimelineKind],
    ) -> Result<Vec<CaseEventRow>, StoreError> {
        if case_ids.is_empty() {
            return Ok(Vec::new());
        }
        let skip_clause = if skip.is_empty() {
            String::new()
        } else {
            format!(" AND kind NOT IN ({})", placeholders(1 + case_ids.len(), skip.len()))
        };
        let sql = format!(
            "SELECT id, case_id, at, kind, actor, text FROM case_events WHERE id IN \
             (SELECT MAX(id) FROM case_events WHERE case_id IN ({}){skip_clause} GROUP BY case_id)",
            placeholders(1, case_ids.len()),
        );
        let mut query = sqlx::query(&sql);
        for id in case_ids {
            query = query.bind(*id);
        }
        for kind in skip {
            query = query.bind(kind.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(CaseEventRow::from_row).collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(4, 2), "$4, $5");
        assert_eq!(placeholders(1, 0), "");
    }
}
