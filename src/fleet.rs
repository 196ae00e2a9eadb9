//! The live view of every monitored server: what config says about it and its current
//! tracking status. Shared (`Arc<Fleet>`, through `live::Live`) between the scheduler, which
//! updates statuses, and the web layer, which reads them. Each status has its own uncontended
//! mutex, so readers never hold up the probe path for more than a copy.
//!
//! A reload or an inventory change builds the next fleet with [`Fleet::rebuild`]: a server
//! whose id and target are unchanged keeps its status cell (the same `Arc`), so its count,
//! phase and state go on whatever part still holds the former fleet for a moment; a changed
//! target gets a fresh cell; a removed server's cell is retired (no longer counted).
//!
//! Not here: swapping fleets (`live`), re-keying the scheduler's queue (`scheduler`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::{Config, ProbeSettings, ServerRole};
use crate::domain::{ServerState, Target};
use crate::store::StoredStatus;
use crate::tracker::Status;

#[derive(Debug)]
pub struct FleetEntry {
    pub id: String,
    /// Shared by every server of the service.
    pub customer: Arc<str>,
    pub service: Arc<str>,
    pub role: ServerRole,
    /// Shared with the config's server.
    pub target: Arc<Target>,
    /// Shared with the config's server (and so with the service's servers without overrides).
    pub settings: Arc<ProbeSettings>,
    /// Index into [`Fleet::services`]: the service this server belongs to.
    pub service_idx: usize,
    /// Its shard (`domain::shard`): the instance holding that shard's lease probes it.
    pub shard: u8,
    status: Arc<Mutex<Tracked>>,
}

/// A status and whether it is counted in its fleet's [`StateCounts`] (false once retired by
/// a rebuild that removed or re-targeted the server), under one lock so the two never part.
#[derive(Debug)]
struct Tracked {
    status: Status,
    counted: bool,
}

