//! Scheduled maintenance windows: while one covers a server (directly or through its
//! customer), the server's state is `maintenance`; failures are still counted but open no case.

use std::sync::{Arc, RwLock};

use crate::clock::unix_ms;
use crate::config::{MaintenanceScope, MaintenanceWindow};

/// The windows known now, shared by the scheduler (state `maintenance`), the case engine (no
/// page inside a window) and the API (adds windows). A plain lock, held only for a lookup or a
/// swap and never across an `await`, so the scheduler's step never waits on it.
pub type SharedWindows = Arc<RwLock<Windows>>;

/// Does a window cover `server` of `customer` at `at`?
pub fn covers(shared: &SharedWindows, customer: &str, server: &str, at: i64) -> bool {
    shared.read().unwrap_or_else(|poisoned| poisoned.into_inner()).covers(customer, server, at)
}

/// Replace every window at once (the engine's reload).
pub fn replace(shared: &SharedWindows, windows: Windows) {
    *shared.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = windows;
}

/// Add one window stored at run time.
pub fn add(shared: &SharedWindows, row: &crate::store::MaintenanceRow) {
    shared.write().unwrap_or_else(|poisoned| poisoned.into_inner()).add(row);
}

/// The windows known now. Built from config; run-time windows are added by the API.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<(MaintenanceScope, i64, i64)>,
}

impl Windows {
    pub fn from_config(windows: &[MaintenanceWindow]) -> Windows {
        Windows { windows: windows.iter().map(|w| (w.scope.clone(), unix_ms(w.start), unix_ms(w.end))).collect() }
    }

    /// Add a window stored at run time (API or CLI).
    pub fn add(&mut self, row: &crate::store::MaintenanceRow) {
        let scope = match (&row.customer, &row.server) {
            (_, Some(server)) => MaintenanceScope::Server(server.clone()),
            (Some(customer), None) => MaintenanceScope::Customer(customer.clone()),
            (None, None) => return,
        };
        self.windows.push((scope, row.start_at, row.end_at));
    }

    /// Is `server` of `customer` inside a window at `at` (Unix ms)? Start inclusive, end exclusive.
    pub fn covers(&self, customer: &str, server: &str, at: i64) -> bool {
        self.windows.iter().any(|(scope, start, end)| {
            let matches = match scope {
                MaintenanceScope::Customer(id) => id == customer,
                MaintenanceScope::Server(id) => id == server,
            };
            matches && *start <= at && at < *end
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix_ms;

    #[test]
    fn a_window_covers_its_scope_from_start_to_just_before_end() {
        let windows = Windows::from_config(&[
            MaintenanceWindow {
                scope: MaintenanceScope::Customer("acme".into()),
                start: from_unix_ms(100),
                end: from_unix_ms(200),
                reason: None,
            },
            MaintenanceWindow {
                scope: MaintenanceScope::Server("globex-1".into()),
                start: from_unix_ms(300),
                end: from_unix_ms(400),
                reason: None,
            },
        ]);
        assert!(windows.covers("acme", "acme-eu-1", 100));
        assert!(!windows.covers("acme", "acme-eu-1", 200));
        assert!(!windows.covers("globex", "globex-2", 350));
        assert!(windows.covers("globex", "globex-1", 350));
    }
}
