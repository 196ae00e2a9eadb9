//! Counts and server rows from the live fleet: totals per state and per service from the
//! fleet's per-service counts (kept with every status change, so no server is visited to
//! count), and the rows a table shows, worst state first, from the services that have any.
//! O(services + rows), not O(fleet), and no map is built per view. Only copies of statuses are taken, so the probe path is
//! never held up.

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
    /// The first `n` servers not up, worst state first (the operations page): only services
    /// with a server in a state that still has room are visited, so a mass outage costs
    /// O(services + n), not O(fleet).
    WorstFirst(usize),
}

/// One server as a table shows it.
pub struct Row<'f> {
    pub entry: &'f FleetEntry,
    pub status: Status,
}

/// Per-state counts of a whole fleet or one customer, and the wanted rows. The counts of a
/// service or customer are looked up in the fleet when asked for (a page asks for the few it
/// shows), so a summary costs O(services) atomic reads plus its rows, and no map is built.
pub struct Summary<'f> {
    fleet: &'f Fleet,
    pub totals: Counts,
    /// The selected rows, worst state first, then in config order.
    pub rows: Vec<Row<'f>>,
}

impl<'f> Summary<'f> {
    /// The counts of the whole fleet, or of `customer`'s servers only, and the rows `rows`
    /// asks for.
    pub fn of(fleet: &'f Fleet, customer: Option<&str>, rows: Rows) -> Summary<'f> {
        let services: Vec<usize> = match customer {
            Some(customer) => fleet.customer_services(customer).map(|(_, idx)| idx).collect(),
            None => (0..fleet.services().len()).collect(),
        };
        let mut totals = Counts::default();
        // Rows per state (by rank), each in config order.
        let mut buckets: [Vec<Row<'f>>; 5] = Default::default();
        // Would a row of rank `r` still be among the first `n`?
        let room = |buckets: &[Vec<Row<'f>>; 5], r: usize| match rows {
            Rows::All => true,
            Rows::WorstFirst(n) => buckets[..=r].iter().map(Vec::len).sum::<usize>() < n,
        };
        for service in services.into_iter().filter_map(|idx| fleet.services().get(idx)) {
            let counts = Counts::of(&service.counts);
            totals.plus(counts);
            let wanted = |buckets: &[Vec<Row<'f>>; 5]| {
                WORST_FIRST.iter().enumerate().any(|(r, &state)| {
                    counts.get(state) > 0 && (rows == Rows::All || state != ServerState::Up) && room(buckets, r)
                })
            };
            if !wanted(&buckets) {
                continue;
            }
            for &slot in &service.members {
                let Some(entry) = fleet.entry(slot) else { continue };
                let state = entry.with_status(|s| s.state);
                let r = rank(state);
                if (rows == Rows::All || state != ServerState::Up) && r < buckets.len() && room(&buckets, r) {
                    buckets[r].push(Row { entry, status: entry.status() });
                }
            }
        }
        let mut rows_of = buckets.into_iter().flatten().collect::<Vec<_>>();
        if let Rows::WorstFirst(n) = rows {
            rows_of.truncate(n);
        }
        Summary { fleet, totals, rows: rows_of }
    }

    /// The counts of one service now (zero when it has no server).
    pub fn service(&self, customer: &str, service: &str) -> Counts {
        let idx = self.fleet.service_index(customer, service);
        idx.and_then(|idx| self.fleet.services().get(idx)).map(|s| Counts::of(&s.counts)).unwrap_or_default()
    }

    /// The counts of one customer over all its services now.
    pub fn customer(&self, customer: &str) -> Counts {
        let mut total = Counts::default();
        for (_, idx) in self.fleet.customer_services(customer) {
            if let Some(service) = self.fleet.services().get(idx) {
                total.plus(Counts::of(&service.counts));
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

    #[test]
    fn counts_come_from_the_services_and_rows_are_the_worst_first_up_to_the_limit() {
        let mut text = String::new();
        for (customer, service, servers) in [("acme", "web", 3), ("acme", "api", 2), ("globex", "db", 2)] {
            if service != "api" {
                text.push_str(&format!("[[customers]]\nid = \"{customer}\"\n"));
            }
            text.push_str(&format!("[[customers.services]]\nid = \"{service}\"\n"));
            for i in 0..servers {
                text.push_str(&format!(
                    "[[customers.services.servers]]\nid = \"{service}-{i}\"\ntarget = \"tcp://127.0.0.1:9\"\n"
                ));
            }
        }
        let config = crate::config::Config::from_toml(&text, |_| None).unwrap_or_else(|e| panic!("{e}"));
        let fleet = Fleet::new(&config, Vec::new(), 0);
        let states = [
            ("web-0", ServerState::Up),
            ("web-1", ServerState::Failing),
            ("web-2", ServerState::Up),
            ("api-0", ServerState::Up),
            ("api-1", ServerState::Up),
            ("db-0", ServerState::Down),
        ];
        for (id, state) in states {
            fleet.update(fleet.get(id).expect("server"), |s| s.state = state);
        }
        let ids = |s: &Summary<'_>| s.rows.iter().map(|r| r.entry.id.to_string()).collect::<Vec<_>>();
        let all = Summary::of(&fleet, None, Rows::WorstFirst(10));
        assert_eq!(ids(&all), ["db-0", "web-1", "db-1"], "down, failing, unknown; none up");
        assert_eq!((all.totals.total(), all.totals.not_up()), (7, 3));
        assert_eq!(all.service("acme", "web").get(ServerState::Up), 2);
        assert_eq!(all.customer("acme").total(), 5);
        let two = Summary::of(&fleet, None, Rows::WorstFirst(2));
        assert_eq!(ids(&two), ["db-0", "web-1"], "the limit keeps the worst");
        assert_eq!(two.totals.not_up(), 3, "counts are whole whatever the limit");
        let acme = Summary::of(&fleet, Some("acme"), Rows::All);
        assert_eq!(ids(&acme), ["web-1", "web-0", "web-2", "api-0", "api-1"], "a customer's: all, worst first");
        assert_eq!(acme.totals.total(), 5);
    }
}
