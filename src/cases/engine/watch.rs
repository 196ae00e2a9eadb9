//! What the sweep reads each second, kept so the work follows what changed rather than the
//! fleet's size: the latest case of every service (only the cases written since the last look
//! are read, with a whole read now and then), the maintenance windows added at run time (only
//! those added since), and which services to look at (those with an active case and those the
//! fleet marked because a server went down; every service now and then).
//!
//! Not here: what the sweep decides (`reconcile.rs`).

use std::collections::{BTreeSet, HashMap};

use crate::fleet::Fleet;
use crate::store::{CaseRow, MaintenanceRow, Store, StoreError};

/// Rows written this long before the last look are read again: longer than any transaction
/// that writes a case, so one committed late is still seen.
const WRITE_MARGIN_MS: i64 = 60_000;
/// Every this many sweeps, the latest cases are read whole and every service is looked at.
pub(super) const WHOLE_EVERY: u64 = 60;

/// The latest case of each service (customer, service), as last read.
#[derive(Debug, Default)]
pub(super) struct LatestCases {
    by_service: HashMap<(String, String), CaseRow>,
    /// The database's clock at the last read.
    watermark: Option<i64>,
    rounds: u64,
}

impl LatestCases {
    /// Read what changed since the last look (everything, the first time and every
    /// [`WHOLE_EVERY`] rounds). Returns whether this was a whole read.
    pub async fn refresh(&mut self, store: &Store) -> Result<bool, StoreError> {
        self.rounds = self.rounds.wrapping_add(1);
        let since = match self.watermark {
            Some(w) if !self.rounds.is_multiple_of(WHOLE_EVERY) => Some(w.saturating_sub(WRITE_MARGIN_MS)),
            _ => None,
        };
        let (rows, now) = store.cases_written_since(since).await?;
        if since.is_none() {
            self.by_service.clear();
        }
        for row in rows {
            let key = (row.customer.clone(), row.service.clone());
            match self.by_service.get(&key) {
                Some(known) if known.id > row.id => {}
                _ => {
                    self.by_service.insert(key, row);
                }
            }
        }
        self.watermark = Some(now);
        Ok(since.is_none())
    }

    pub fn get(&self, customer: &str, service: &str) -> Option<&CaseRow> {
        // Keys are owned; a look-up clones two short strings, once per service looked at.
        self.by_service.get(&(customer.to_string(), service.to_string()))
    }

    /// Every active case.
    pub fn active(&self) -> impl Iterator<Item = &CaseRow> {
        self.by_service.values().filter(|c| c.status.is_active())
    }
}

/// The services the sweep looks at now, in fleet order: those with an active case, those the
/// fleet marked, or (`whole`) all of them. The marks are taken here, before any state is read.
pub(super) fn to_look_at(fleet: &Fleet, latest: &LatestCases, whole: bool) -> Vec<usize> {
    if whole {
        fleet.attention().take();
        return (0..fleet.services().len()).collect();
    }
    let mut look: BTreeSet<usize> = BTreeSet::new();
    for (customer, service) in fleet.attention().take() {
        look.extend(fleet.service_index(&customer, &service));
    }
    for case in latest.active() {
        look.extend(fleet.service_index(&case.customer, &case.service));
    }
    look.into_iter().collect()
}

/// The maintenance windows added at run time that have not ended.
#[derive(Debug, Default)]
pub(super) struct StoredWindows {
    rows: Vec<MaintenanceRow>,
    last_id: i64,
}

impl StoredWindows {
    /// Read the windows added since the last look; forget those ended before `now`.
    pub async fn refresh(&mut self, store: &Store, now: i64) -> Result<&[MaintenanceRow], StoreError> {
        let added = store.maintenance_windows_after(self.last_id).await?;
        if let Some(last) = added.last() {
            self.last_id = last.id;
        }
        self.rows.extend(added);
        self.rows.retain(|w| w.end_at > now);
        Ok(&self.rows)
    }
}