impl FleetEntry {
    /// A copy of the current status.
    pub fn status(&self) -> Status {
        self.lock().status.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Read the status under its lock without copying it (for scans over many servers).
    pub fn with_status<R>(&self, f: impl FnOnce(&Status) -> R) -> R {
        f(&self.lock().status)
    }

    /// Whether `other` is this very server's status cell (kept across a rebuild).
    pub fn same_cell(&self, other: &FleetEntry) -> bool {
        Arc::ptr_eq(&self.status, &other.status)
    }

    /// Change the status under its lock, keeping `counts` (its fleet's) in step and marking
    /// its service for the sweep when it goes down.
    fn update_counted<R>(&self, counts: &StateCounts, attention: &Attention, f: impl FnOnce(&mut Status) -> R) -> R {
        let mut tracked = self.lock();
        let before = tracked.status.state;
        let result = f(&mut tracked.status);
        if tracked.counted && tracked.status.state != before {
            counts.moved(before, tracked.status.state);
        }
        if tracked.status.state == ServerState::Down && before != ServerState::Down {
            attention.mark(&self.customer, &self.service);
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
    pub customer: Arc<str>,
    pub service: Arc<str>,
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

    fn add(&self, state: ServerState) {
        self.0[Self::slot(state)].fetch_add(1, Ordering::Relaxed);
    }

    fn remove(&self, state: ServerState) {
        self.0[Self::slot(state)].fetch_sub(1, Ordering::Relaxed);
    }

    /// Servers in `state` now.
    pub fn get(&self, state: ServerState) -> usize {
        self.0[Self::slot(state)].load(Ordering::Relaxed)
    }
}

/// The services (by customer and service id, which outlive a rebuild) with a server that went
/// down since the case engine's sweep last looked at them: the sweep looks at these and at the
/// services with an active case, not at the whole fleet. A service is marked after its server's
/// state is `down`, and the sweep takes the marks before it reads the states, so no outage is
/// missed between the two; the sweep marks again every service it still finds down.
#[derive(Debug, Default)]
pub struct Attention(Mutex<HashSet<(Arc<str>, Arc<str>)>>);

impl Attention {
    pub fn mark(&self, customer: &Arc<str>, service: &Arc<str>) {
        let mut marked = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        marked.insert((customer.clone(), service.clone()));
    }

    /// Every mark, cleared.
    pub fn take(&self) -> Vec<(Arc<str>, Arc<str>)> {
        let mut marked = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        marked.drain().collect()
    }
}

/// What a [`Fleet::rebuild`] changed, for the timeline and the log.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: usize,
    /// Servers whose target changed: (id, former target, new target). They count afresh.
    pub retargeted: Vec<(String, Target, Target)>,
    /// Ids of servers no longer in the inventory.
    pub removed: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.retargeted.is_empty() && self.removed.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct Fleet {
    /// Shared by every generation of the fleet: a kept cell moves the one set of counts.
    counts: Arc<StateCounts>,
    /// Shared by every generation too.
    attention: Arc<Attention>,
    /// Raised by each rebuild; indexes into one generation mean nothing in another.
    generation: u64,
    entries: Vec<FleetEntry>,
    by_id: HashMap<String, usize>,
    services: Vec<ServiceMembers>,
    service_by_id: HashMap<(String, String), usize>,
}

impl Fleet {
    /// Every configured server, continuing from its persisted status where there is one.
    pub fn new(config: &Config, stored: Vec<StoredStatus>, now_ms: i64) -> Fleet {
        let mut stored: HashMap<String, StoredStatus> = stored.into_iter().map(|s| (s.server_id.clone(), s)).collect();
        Fleet::assemble(config, Arc::default(), Arc::default(), 0, |f| {
            let status = stored.remove(&f.server.id).map(restore).unwrap_or_else(|| Status::new(now_ms));
            Arc::new(Mutex::new(Tracked { status, counted: false }))
        })
    }

    /// The fleet `config` describes, continuing from this one: an unchanged server (same id
    /// and target) keeps its status cell; a changed target starts counting afresh (its `seq`
    /// goes on, so the store takes the fresh status); a new server starts `unknown`. Cells
    /// left behind are retired from the counts.
    pub fn rebuild(&self, config: &Config, now_ms: i64) -> (Fleet, Changes) {
        let mut changes = Changes::default();
        let next = Fleet::assemble(config, self.counts.clone(), self.attention.clone(), self.generation + 1, |f| {
            let Some(old) = self.get(&f.server.id) else {
                changes.added += 1;
                return Arc::new(Mutex::new(Tracked { status: fresh(now_ms, 0), counted: false }));
            };
            if old.target == f.server.target {
                return old.status.clone();
            }
            changes.retargeted.push((old.id.clone(), (*old.target).clone(), (*f.server.target).clone()));
            let status = fresh(now_ms, old.with_status(|s| s.seq) + 1);
            Arc::new(Mutex::new(Tracked { status, counted: false }))
        });
        for old in &self.entries {
            if next.get(&old.id).is_some_and(|e| e.same_cell(old)) {
                continue;
            }
            if next.get(&old.id).is_none() {
                changes.removed.push(old.id.clone());
            }
            let mut tracked = old.lock();
            if std::mem::replace(&mut tracked.counted, false) {
                self.counts.remove(tracked.status.state);
            }
        }
        (next, changes)
    }

    /// Build the fleet of `config`, taking each server's cell from `cell`; cells not yet
    /// counted are counted in `counts`; the services of servers down are marked for the sweep.
    fn assemble(
        config: &Config,
        counts: Arc<StateCounts>,
        attention: Arc<Attention>,
        generation: u64,
        mut cell: impl FnMut(&crate::config::FleetServer<'_>) -> Arc<Mutex<Tracked>>,
    ) -> Fleet {
        let mut services: Vec<ServiceMembers> = Vec::new();
        let mut service_by_id: HashMap<(String, String), usize> = HashMap::new();
        let entries: Vec<FleetEntry> = config
            .fleet()
            .enumerate()
            .map(|(idx, f)| {
                let key = (f.customer.id.clone(), f.service.id.clone());
                let service_idx = *service_by_id.entry(key).or_insert_with(|| {
                    services.push(ServiceMembers {
                        customer: Arc::from(f.customer.id.as_str()),
                        service: Arc::from(f.service.id.as_str()),
                        members: Vec::new(),
                    });
                    services.len() - 1
                });
                let members = &mut services[service_idx];
                members.members.push(idx);
                FleetEntry {
                    id: f.server.id.clone(),
                    customer: members.customer.clone(),
                    service: members.service.clone(),
                    role: f.server.role,
                    target: f.server.target.clone(),
                    settings: f.server.probe.clone(),
                    service_idx,
                    shard: crate::domain::shard::shard_of(&f.server.id),
                    status: cell(&f),
                }
            })
            .collect();
        let by_id = entries.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
        for entry in &entries {
            let mut tracked = entry.lock();
            if !std::mem::replace(&mut tracked.counted, true) {
                counts.add(tracked.status.state);
            }
            if tracked.status.state == ServerState::Down {
                attention.mark(&entry.customer, &entry.service);
            }
        }
        Fleet { counts, attention, generation, entries, by_id, services, service_by_id }
    }

    /// Make sure a fresh cell (a re-targeted server's) supersedes what its former cell wrote
    /// after the rebuild read it: its `seq` goes past `former`'s (the scheduler, on adopting).
    pub(crate) fn supersede(&self, entry: &FleetEntry, former: &FleetEntry) {
        let floor = former.with_status(|s| s.seq) + 1;
        entry.update_counted(&self.counts, &self.attention, |status| status.seq = status.seq.max(floor));
    }

    /// Which rebuild this is (0 at start).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Change a server's status under its lock (the scheduler counting a result).
    pub(crate) fn update<R>(&self, entry: &FleetEntry, f: impl FnOnce(&mut Status) -> R) -> R {
        entry.update_counted(&self.counts, &self.attention, f)
    }

    /// Take the stored status as the server's current one (a shard taken over, or the view of
    /// a server another instance probes).
    pub(crate) fn restore(&self, entry: &FleetEntry, stored: StoredStatus) {
        entry.update_counted(&self.counts, &self.attention, |status| *status = restore(stored));
    }

    /// The services marked for the sweep.
    pub fn attention(&self) -> &Attention {
        &self.attention
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

/// The status of a server counted afresh (new, or with a new target). Its `seq` starts at the
/// clock's milliseconds (or `floor`, if later): far past any row a former server of the same id
/// left in the store (one result per request, requests seconds apart), so the store, which keeps
/// only a newer `seq`, takes the fresh status.
fn fresh(now_ms: i64, floor: u64) -> Status {
    let mut status = Status::new(now_ms);
    status.seq = u64::try_from(now_ms).unwrap_or(0).max(floor);
    status
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

    #[test]
    fn a_server_going_down_marks_its_service_for_the_sweep_in_every_generation() {
        let text = "[[customers]]\nid = \"acme\"\n[[customers.services]]\nid = \"web\"\n\
                    [[customers.services.servers]]\nid = \"a\"\ntarget = \"tcp://127.0.0.1:9\"\n\
                    [[customers.services]]\nid = \"api\"\n\
                    [[customers.services.servers]]\nid = \"b\"\ntarget = \"tcp://127.0.0.1:9\"\n";
        let config = Config::from_toml(text, |_| None).unwrap_or_else(|e| panic!("{e}"));
        let marks = |fleet: &Fleet| -> Vec<(String, String)> {
            fleet.attention().take().into_iter().map(|(c, s)| (c.to_string(), s.to_string())).collect()
        };
        let fleet = Fleet::new(&config, Vec::new(), 0);
        assert!(marks(&fleet).is_empty(), "nothing down, nothing to look at");
        let (a, b) = (&fleet.entries()[0], &fleet.entries()[1]);
        fleet.update(b, |s| s.state = ServerState::Failing);
        fleet.update(a, |s| s.state = ServerState::Down);
        fleet.update(a, |s| s.consecutive_failures = 9);
        assert_eq!(marks(&fleet), [("acme".to_string(), "web".to_string())], "once, on the way down");
        assert!(marks(&fleet).is_empty(), "taken");
        let mut stored = b.stored();
        stored.state = ServerState::Down;
        fleet.restore(b, stored.clone());
        assert_eq!(marks(&fleet), [("acme".to_string(), "api".to_string())], "a restore marks too");
        // A rebuild marks every service with a server down; a start from stored statuses too.
        let (next, _) = fleet.rebuild(&config, 5);
        let mut marked = marks(&next);
        marked.sort();
        assert_eq!(marked, [("acme".to_string(), "api".to_string()), ("acme".to_string(), "web".to_string())]);
        let restarted = Fleet::new(&config, vec![stored], 0);
        assert_eq!(marks(&restarted), [("acme".to_string(), "api".to_string())]);
    }

    #[test]
    fn a_rebuild_keeps_unchanged_cells_counts_afresh_on_a_new_target_and_retires_the_removed() {
        let server = |id: &str, port: u16| {
            format!("[[customers.services.servers]]\nid = \"{id}\"\ntarget = \"tcp://127.0.0.1:{port}\"\n")
        };
        let config = |servers: &[String]| {
            let text =
                format!("[[customers]]\nid = \"acme\"\n[[customers.services]]\nid = \"web\"\n{}", servers.concat());
            Config::from_toml(&text, |_| None).unwrap_or_else(|e| panic!("{e}"))
        };
        let counts = |fleet: &Fleet| ServerState::ALL.map(|s| fleet.counts().get(s));
        let fleet = Fleet::new(&config(&[server("a", 9), server("b", 9), server("c", 9)]), Vec::new(), 0);
        for (i, state) in [ServerState::Down, ServerState::Up, ServerState::Failing].into_iter().enumerate() {
            fleet.update(&fleet.entries()[i], |s| {
                s.state = state;
                s.consecutive_failures = 4;
                s.seq = 7;
            });
        }
        // a unchanged, b re-targeted, c removed, d new.
        let (next, changes) = fleet.rebuild(&config(&[server("a", 9), server("b", 10), server("d", 9)]), 5);
        assert_eq!(next.get("d").map(|d| d.status().seq), Some(5), "a new server's seq starts at the clock");
        assert_eq!(next.generation(), 1);
        assert_eq!((changes.added, changes.removed.as_slice()), (1, ["c".to_string()].as_slice()));
        assert_eq!(changes.retargeted.len(), 1);
        let (a, b) = (next.get("a").expect("a"), next.get("b").expect("b"));
        assert!(a.same_cell(&fleet.entries()[0]) && a.status().consecutive_failures == 4, "a keeps its count");
        let fresh = b.status();
        assert_eq!(
            (fresh.state, fresh.consecutive_failures, fresh.seq),
            (ServerState::Unknown, 0, 8),
            "b afresh, seq on"
        );
        assert_eq!(counts(&next), [2, 0, 0, 1, 0], "a down; b and d unknown; c no longer counted");
        // The former fleet's cells: a kept one still moves the shared counts, a retired one not.
        fleet.update(&fleet.entries()[0], |s| s.state = ServerState::Up);
        fleet.update(&fleet.entries()[2], |s| s.state = ServerState::Up);
        assert_eq!(counts(&next), [2, 1, 0, 0, 0]);
    }
}
