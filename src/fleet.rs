//! The live view of every monitored server: what config says about it and its current
//! tracking status. Shared (`Arc<Fleet>`) between the scheduler, which updates statuses, and
//! the web layer, which reads them. Each status has its own uncontended mutex, so readers never
//! hold up the probe path for more than a copy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::config::{Config, ProbeSettings, ServerRole};
use crate::domain::{ServerState, Target};
use crate::store::StoredStatus;
use crate::tracker::Status;

#[derive(Debug)]
pub struct FleetEntry {
    pub id: String,
    pub customer: String,
    pub service: String,
    pub role: ServerRole,
    pub target: Target,
    pub settings: ProbeSettings,
    /// Index into [`Fleet::services`]: the service this server belongs to.
    pub service_idx: usize,
    /// Its shard (`domain::shard`): the instance holding that shard's lease probes it.
    pub shard: u8,
    status: Mutex<Status>,
}

impl FleetEntry {
    /// A copy of the current status.
    pub fn status(&self) -> Status {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Read the status under its lock without copying it (for scans over many servers).
    pub fn with_status<R>(&self, f: impl FnOnce(&Status) -> R) -> R {
        f(&self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Change the status under its lock, keeping `counts` (its fleet's) in step.
    fn update_counted<R>(&self, counts: &StateCounts, f: impl FnOnce(&mut Status) -> R) -> R {
        let mut status = self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = status.state;
        let result = f(&mut status);
        if status.state != before {
            counts.moved(before, status.state);
        }
        result
    }

    /// The status in its persisted form.
    pub fn stored(&self) -> StoredStatus {
        let s = self.status();
        StoredStatus {
            server_id: self.id.clone(),
            state: s.state,
            consecutive_failures: i64::from(s.consecutive_failures),
            consecutive_successes: i64::from(s.consecutive_successes),
            confirmed_down: s.confirmed_down,
            last_error: s.last_error,
            last_probe_at: s.last_probe_at,
            state_since: s.state_since,
            seq: i64::try_from(s.seq).unwrap_or(i64::MAX),
        }
    }
}

/// One service and its servers, so per-service decisions never scan the whole fleet.
#[derive(Debug)]
pub struct ServiceMembers {
    pub customer: String,
    pub service: String,
    /// Indexes into [`Fleet::entries`].
    pub members: Vec<usize>,
}

/// How many servers are in each state, kept in step with every status change, so the guard
/// asks "how many are failing?" in O(1) instead of scanning the fleet.
#[derive(Debug, Default)]
pub struct StateCounts([AtomicUsize; ServerState::ALL.len()]);

impl StateCounts {
    fn slot(state: ServerState) -> usize {
        ServerState::ALL.iter().position(|s| *s == state).unwrap_or(0)
    }

    fn moved(&self, from: ServerState, to: ServerState) {
        self.0[Self::slot(from)].fetch_sub(1, Ordering::Relaxed);
        self.0[Self::slot(to)].fetch_add(1, Ordering::Relaxed);
    }

    /// Servers in `state` now.
    pub fn get(&self, state: ServerState) -> usize {
        self.0[Self::slot(state)].load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Fleet {
    counts: StateCounts,
    entries: Vec<FleetEntry>,
    by_id: HashMap<String, usize>,
    services: Vec<ServiceMembers>,
    service_by_id: HashMap<(String, String), usize>,
}

impl Fleet {
    /// Every configured server, continuing from its persisted status where there is one.
    pub fn new(config: &Config, stored: Vec<StoredStatus>, now_ms: i64) -> Fleet {
        let mut stored: HashMap<String, StoredStatus> = stored.into_iter().map(|s| (s.server_id.clone(), s)).collect();
        let mut services: Vec<ServiceMembers> = Vec::new();
        let mut service_by_id: HashMap<(String, String), usize> = HashMap::new();
        let entries: Vec<FleetEntry> = config
            .fleet()
            .enumerate()
            .map(|(idx, f)| {
                let status = stored.remove(&f.server.id).map(restore).unwrap_or_else(|| Status::new(now_ms));
                let key = (f.customer.id.clone(), f.service.id.clone());
                let service_idx = *service_by_id.entry(key).or_insert_with(|| {
                    services.push(ServiceMembers {
                        customer: f.customer.id.clone(),
                        service: f.service.id.clone(),
                        members: Vec::new(),
                    });
                    services.len() - 1
                });
                services[service_idx].members.push(idx);
                FleetEntry {
                    id: f.server.id.clone(),
                    customer: f.customer.id.clone(),
                    service: f.service.id.clone(),
                    role: f.server.role,
                    target: f.server.target.clone(),
                    settings: f.server.probe.clone(),
                    service_idx,
                    shard: crate::domain::shard::shard_of(&f.server.id),
                    status: Mutex::new(status),
                }
            })
            .collect();
        let by_id = entries.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
        let counts = StateCounts::default();
        for entry in &entries {
            counts.0[StateCounts::slot(entry.with_status(|s| s.state))].fetch_add(1, Ordering::Relaxed);
        }
        Fleet { counts, entries, by_id, services, service_by_id }
    }

    /// Change a server's status under its lock (the scheduler counting a result).
    pub(crate) fn update<R>(&self, entry: &FleetEntry, f: impl FnOnce(&mut Status) -> R) -> R {
        entry.update_counted(&self.counts, f)
    }

    /// Take the stored status as the server's current one (a shard taken over, or the view of
    /// a server another instance probes).
    pub(crate) fn restore(&self, entry: &FleetEntry, stored: StoredStatus) {
        entry.update_counted(&self.counts, |status| *status = restore(stored));
    }

    /// How many servers are in each state now.
    pub fn counts(&self) -> &StateCounts {
        &self.counts
    }

    /// Every service with its servers, in config order.
    pub fn services(&self) -> &[ServiceMembers] {
        &self.services
    }

    /// The index of a service in [`Fleet::services`].
    pub fn service_index(&self, customer: &str, service: &str) -> Option<usize> {
        self.service_by_id.get(&(customer.to_string(), service.to_string())).copied()
    }

    /// The servers of one service.
    pub fn members(&self, service_idx: usize) -> impl Iterator<Item = &FleetEntry> {
        self.services.get(service_idx).into_iter().flat_map(|s| s.members.iter().map(|&i| &self.entries[i]))
    }

    pub fn entries(&self) -> &[FleetEntry] {
        &self.entries
    }

    /// Where the server is in [`Fleet::entries`].
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn get(&self, id: &str) -> Option<&FleetEntry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn restore(s: StoredStatus) -> Status {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Status {
        state: s.state,
        consecutive_failures: count(s.consecutive_failures),
        consecutive_successes: count(s.consecutive_successes),
        confirmed_down: s.confirmed_down,
        last_error: s.last_error,
        last_probe_at: s.last_probe_at,
        state_since: s.state_since,
        seq: u64::try_from(s.seq.max(0)).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_counts_follow_every_update_and_restore() {
        let text = "[[customers]]\nid = \"acme\"\n[[customers.services]]\nid = \"web\"\n\
                    [[customers.services.servers]]\nid = \"a\"\ntarget = \"tcp://127.0.0.1:9\"\n\
                    [[customers.services.servers]]\nid = \"b\"\ntarget = \"tcp://127.0.0.1:9\"\n";
        let config = Config::from_toml(text, |_| None).unwrap_or_else(|e| panic!("{e}"));
        let fleet = Fleet::new(&config, Vec::new(), 0);
        let counts = |fleet: &Fleet| ServerState::ALL.map(|s| fleet.counts().get(s));
        assert_eq!(counts(&fleet), [2, 0, 0, 0, 0], "both unknown");
        let (a, b) = (&fleet.entries()[0], &fleet.entries()[1]);
        fleet.update(a, |s| s.state = ServerState::Down);
        fleet.update(b, |s| s.state = ServerState::Up);
        fleet.update(b, |s| s.consecutive_failures = 0);
        assert_eq!(counts(&fleet), [0, 1, 0, 1, 0]);
        let mut stored = a.stored();
        stored.state = ServerState::Failing;
        fleet.restore(a, stored);
        assert_eq!(counts(&fleet), [0, 1, 1, 0, 0], "a restore moves the counts too");
    }
}
