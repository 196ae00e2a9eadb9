//! 90-day uptime per service, from the per-service day totals (`Store::service_days`: one row
//! per service and UTC day, whatever the number of servers).
//!
//! Finished days do not change, so they are kept in memory per running app until the date
//! moves on; only today's totals are queried again, at most every [`TODAY_TTL`], in the
//! background while the last ones are shown. A cold start or a new day makes one query over
//! all 90 days. The cache lives in the app's `PageCache`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::views::DAY_MS;
use crate::store::{ServiceDay, StoreError};
use crate::web::AppState;

/// Days in a bar, today included.
pub const DAYS: usize = 90;

/// How long today's totals are reused.
const TODAY_TTL: Duration = Duration::from_secs(15);

/// Probes and failures of one service over one day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DayTotal {
    pub probes: i64,
    pub failures: i64,
}

impl DayTotal {
    /// Percent of probes that succeeded; `None` without probes.
    pub fn uptime(&self) -> Option<f64> {
        (self.probes > 0).then(|| {
            let ok = (self.probes - self.failures.clamp(0, self.probes)) as f64;
            ok * 100.0 / self.probes as f64
        })
    }
}

/// customer id → service id → one total per day from `first_day`.
#[derive(Debug, Default)]
struct Totals {
    map: HashMap<String, HashMap<String, Vec<DayTotal>>>,
}

impl Totals {
    /// Place `rows` per service and day, for `days` days from `first_day`.
    fn sum<'a>(rows: impl Iterator<Item = &'a ServiceDay>, first_day: i64, days: usize) -> Totals {
        let mut map: HashMap<String, HashMap<String, Vec<DayTotal>>> = HashMap::new();
        for row in rows {
            let offset = row.day - first_day;
            if offset < 0 || offset % DAY_MS != 0 {
                continue;
            }
            let Some(index) = usize::try_from(offset / DAY_MS).ok().filter(|&i| i < days) else { continue };
            let services = match map.get_mut(&row.customer) {
                Some(services) => services,
                None => map.entry(row.customer.clone()).or_default(),
            };
            let totals = match services.get_mut(&row.service) {
                Some(totals) => totals,
                None => services.entry(row.service.clone()).or_insert_with(|| vec![DayTotal::default(); days]),
            };
            totals[index].probes += row.probes;
            totals[index].failures += row.failures;
        }
        Totals { map }
    }

    fn get(&self, customer: &str, service: &str) -> Option<&[DayTotal]> {
        self.map.get(customer).and_then(|s| s.get(service)).map(Vec::as_slice)
    }
}

/// The bars of every service for one page view.
pub struct Bars {
    /// Unix ms of the first (oldest) day.
    pub first_day: i64,
    past: Arc<Totals>,
    today: Arc<Totals>,
}

impl Bars {
    /// One total per day, oldest first, [`DAYS`] of them.
    pub fn service(&self, customer: &str, service: &str) -> Vec<DayTotal> {
        let mut days = vec![DayTotal::default(); DAYS];
        if let Some(past) = self.past.get(customer, service) {
            days[..past.len()].copy_from_slice(past);
        }
        if let Some(today) = self.today.get(customer, service) {
            days[DAYS - today.len()..].copy_from_slice(today);
        }
        days
    }
}

pub struct Cached {
    first_day: i64,
    past: Arc<Totals>,
    today: Arc<Totals>,
    today_at: Instant,
    /// A background query of today's totals is under way (since then).
    refreshing: Option<Instant>,
}

/// A background refresh of today's totals not finished within this long is tried again.
const REFRESH_GIVE_UP: Duration = Duration::from_secs(30);

/// The bars for now: cached finished days, and today's totals at most [`TODAY_TTL`] old. Once
/// today's totals are older, they are still used while one background query reads them
/// afresh (a query of every service's day takes tens of milliseconds at 10,000 services, more
/// than a page view should wait); only a cold start or a new day waits for the query.
pub async fn bars(state: &AppState) -> Result<Bars, StoreError> {
    let now = state.clock.now_ms();
    let today_start = now - now.rem_euclid(DAY_MS);
    let first_day = today_start - (DAYS as i64 - 1) * DAY_MS;
    let cached = {
        let mut cache = state.pages.uptime.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match cache.as_mut() {
            Some(c) if c.first_day == first_day => {
                let stale = c.today_at.elapsed() >= TODAY_TTL;
                let idle = c.refreshing.is_none_or(|since| since.elapsed() >= REFRESH_GIVE_UP);
                let refresh = stale && idle;
                if refresh {
                    c.refreshing = Some(Instant::now());
                }
                Some((Bars { first_day, past: c.past.clone(), today: c.today.clone() }, refresh))
            }
            _ => None,
        }
    };
    if let Some((bars, refresh)) = cached {
        if refresh {
            let state = state.clone();
            tokio::spawn(async move {
                let today = state.store.service_days(today_start, today_start + DAY_MS).await;
                let mut cache = state.pages.uptime.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let Some(c) = cache.as_mut().filter(|c| c.first_day == first_day) else { return };
                c.refreshing = None;
                match today {
                    Ok(rows) => {
                        c.today = Arc::new(Totals::sum(rows.iter(), today_start, 1));
                        c.today_at = Instant::now();
                    }
                    Err(error) => tracing::warn!(%error, "cannot read today's uptime totals"),
                }
            });
        }
        return Ok(bars);
    }
    let rows = state.store.service_days(first_day, today_start + DAY_MS).await?;
    let (done, current): (Vec<&ServiceDay>, Vec<&ServiceDay>) = rows.iter().partition(|r| r.day < today_start);
    let past = Arc::new(Totals::sum(done.into_iter(), first_day, DAYS - 1));
    let today = Arc::new(Totals::sum(current.into_iter(), today_start, 1));
    *state.pages.uptime.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Cached {
        first_day,
        past: past.clone(),
        today: today.clone(),
        today_at: Instant::now(),
        refreshing: None,
    });
    Ok(Bars { first_day, past, today })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_the_share_of_good_probes() {
        assert_eq!(DayTotal::default().uptime(), None);
        assert_eq!(DayTotal { probes: 4, failures: 1 }.uptime(), Some(75.0));
        assert_eq!(DayTotal { probes: 4, failures: 9 }.uptime(), Some(0.0));
    }
}
