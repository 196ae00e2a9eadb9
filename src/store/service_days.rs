//! Per-service daily totals (`service_days`), what the uptime bars read: one row per service
//! and UTC day whatever the number of servers. Written with the hourly roll-ups they are
//! summed from, in the same transaction; filled once from the roll-ups of an older database.
//!
//! Not here: drawing the bars (`web::pages::uptime`).

use std::collections::BTreeMap;

use sqlx::{Any, Row, Transaction};

use super::tracking::multi_row_insert;
use super::views::DAY_MS;
use super::{Backend, RollupDelta, Store, StoreError};

/// One service's probes and failures over one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDay {
    pub customer: String,
    pub service: String,
    /// Unix ms of the day's start (00:00 UTC).
    pub day: i64,
    pub probes: i64,
    pub failures: i64,
}

const ROWS_PER_STATEMENT: usize = 500;

/// Sum `deltas` per service and day (those without a service are left out).
fn per_service_day<'a>(deltas: impl Iterator<Item = (&'a str, &'a str, i64, i64, i64)>) -> Vec<ServiceDay> {
    let mut sums: BTreeMap<(&str, &str, i64), (i64, i64)> = BTreeMap::new();
    for (customer, service, hour, probes, failures) in deltas {
        if customer.is_empty() || service.is_empty() {
            continue;
        }
        let sum = sums.entry((customer, service, hour - hour.rem_euclid(DAY_MS))).or_default();
        sum.0 += probes;
        sum.1 += failures;
    }
    sums.into_iter()
        .map(|((customer, service, day), (probes, failures))| ServiceDay {
            customer: customer.to_string(),
            service: service.to_string(),
            day,
            probes,
            failures,
        })
        .collect()
}

/// Add `rows` to the stored totals.
async fn add(tx: &mut Transaction<'static, Any>, backend: Backend, rows: &[ServiceDay]) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let cols = ["customer", "service", "day", "probes", "failures"];
        let mut sql = multi_row_insert(backend, "service_days", &cols, chunk.len());
        sql.push_str(
            " ON CONFLICT (customer, service, day) DO UPDATE SET probes = service_days.probes + excluded.probes, \
             failures = service_days.failures + excluded.failures",
        );
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query =
                query.bind(r.customer.as_str()).bind(r.service.as_str()).bind(r.day).bind(r.probes).bind(r.failures);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Add the roll-up deltas of a batch to their services' days (in the batch's transaction).
pub(super) async fn add_rollups(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    rollups: &[RollupDelta],
) -> Result<(), StoreError> {
    let rows = per_service_day(rollups.iter().map(|r| (&*r.customer, &*r.service, r.hour, r.probes, r.failures)));
    add(tx, backend, &rows).await
}

impl Store {
    /// Every service's totals of the days in `[from, until)`.
    pub async fn service_days(&self, from: i64, until: i64) -> Result<Vec<ServiceDay>, StoreError> {
        let rows = sqlx::query(
            "SELECT customer, service, day, probes, failures FROM service_days WHERE day >= $1 AND day < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ServiceDay {
                    customer: row.try_get("customer")?,
                    service: row.try_get("service")?,
                    day: row.try_get("day")?,
                    probes: row.try_get("probes")?,
                    failures: row.try_get("failures")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// A database from before `service_days` has roll-ups but no service totals: sum them
    /// once, per the service `service_of` each server id belongs to now. Does nothing when
    /// any service total exists. Returns the rows written.
    pub async fn fill_service_days(
        &self,
        service_of: impl Fn(&str) -> Option<(String, String)>,
    ) -> Result<usize, StoreError> {
        let any: Option<i64> =
            sqlx::query("SELECT day FROM service_days LIMIT 1").fetch_optional(&self.pool).await?.map(|r| r.get(0));
        if any.is_some() {
            return Ok(0);
        }
        let days = self.daily_rollups(i64::MIN, i64::MAX).await?;
        let named: Vec<(String, String, i64, i64, i64)> = days
            .into_iter()
            .filter_map(|d| service_of(&d.server_id).map(|(c, s)| (c, s, d.day, d.probes, d.failures)))
            .collect();
        let rows = per_service_day(named.iter().map(|(c, s, day, p, f)| (c.as_str(), s.as_str(), *day, *p, *f)));
        let mut tx = self.begin_write().await?;
        add(&mut tx, self.backend, &rows).await?;
        tx.commit().await?;
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_summed_per_service_and_utc_day() {
        let hour = 3_600_000;
        let rows = per_service_day(
            [
                ("acme", "web", 2 * hour, 4, 1),
                ("acme", "web", 23 * hour, 4, 0),
                ("acme", "web", DAY_MS + hour, 2, 2),
                ("acme", "api", hour, 1, 0),
                ("", "", hour, 9, 9),
            ]
            .into_iter(),
        );
        let got: Vec<(&str, i64, i64, i64)> =
            rows.iter().map(|r| (r.service.as_str(), r.day, r.probes, r.failures)).collect();
        assert_eq!(got, [("api", 0, 1, 0), ("web", 0, 8, 1), ("web", DAY_MS, 2, 2)]);
    }
}
