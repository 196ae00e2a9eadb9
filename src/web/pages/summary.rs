//! Counts and server rows from the live fleet: totals per state and per service from the
//! fleet's per-service counts (kept with every status change, so no server is visited to
//! count), and the rows a table shows, worst state first, from the services that have any.
//! O(services + rows), not O(fleet). Only copies of statuses are taken, so the probe path is
//! never held up.

use std::collections::HashMap;

use crate::domain::ServerState;
use crate::fleet::{Fleet, FleetEntry, StateCounts};
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
    #[cfg(test)]
    fn add(&mut self, state: ServerState) {
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

    fn of(counts: &StateCounts) -> Counts {
        let mut of = Counts::default();
        for state in ServerState::ALL {
            if let Some(n) = of.0.get_mut(rank(state)) {
                *n += counts.get(state);
            }
        }
        of
    }

    fn plus(&mut self, other: Counts) {
        for (t, n) in self.0.iter_mut().zip(other.0) {
            *t += n;
        }
    }
}

/// Which servers become rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Every server (a customer's page).
    All,
    /// The servers not up (the operations page): only services with one are visited.
    NotUp,
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
    /// The counts of the whole fleet, or of `customer`'s servers only, and the rows `rows`
    /// asks for.
    pub fn of(fleet: &'f Fleet, customer: Option<&str>, rows: Rows) -> Summary<'f> {
        let mut summary = Summary::default();
        let services: Vec<usize> = match customer {
            Some(customer) => fleet.customer_services(customer).map(|(_, idx)| idx).collect(),
            None => (0..fleet.services().len()).collect(),
        };
        for service in services.into_iter().filter_map(|idx| fleet.services().get(idx)) {
            let counts = Counts::of(&service.counts);
            if counts.total() == 0 {
                continue;
            }
            summary.totals.plus(counts);
            summary.services.entry(&*service.customer).or_default().insert(&*service.service, counts);
            if rows == Rows::NotUp && counts.not_up() == 0 {
                continue;
            }
            for &slot in &service.members {
                let Some(entry) = fleet.entry(slot) else { continue };
                let status = entry.status();
                if rows == Rows::All || status.state != ServerState::Up {
                    summary.rows.push(Row { entry, status });
                }
            }
        }
        // A stable sort keeps config order within a state.
        summary.rows.sort_by_key(|row| rank(row.status.state));
        summary
    }

    /// The counts of one service (zero when it has no server).
    pub fn service(&self, customer: &str, service: &str) -> Counts {
        self.services.get(customer).and_then(|s| s.get(service)).copied().unwrap_or_default()
    }

    /// The counts of one customer over all its services.
    pub fn customer(&self, customer: &str) -> Counts {
        let mut total = Counts::default();
        for counts in self.services.get(customer).into_iter().flat_map(|s| s.values()) {
            total.plus(*counts);
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
