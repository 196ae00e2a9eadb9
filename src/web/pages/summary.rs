//! Counts and server rows from the live fleet, each built in ONE pass over
//! [`Fleet::entries`]: totals per state, per-service counts, and the rows a table shows, worst
//! state first. Only copies of statuses are taken, so the probe path is never held up.

use std::collections::HashMap;

use crate::domain::ServerState;
use crate::fleet::{Fleet, FleetEntry};
use crate::tracker::Status;

/// The order tables and counts list states in: what needs attention first.
pub const WORST_FIRST: [ServerState; 5] =
    [ServerState::Down, ServerState::Failing, ServerState::Maintenance, ServerState::Unknown, ServerState::Up];

fn rank(state: ServerState) -> usize {
    WORST_FIRST.iter().position(|s| *s == state).unwrap_or(WORST_FIRST.len())
}

/// Servers per state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts([usize; 5]);

impl Counts {
    pub fn add(&mut self, state: ServerState) {
        if let Some(n) = self.0.get_mut(rank(state)) {
            *n += 1;
        }
    }

    pub fn get(&self, state: ServerState) -> usize {
        self.0.get(rank(state)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    pub fn not_up(&self) -> usize {
        self.total() - self.get(ServerState::Up)
    }
}

/// One server as a table shows it.
pub struct Row<'f> {
    pub entry: &'f FleetEntry,
    pub status: Status,
}

/// Per-state counts of a whole fleet or one customer, per service, plus the wanted rows.
#[derive(Default)]
pub struct Summary<'f> {
    pub totals: Counts,
    /// customer id → service id → counts.
    services: HashMap<&'f str, HashMap<&'f str, Counts>>,
    /// The selected rows, worst state first, then in config order.
    pub rows: Vec<Row<'f>>,
}

impl<'f> Summary<'f> {
    /// One pass over the fleet. `customer` limits everything to one customer; `keep` says
    /// which servers become rows.
    pub fn of(fleet: &'f Fleet, customer: Option<&str>, keep: impl Fn(&Status) -> bool) -> Summary<'f> {
        let mut summary = Summary::default();
        for entry in fleet.entries() {
            if customer.is_some_and(|c| c != &*entry.customer) {
                continue;
            }
            let status = entry.status();
            summary.totals.add(status.state);
            summary.count(entry, status.state);
            if keep(&status) {
                summary.rows.push(Row { entry, status });
            }
        }
        // A stable sort keeps config order within a state.
        summary.rows.sort_by_key(|row| rank(row.status.state));
        summary
    }

    fn count(&mut self, entry: &'f FleetEntry, state: ServerState) {
        self.services.entry(&*entry.customer).or_default().entry(&*entry.service).or_default().add(state);
    }

    /// The counts of one service (zero when it has no server).
    pub fn service(&self, customer: &str, service: &str) -> Counts {
        self.services.get(customer).and_then(|s| s.get(service)).copied().unwrap_or_default()
    }

    /// The counts of one customer over all its services.
    pub fn customer(&self, customer: &str) -> Counts {
        let mut total = Counts::default();
        for counts in self.services.get(customer).into_iter().flat_map(|s| s.values()) {
            for (t, n) in total.0.iter_mut().zip(counts.0) {
                *t += n;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_state() {
        let mut c = Counts::default();
        for s in [ServerState::Up, ServerState::Up, ServerState::Down, ServerState::Unknown] {
            c.add(s);
        }
        assert_eq!((c.get(ServerState::Up), c.get(ServerState::Down), c.total(), c.not_up()), (2, 1, 4, 2));
        assert!(rank(ServerState::Down) < rank(ServerState::Failing));
    }
}
